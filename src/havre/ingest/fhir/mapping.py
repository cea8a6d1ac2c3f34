"""A hospital's FHIR export to OMOP CDM v5.4, as SQL over the resolved resources.

Patient → person (+ location: the commune found from postal code and city; the address itself
never enters the lake), death; Encounter → visit_occurrence; Condition → condition_occurrence;
Observation → measurement (numeric values, blood pressure components) or observation (coded
values); MedicationRequest → drug_exposure; Procedure → procedure_occurrence; Organization →
care_site; observation_period ← first to last event of each person in the export.
"""

from __future__ import annotations

from havre.cdm import concepts as c
from havre.cdm.omop import omop_table
from havre.cdm.vocabulary import location_sql
from havre.ingest.context import IngestContext
from havre.ingest.fhir.resolve import reference_key
from havre.ingest.model import LOADED

VISIT_CLASS = (
    f"CASE upper(e.class) WHEN 'IMP' THEN {c.VISIT_INPATIENT} WHEN 'ACUTE' THEN "
    f"{c.VISIT_INPATIENT} WHEN 'NONAC' THEN {c.VISIT_INPATIENT} WHEN 'AMB' THEN "
    f"{c.VISIT_OUTPATIENT} WHEN 'VR' THEN {c.VISIT_OUTPATIENT} WHEN 'EMER' THEN "
    f"{c.VISIT_EMERGENCY} WHEN 'HH' THEN {c.VISIT_HOME} ELSE {c.UNMAPPED} END"
)
ENCOUNTER_END = 'coalesce(e."end", e.start)'
ENCOUNTER_EVENTS = ("Condition", "MedicationRequest", "Procedure", "Observation")
"""Resources whose ``encounter`` becomes their ``visit_occurrence_id``."""
FHIR_GENDER = "CASE p.gender WHEN 'male' THEN 8507 WHEN 'female' THEN 8532 ELSE 0 END"


def visit_join(alias: str) -> str:
    """SQL: the loaded Encounter an event names, if it is the same patient's (``ek``)."""
    key = reference_key(f"{alias}.encounter", "Encounter")
    return f"LEFT JOIN encounter_keys AS ek ON ek.ref = {key} AND ek.person_id = {alias}.person_id"


def _date(expr: str) -> str:
    return f"TRY_CAST({expr} AS DATE)"


# the accented capitals of Latin-1, each with its letter: French place names need no more,
# and a table reads the same on both engines (Spark has no strip_accents)
ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝŸ"
UNACCENTED = "AAAAAACEEEEIIIINOOOOOUUUUYY"


def _name(expr: str) -> str:
    """SQL: a place name compared without case, accents, hyphens or apostrophes."""
    spaced = f"replace(replace(trim({expr}), '-', ' '), '''', ' ')"
    return f"translate(upper({spaced}), '{ACCENTED}', '{UNACCENTED}')"


