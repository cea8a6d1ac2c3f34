"""SNDS claims to OMOP CDM v5.4, as SQL over the resolved tables (loaded records only).

- person ← IR_BEN_R; location ← communes of residence; observation_period ← coverage start
  (BEN_DTE_INS) to death or the last event of the delivery;
- visit_occurrence ← ER_PRS_F lines (outpatient; pharmacy / laboratory when the line is a
  dispensing or a lab act) and PMSI MCO stays (T_MCOyyC + B: inpatient);
- condition_occurrence ← DGN_PAL / DGN_REL (B), ASS_DGN (D), long-term conditions (IR_IMB_R);
- drug_exposure ← ER_PHA_F (ATC); measurement ← ER_BIO_F (NABM act, no result in claims);
- observation ← CMU-C / C2S coverage (BEN_CMU_TOP); death ← KI_CCI_R, else BEN_DCD_DTE;
- care_site ← FINESS numbers of stays and claim lines.
"""

from __future__ import annotations

from havre.cdm import concepts as c
from havre.cdm.omop import omop_table
from havre.cdm.vocabulary import location_sql
from havre.ingest.context import IngestContext
from havre.ingest.model import LOADED

# ``claim_kinds`` holds one row per 2^KIND_SHIFT line positions, a bit for each in a BIGINT
# (a left shift into the sign bit overflows in DuckDB, so 32 bits, not 64)
KIND_SHIFT = 5


def _loaded(table: str, alias: str = "t") -> str:
    """SQL FROM clause: the loaded records of a resolved table, as ``alias``."""
    return f"res_{table} AS {alias} WHERE {alias}.status = '{LOADED}'"


def _bit(position: str) -> str:
    """SQL: the bit of a claim line's position in its row of ``claim_kinds`` (a BIGINT)."""
    return f"(CAST(1 AS BIGINT) << CAST({position} & {(1 << KIND_SHIFT) - 1} AS INTEGER))"


def _date(expr: str) -> str:
    return f"TRY_CAST({expr} AS DATE)"