def build_outputs(ctx: IngestContext) -> None:
    ids = ctx.ids
    _communes(ctx)
    _keys(ctx)
    person = omop_table("person")
    ctx.outputs["person"] = f"""
        SELECT {
        person.select_list(
            {
                "person_id": "p.person_id",
                "gender_concept_id": FHIR_GENDER,
                "year_of_birth": "year(TRY_CAST(p.birthDate AS DATE))",
                "month_of_birth": "month(TRY_CAST(p.birthDate AS DATE))",
                "race_concept_id": str(c.UNMAPPED),
                "ethnicity_concept_id": str(c.UNMAPPED),
                "location_id": "pc.location_id",
                "gender_source_value": "p.gender",
                "hub_pseudonym": "p.hub_pseudonym",
            }
        )
    }
        FROM res_Patient AS p LEFT JOIN patient_communes AS pc ON pc.pos = p.pos
        WHERE p.status = '{LOADED}'"""

    ctx.outputs["location"] = location_sql(
        "loc.location_id IN (SELECT location_id FROM patient_communes)"
    )

    death = omop_table("death")
    ctx.outputs["death"] = f"""
        SELECT {
        death.select_list(
            {
                "person_id": "p.person_id",
                "death_date": _date("p.deceasedDateTime"),
                "death_type_concept_id": str(c.TYPE_EHR),
            }
        )
    }
        FROM res_Patient AS p
        WHERE p.status = '{LOADED}' AND p.deceasedDateTime IS NOT NULL"""

    visit = omop_table("visit_occurrence")
    ctx.outputs["visit_occurrence"] = f"""
        SELECT {
        visit.select_list(
            {
                "visit_occurrence_id": ids.sql("e.pos"),
                "person_id": "e.person_id",
                "visit_concept_id": VISIT_CLASS,
                "visit_start_date": _date("e.start"),
                "visit_end_date": _date(ENCOUNTER_END),
                "visit_type_concept_id": str(c.TYPE_EHR),
                "care_site_id": "cs.care_site_id",
                "visit_source_value": "e.class",
            }
        )
    }
        FROM res_Encounter AS e
        LEFT JOIN care_sites AS cs ON cs.ref = {reference_key("e.serviceProvider", "Organization")}
        WHERE e.status = '{LOADED}'"""

    condition = omop_table("condition_occurrence")
    ctx.outputs["condition_occurrence"] = f"""
        SELECT {
        condition.select_list(
            {
                "condition_occurrence_id": ids.sql("x.pos"),
                "person_id": "x.person_id",
                "condition_concept_id": str(c.UNMAPPED),
                "condition_start_date": _date("x.onset"),
                "condition_end_date": _date("x.abatement"),
                "condition_type_concept_id": str(c.TYPE_EHR),
                "visit_occurrence_id": ids.sql("ek.pos"),
                "condition_source_value": "coalesce(x.icd10, x.code)",
                "condition_status_source_value": "x.clinical_status",
            }
        )
    }
        FROM res_Condition AS x {visit_join("x")}
        WHERE x.status = '{LOADED}'"""

    drug = omop_table("drug_exposure")
    ctx.outputs["drug_exposure"] = f"""
        SELECT {
        drug.select_list(
            {
                "drug_exposure_id": ids.sql("x.pos"),
                "person_id": "x.person_id",
                "drug_concept_id": str(c.UNMAPPED),
                "drug_exposure_start_date": _date("x.authoredOn"),
                "drug_exposure_end_date": _date("x.authoredOn"),
                "drug_type_concept_id": str(c.TYPE_EHR),
                "quantity": "TRY_CAST(x.quantity AS DOUBLE)",
                "visit_occurrence_id": ids.sql("ek.pos"),
                "drug_source_value": "coalesce(x.atc, x.code)",
            }
        )
    }
        FROM res_MedicationRequest AS x {visit_join("x")}
        WHERE x.status = '{LOADED}'"""

    procedure = omop_table("procedure_occurrence")
    ctx.outputs["procedure_occurrence"] = f"""
        SELECT {
        procedure.select_list(
            {
                "procedure_occurrence_id": ids.sql("x.pos"),
                "person_id": "x.person_id",
                "procedure_concept_id": str(c.UNMAPPED),
                "procedure_date": _date("x.performed"),
                "procedure_end_date": _date("x.performed_end"),
                "procedure_type_concept_id": str(c.TYPE_EHR),
                "visit_occurrence_id": ids.sql("ek.pos"),
                "procedure_source_value": "x.code",
            }
        )
    }
        FROM res_Procedure AS x {visit_join("x")}
        WHERE x.status = '{LOADED}'"""

    measurement = omop_table("measurement")

    def measured(sub: int, value: str, code: str, unit: str) -> str:
        return f"""
        SELECT {
            measurement.select_list(
                {
                    "measurement_id": ids.sql("x.pos", sub),
                    "person_id": "x.person_id",
                    "measurement_concept_id": str(c.UNMAPPED),
                    "measurement_date": _date("x.effective"),
                    "measurement_type_concept_id": str(c.TYPE_EHR),
                    "value_as_number": f"TRY_CAST({value} AS DOUBLE)",
                    "visit_occurrence_id": ids.sql("ek.pos"),
                    "measurement_source_value": code,
                    "unit_source_value": unit,
                }
            )
        }
        FROM res_Observation AS x {visit_join("x")}
        WHERE x.status = '{LOADED}' AND {value} IS NOT NULL"""

    ctx.outputs["measurement"] = " UNION ALL ".join(
        [
            measured(0, "x.value", "coalesce(x.loinc, x.code)", "x.unit"),
            measured(1, "x.systolic", "'8480-6'", "'mm[Hg]'"),
            measured(2, "x.diastolic", "'8462-4'", "'mm[Hg]'"),
        ]
    )

    observation = omop_table("observation")
    ctx.outputs["observation"] = f"""
        SELECT {
        observation.select_list(
            {
                "observation_id": ids.sql("x.pos", 3),
                "person_id": "x.person_id",
                "observation_concept_id": str(c.UNMAPPED),
                "observation_date": _date("x.effective"),
                "observation_type_concept_id": str(c.TYPE_EHR),
                "visit_occurrence_id": ids.sql("ek.pos"),
                "observation_source_value": "coalesce(x.loinc, x.code)",
                "value_source_value": "x.value_code",
            }
        )
    }
        FROM res_Observation AS x {visit_join("x")}
        WHERE x.status = '{LOADED}' AND x.value IS NULL
          AND x.systolic IS NULL AND x.diastolic IS NULL"""

    events = " UNION ALL ".join(
        f"SELECT person_id, {_date(start)} AS d, {_date(stop)} AS e FROM res_{table} "
        f"WHERE status = '{LOADED}'"
        for table, start, stop in (
            ("Encounter", "start", 'coalesce("end", start)'),
            ("Condition", "onset", "onset"),
            ("MedicationRequest", "authoredOn", "authoredOn"),
            ("Observation", "effective", "effective"),
            ("Procedure", "performed", "coalesce(performed_end, performed)"),
        )
    )
    period = omop_table("observation_period")
    ctx.outputs["observation_period"] = f"""
        SELECT {
        period.select_list(
            {
                "observation_period_id": ids.sql("p.pos", 4),
                "person_id": "p.person_id",
                "observation_period_start_date": "s.first_date",
                "observation_period_end_date": "s.last_date",
                "period_type_concept_id": str(c.TYPE_EHR),
            }
        )
    }
        FROM res_Patient AS p
        JOIN (SELECT person_id, min(d) AS first_date, max(coalesce(e, d)) AS last_date
              FROM ({events}) GROUP BY person_id) AS s ON s.person_id = p.person_id
        WHERE p.status = '{LOADED}'"""

    care_site = omop_table("care_site")
    ctx.outputs["care_site"] = f"""
        SELECT {
        care_site.select_list(
            {
                "care_site_id": "care_site_id",
                "care_site_name": "name",
                "care_site_source_value": "source_value",
            }
        )
    }
        FROM (SELECT DISTINCT care_site_id, name, source_value FROM care_sites)"""
    ctx.step("mapped to OMOP CDM v5.4 (person, visits, conditions, drugs, measurements)")


def _communes(ctx: IngestContext) -> None:
    """The commune of each loaded Patient, from postal code (département) and city name;
    ambiguous or unknown places get none."""
    dept = (
        "CASE WHEN substr(p.postalCode, 1, 2) = '97' THEN substr(p.postalCode, 1, 3) "
        "WHEN substr(p.postalCode, 1, 2) = '20' THEN "
        "CASE WHEN TRY_CAST(p.postalCode AS INTEGER) < 20200 THEN '2A' ELSE '2B' END "
        "ELSE substr(p.postalCode, 1, 2) END"
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE patient_communes AS
        SELECT p.pos, min(loc.location_id) AS location_id
        FROM res_Patient AS p
        JOIN commune_locations AS loc
          ON loc.departement = {dept} AND {_name("loc.name")} = {_name("p.city")}
        WHERE p.status = '{LOADED}' AND p.postalCode IS NOT NULL AND p.city IS NOT NULL
        GROUP BY p.pos HAVING count(*) = 1
        """
    )


def _keys(ctx: IngestContext) -> None:
    ctx.execute(
        f"""
        CREATE TEMP TABLE encounter_keys AS
        SELECT ref, min(pos) AS pos, min(person_id) AS person_id FROM (
            SELECT id AS ref, pos, person_id FROM res_Encounter WHERE status = '{LOADED}'
            UNION ALL
            SELECT full_url, pos, person_id FROM res_Encounter
            WHERE status = '{LOADED}' AND full_url IS NOT NULL
        ) WHERE ref IS NOT NULL GROUP BY ref
        """
    )
    # an event naming an Encounter not loaded (or another patient's) keeps no visit
    ctx.note_unlinked(
        {
            resource: f"SELECT count(*) FROM res_{resource} AS x {visit_join('x')} "
            f"WHERE x.status = '{LOADED}' AND x.encounter IS NOT NULL AND ek.ref IS NULL"
            for resource in ENCOUNTER_EVENTS
        },
        "an Encounter",
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE care_sites AS
        SELECT k.ref, o.care_site_id, o.name, o.source_value
        FROM (
            SELECT pos, name, coalesce(finess, id) AS source_value,
                   row_number() OVER (ORDER BY coalesce(finess, id), pos) AS care_site_id
            FROM res_Organization WHERE status = '{LOADED}'
        ) AS o
        JOIN (
            SELECT id AS ref, pos FROM res_Organization WHERE status = '{LOADED}'
            UNION ALL
            SELECT full_url, pos FROM res_Organization
            WHERE status = '{LOADED}' AND full_url IS NOT NULL
        ) AS k ON k.pos = o.pos
        WHERE k.ref IS NOT NULL
        """
    )