def build_outputs(ctx: IngestContext, pmsi: bool) -> None:
    """``pmsi``: the delivery has hospital stays (``res_T_MCO_B``, ``_C``, ``_D``: every year)."""
    ids = ctx.ids
    _care_sites(ctx, pmsi)
    if pmsi:
        stays = f"""SELECT cc.pos, cc.person_id, cc.ETA_NUM, cc.EXE_SOI_DTD, cc.EXE_SOI_DTF,
                   b.GRG_GHM, b.ENT_MOD, b.SOR_MOD
            FROM res_T_MCO_C AS cc
            LEFT JOIN (SELECT * FROM {_loaded("T_MCO_B")}) AS b
              ON b.mco_year = cc.mco_year AND b.ETA_NUM = cc.ETA_NUM AND b.RSA_NUM = cc.RSA_NUM
            WHERE cc.status = '{LOADED}'"""
    else:
        stays = (
            "SELECT CAST(NULL AS BIGINT) AS pos, CAST(NULL AS BIGINT) AS person_id, "
            "CAST(NULL AS VARCHAR) AS ETA_NUM, CAST(NULL AS VARCHAR) AS EXE_SOI_DTD, "
            "CAST(NULL AS VARCHAR) AS EXE_SOI_DTF, CAST(NULL AS VARCHAR) AS GRG_GHM, "
            "CAST(NULL AS VARCHAR) AS ENT_MOD, CAST(NULL AS VARCHAR) AS SOR_MOD WHERE false"
        )
    ctx.execute(f"CREATE TEMP VIEW snds_stays AS {stays}")
    end = ctx.engine.scalar(
        f"""SELECT max(d) FROM (
                SELECT max(TRY_CAST(coalesce(EXE_SOI_DTF, EXE_SOI_DTD) AS DATE)) AS d
                FROM {_loaded("ER_PRS_F")}
                UNION ALL SELECT max(TRY_CAST(EXE_SOI_DTF AS DATE)) FROM snds_stays)"""
    )
    last = f"DATE '{(end or ctx.today).isoformat()}'"

    person = omop_table("person")
    ctx.outputs["person"] = f"""
        SELECT {
        person.select_list(
            {
                "person_id": "p.person_id",
                "gender_concept_id": c.gender_sql("p.BEN_SEX_COD"),
                "year_of_birth": "TRY_CAST(p.BEN_NAI_ANN AS INTEGER)",
                "month_of_birth": "TRY_CAST(p.BEN_NAI_MOI AS INTEGER)",
                "race_concept_id": str(c.UNMAPPED),
                "ethnicity_concept_id": str(c.UNMAPPED),
                "location_id": "loc.location_id",
                "gender_source_value": "p.BEN_SEX_COD",
                "hub_pseudonym": "p.hub_pseudonym",
            }
        )
    }
        FROM res_IR_BEN_R AS p
        LEFT JOIN commune_locations AS loc ON loc.code = upper(p.BEN_RES_COM)
        WHERE p.status = '{LOADED}'"""

    ctx.outputs["location"] = location_sql(
        f"loc.code IN (SELECT upper(BEN_RES_COM) FROM {_loaded('IR_BEN_R')})"
    )

    period = omop_table("observation_period")
    death_date = f"coalesce({_date('d.BEN_DCD_DTE')}, {_date('p.BEN_DCD_DTE')})"
    start = f"coalesce({_date('p.BEN_DTE_INS')}, first.first_date, {last})"
    stop = f"least(coalesce({death_date}, {last}), {last})"
    ctx.outputs["observation_period"] = f"""
        SELECT {
        period.select_list(
            {
                "observation_period_id": ids.sql("p.pos"),
                "person_id": "p.person_id",
                "observation_period_start_date": start,
                "observation_period_end_date": stop,
                "period_type_concept_id": str(c.TYPE_CLAIM),
            }
        )
    }
        FROM res_IR_BEN_R AS p
        LEFT JOIN (SELECT person_id, BEN_DCD_DTE FROM {_loaded("KI_CCI_R")}) AS d
          ON d.person_id = p.person_id
        LEFT JOIN (
            SELECT person_id, min(TRY_CAST(EXE_SOI_DTD AS DATE)) AS first_date
            FROM {_loaded("ER_PRS_F")} GROUP BY person_id
        ) AS first ON first.person_id = p.person_id
        WHERE p.status = '{LOADED}' AND {start} <= {stop}"""

    visit = omop_table("visit_occurrence")
    # what a claim line dispensed (a lab act wins over drugs), as bits: its drugs and lab acts
    # carry its position, and each run of 32 positions (2^KIND_SHIFT) is one row with a bit
    # per line for each kind. The lines look up one row per 32 of them (1.3M at 1M persons), a
    # hash table that stays in the caches, not one row per claim that had any (23M): the
    # visits' mapping took 11.2 s there, 6.7 s so. Joined as written: the engine, which cannot
    # tell how many loaded lines pass the status filter, would build the hash table on them
    ctx.execute(
        f"""
        CREATE TEMP TABLE claim_kinds AS
        SELECT claim_pos >> {KIND_SHIFT} AS word,
               bit_or({_bit("claim_pos")}) FILTER (WHERE kind = 1) AS lab,
               bit_or({_bit("claim_pos")}) FILTER (WHERE kind = 2) AS drug
        FROM (
            SELECT claim_pos, 1 AS kind FROM {_loaded("ER_BIO_F")}
            UNION ALL SELECT claim_pos, 2 AS kind FROM {_loaded("ER_PHA_F")}
        ) GROUP BY word
        """
    )
    kind = (
        f"CASE WHEN coalesce(v.PSE_SPE_COD, '0') <> '0' THEN {c.VISIT_OUTPATIENT} "
        f"WHEN (ck.lab & {_bit('v.pos')}) <> 0 THEN {c.VISIT_LABORATORY} "
        f"WHEN (ck.drug & {_bit('v.pos')}) <> 0 THEN {c.VISIT_PHARMACY} "
        f"ELSE {c.VISIT_OUTPATIENT} END"
    )
    ctx.joins_as_written.add("visit_occurrence")
    ctx.outputs["visit_occurrence"] = f"""
        SELECT {
        visit.select_list(
            {
                "visit_occurrence_id": ids.sql("v.pos"),
                "person_id": "v.person_id",
                "visit_concept_id": kind,
                "visit_start_date": _date("v.EXE_SOI_DTD"),
                "visit_end_date": _date("coalesce(v.EXE_SOI_DTF, v.EXE_SOI_DTD)"),
                "visit_type_concept_id": str(c.TYPE_CLAIM),
                "care_site_id": "cs.care_site_id",
                "visit_source_value": "v.PRS_NAT_REF",
                "specialty_source_value": "v.PSE_SPE_COD",
            }
        )
    }
        FROM res_ER_PRS_F AS v
        LEFT JOIN care_sites AS cs ON cs.code = v.ETB_EXE_FIN
        LEFT JOIN claim_kinds AS ck ON ck.word = v.pos >> {KIND_SHIFT}
        WHERE v.status = '{LOADED}'
        UNION ALL
        SELECT {
        visit.select_list(
            {
                "visit_occurrence_id": ids.sql("s.pos"),
                "person_id": "s.person_id",
                "visit_concept_id": str(c.VISIT_INPATIENT),
                "visit_start_date": _date("s.EXE_SOI_DTD"),
                "visit_end_date": _date("s.EXE_SOI_DTF"),
                "visit_type_concept_id": str(c.TYPE_CLAIM),
                "care_site_id": "cs.care_site_id",
                "visit_source_value": "s.GRG_GHM",
                "admitted_from_source_value": "s.ENT_MOD",
                "discharged_to_source_value": "s.SOR_MOD",
            }
        )
    }
        FROM snds_stays AS s
        LEFT JOIN care_sites AS cs ON cs.code = s.ETA_NUM"""

    condition = omop_table("condition_occurrence")

    def diagnosis(source: str, code: str, status: str, sub: int) -> str:
        return f"""
        SELECT {
            condition.select_list(
                {
                    "condition_occurrence_id": ids.sql("x.pos", sub),
                    "person_id": "x.person_id",
                    "condition_concept_id": str(c.UNMAPPED),
                    "condition_start_date": _date("x.stay_start"),
                    "condition_end_date": _date("x.stay_end"),
                    "condition_type_concept_id": str(c.TYPE_CLAIM),
                    "visit_occurrence_id": ids.sql("x.stay_pos"),
                    "condition_source_value": f"upper(x.{code})",
                    "condition_status_source_value": f"'{status}'",
                }
            )
        }
        FROM {source} AS x WHERE x.status = '{LOADED}' AND x.{code} IS NOT NULL"""

    parts = []
    if pmsi:
        parts.append(diagnosis("res_T_MCO_B", "DGN_PAL", "DP", 0))
        parts.append(diagnosis("res_T_MCO_B", "DGN_REL", "DR", 1))
        parts.append(diagnosis("res_T_MCO_D", "ASS_DGN", "DA", 0))
    parts.append(f"""
        SELECT {
        condition.select_list(
            {
                "condition_occurrence_id": ids.sql("a.pos"),
                "person_id": "a.person_id",
                "condition_concept_id": str(c.UNMAPPED),
                "condition_start_date": _date("a.IMB_ALD_DTD"),
                "condition_end_date": _date("a.IMB_ALD_DTF"),
                "condition_type_concept_id": str(c.TYPE_CLAIM),
                "condition_source_value": "upper(a.MED_MTF_COD)",
                "condition_status_source_value": "'ALD' || a.IMB_ALD_NUM",
            }
        )
    }
        FROM {_loaded("IR_IMB_R", "a")}
          AND a.MED_MTF_COD IS NOT NULL""")
    ctx.outputs["condition_occurrence"] = " UNION ALL ".join(parts)

    drug = omop_table("drug_exposure")
    ctx.outputs["drug_exposure"] = f"""
        SELECT {
        drug.select_list(
            {
                "drug_exposure_id": ids.sql("d.pos"),
                "person_id": "d.person_id",
                "drug_concept_id": str(c.UNMAPPED),
                "drug_exposure_start_date": _date("d.claim_start"),
                "drug_exposure_end_date": _date("d.claim_start"),
                "drug_type_concept_id": str(c.TYPE_CLAIM),
                "quantity": "TRY_CAST(d.PHA_ACT_QSN AS DOUBLE)",
                "visit_occurrence_id": ids.sql("d.claim_pos"),
                "drug_source_value": "upper(d.PHA_ATC_C07)",
                "drug_cip13": "d.PHA_PRS_C13",
            }
        )
    }
        FROM {_loaded("ER_PHA_F", "d")}"""

    measurement = omop_table("measurement")
    ctx.outputs["measurement"] = f"""
        SELECT {
        measurement.select_list(
            {
                "measurement_id": ids.sql("m.pos"),
                "person_id": "m.person_id",
                "measurement_concept_id": str(c.UNMAPPED),
                "measurement_date": _date("m.claim_start"),
                "measurement_type_concept_id": str(c.TYPE_CLAIM),
                "visit_occurrence_id": ids.sql("m.claim_pos"),
                "measurement_source_value": "m.BIO_PRS_IDE",
            }
        )
    }
        FROM {_loaded("ER_BIO_F", "m")}"""

    observation = omop_table("observation")
    ctx.outputs["observation"] = f"""
        SELECT {
        observation.select_list(
            {
                "observation_id": ids.sql("p.pos", 1),
                "person_id": "p.person_id",
                "observation_concept_id": str(c.UNMAPPED),
                "observation_date": f"coalesce({_date('p.BEN_DTE_INS')}, {last})",
                "observation_type_concept_id": str(c.TYPE_CLAIM),
                "value_as_number": "1",
                "observation_source_value": "'BEN_CMU_TOP'",
                "value_source_value": "p.BEN_CMU_TOP",
            }
        )
    }
        FROM {_loaded("IR_BEN_R", "p")}
          AND p.BEN_CMU_TOP = '1'"""

    death = omop_table("death")
    ctx.outputs["death"] = f"""
        SELECT {
        death.select_list(
            {
                "person_id": "d.person_id",
                "death_date": _date("d.BEN_DCD_DTE"),
                "death_type_concept_id": str(c.TYPE_DEATH_CERTIFICATE),
                "cause_concept_id": str(c.UNMAPPED),
                "cause_source_value": "upper(d.DCD_CIM_COD)",
                "death_commune": "upper(d.DCD_COM_COD)",
                "death_departement": "upper(d.DCD_DPT_COD)",
            }
        )
    }
        FROM {_loaded("KI_CCI_R", "d")}
        UNION ALL
        SELECT {
        death.select_list(
            {
                "person_id": "p.person_id",
                "death_date": _date("p.BEN_DCD_DTE"),
                "death_type_concept_id": str(c.TYPE_CLAIM),
            }
        )
    }
        FROM res_IR_BEN_R AS p
        WHERE p.status = '{LOADED}' AND p.BEN_DCD_DTE IS NOT NULL
          AND p.person_id NOT IN (SELECT person_id FROM {_loaded("KI_CCI_R")})"""

    ctx.outputs["procedure_occurrence"] = (
        f"SELECT {omop_table('procedure_occurrence').select_list({})} WHERE false"
    )

    care_site = omop_table("care_site")
    ctx.outputs["care_site"] = f"""
        SELECT {
        care_site.select_list(
            {
                "care_site_id": "care_site_id",
                "care_site_source_value": "code",
                "place_of_service_source_value": "kind",
            }
        )
    }
        FROM care_sites"""
    ctx.step("mapped to OMOP CDM v5.4 (person, visits, conditions, drugs, lab acts, deaths)")


def _care_sites(ctx: IngestContext, pmsi: bool) -> None:
    sources = [f"SELECT ETB_EXE_FIN AS code, 'establishment' AS kind FROM {_loaded('ER_PRS_F')}"]
    if pmsi:
        sources.insert(0, f"SELECT ETA_NUM AS code, 'hospital' AS kind FROM {_loaded('T_MCO_C')}")
    ctx.execute(
        f"""
        CREATE TEMP TABLE care_sites AS
        SELECT code, min(kind) AS kind, row_number() OVER (ORDER BY code) AS care_site_id
        FROM ({" UNION ".join(sources)}) WHERE code IS NOT NULL
        GROUP BY code
        """
    )
