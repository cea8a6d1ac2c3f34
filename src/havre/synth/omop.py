"""The hospital group's clinical data warehouse for a chunk, as OMOP CDM v5.4 rows.

The same patients, encounters, diagnoses, treatments, results and deaths as the group's FHIR
export (``fhir.py``), as an OMOP database holds them: ``person_id`` is the warehouse's own
pseudonym (from the seed and the person's number, never from the NIR), record ids are its
own integers, clinical codes keep ``*_concept_id = 0`` with the code in ``*_source_value``
(ICD-10 without dot, ATC, LOINC, SNOMED CT); only gender, visit and record-type concepts are
standard ids (``havre.cdm.concepts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.cdm import concepts
from havre.cdm.omop import LAKE_TABLES
from havre.cdm.reference import omop_fields
from havre.synth.arrays import Array
from havre.synth.calendar import month_of, year_of
from havre.synth.fhir import Flat, iso
from havre.synth.geography import frame
from havre.synth.history import History
from havre.synth.population import Identities
from havre.synth.seeds import Stream

SOURCE_NAME = "omop"
"""The name the delivery's opt-outs are filed under: ingest it with ``--name omop``."""
TABLES = tuple(table for table in LAKE_TABLES if table != "observation")
"""Every table the lake keeps but ``observation``: nothing of the warehouse fits it."""
SHARED = ("location", "care_site")
"""Tables of places, written once after every chunk (a commune or a site serves many)."""
FOLDER = "omop/"
OPTOUT_FILE = "optout/omop-optout.csv"
OPTOUT_COLUMNS = ("SOURCE_NAME", "PERSON_ID", "DATE_OPPOSITION")
ID_BITS = 40
RECORDS_PER_CHUNK = 10**8
"""Record ids are ``chunk * RECORDS_PER_CHUNK + row + 1``: unique in the delivery."""
DAYS_SUPPLY = 90  # a chronic treatment is prescribed for three months
ENCOUNTER_REFERENCE = "Encounter/enc-"
INTEGER, FLOAT, DATE, DATETIME, VARCHAR = "integer", "float", "date", "datetime", "varchar"


def file_name(table: str) -> str:
    """The delivery's file of a table."""
    return f"{FOLDER}{table}.csv"


@dataclass(frozen=True)
class CdmColumn:
    name: str
    datatype: str  # integer, float, date, datetime, varchar
    required: bool


@cache
def cdm_columns(table: str) -> tuple[CdmColumn, ...]:
    """A table's columns in the order of the shipped OMOP CDM v5.4 specification."""
    spec = omop_fields()
    mask = pc.equal(spec.column("cdmTableName"), table)
    columns = []
    for row in spec.filter(mask).to_pylist():
        datatype = str(row["cdmDatatype"]).lower()
        columns.append(
            CdmColumn(
                name=str(row["cdmFieldName"]),
                datatype=VARCHAR if datatype.startswith("varchar") else datatype,
                required=str(row["isRequired"]).lower() == "yes",
            )
        )
    return tuple(columns)


@dataclass
class OmopRows:
    """One table's rows of a chunk: the filled columns (others are empty), the chunk-local
    person of each row (-1: none), and which rows nothing else refers to."""

    table: str
    columns: dict[str, pa.Array]
    person: Array
    leaf: Array  # False: other records hang on it, it may only be duplicated

    def __len__(self) -> int:
        return len(self.person)


def _bijection(seed: int, purpose: int, number: Array) -> Array:
    """A permutation of the 40-bit integers keyed by the seed (add, then rounds of multiply
    by an odd number and xor-shift): distinct numbers give distinct results."""
    state = np.random.SeedSequence(seed, spawn_key=(int(Stream.OMOP), purpose)).generate_state(
        4, np.uint64
    )
    mask = np.uint64((1 << ID_BITS) - 1)
    with np.errstate(over="ignore"):
        x = (number.astype(np.uint64) + state[0]) & mask
        for key in state[1:]:
            x = (x * (key | np.uint64(1))) & mask
            x ^= x >> np.uint64(19)
    return np.asarray(x, dtype=np.int64)


def source_person_ids(seed: int, index: Array) -> Array:
    """The warehouse's ``person_id`` of each person number (1 .. 2^40)."""
    return _bijection(seed, 0, index) + 1


def record_numbers(seed: int, index: Array) -> pa.Array:
    """The hospital's patient record number (IPP) of each person number: 10 digits."""
    number = _bijection(seed, 1, index) % 10**10
    return pc.utf8_lpad(pc.cast(pa.array(number), pa.string()), 10, "0")


def record_ids(chunk: int, size: int) -> pa.Array:
    return pa.array(chunk * RECORDS_PER_CHUNK + np.arange(size, dtype=np.int64) + 1)


def _visit_ids(encounter: pa.Array) -> pa.Array:
    """``Encounter/enc-<chunk><serial>`` → the visit's id (its number + 1, unique)."""
    digits = pc.utf8_slice_codeunits(encounter, len(ENCOUNTER_REFERENCE))
    return pc.add(pc.cast(digits, pa.int64()), 1)


def _full(size: int, value: int) -> pa.Array:
    return pa.array(np.full(size, value, dtype=np.int64))


def build(
    ids: Identities,
    history: History,
    flats: list[Flat],
    seed: int,
    chunk: int,
    end: int,
) -> tuple[list[OmopRows], Array, Array]:
    """The chunk's rows of every table but the shared ones, with the communes (frame
    indices) and care sites (FINESS numbers) they refer to."""
    shape = {flat.shape: flat for flat in flats}
    person_id = source_person_ids(seed, ids.index)
    patients = shape["patient"]
    encounters = shape["encounter"]
    visit_id = _visit_ids(
        pc.binary_join_element_wise(pa.scalar("Encounter/"), encounters.table.column("id"), "")
    )
    children = [
        _condition_rows(shape["condition"], person_id, chunk),
        _drug_rows(shape["medication"], person_id, history, chunk, end),
        _procedure_rows(shape["procedure"], person_id, chunk),
        _measurement_rows(shape["quantity"], shape["pressure"], person_id, chunk),
    ]
    referred = np.concatenate(
        [row.columns["visit_occurrence_id"].to_numpy(zero_copy_only=False) for row in children]
    )
    site = pc.cast(encounters.table.column("provider"), pa.int64())
    visits = _visit_rows(encounters, person_id, visit_id, site)
    visits.leaf = ~np.isin(visit_id.to_numpy(), referred)
    drugs_end = children[1]
    rows = [
        _person_rows(ids, patients, person_id, seed),
        _period_rows(encounters, drugs_end, person_id, chunk),
        visits,
        *children,
        _death_rows(patients, history, person_id),
    ]
    communes = np.unique(ids.commune[patients.person])
    return rows, communes, np.unique(site.to_numpy())


def _person_rows(ids: Identities, patients: Flat, person_id: Array, seed: int) -> OmopRows:
    person = patients.person
    size = len(person)
    birth = ids.birth[person]
    male = ids.sex[person] == 1
    columns = {
        "person_id": pa.array(person_id[person]),
        "gender_concept_id": pa.array(
            np.where(male, concepts.GENDER_MALE, concepts.GENDER_FEMALE).astype(np.int64)
        ),
        "year_of_birth": pa.array(year_of(birth)),
        "month_of_birth": pa.array(month_of(birth)),
        "day_of_birth": pc.cast(pc.utf8_slice_codeunits(iso(birth), 8, 10), pa.int64()),
        "birth_datetime": pc.binary_join_element_wise(iso(birth), pa.scalar("00:00:00"), " "),
        "race_concept_id": _full(size, concepts.UNMAPPED),
        "ethnicity_concept_id": _full(size, concepts.UNMAPPED),
        "location_id": pa.array(ids.commune[person].astype(np.int64) + 1),
        "person_source_value": record_numbers(seed, ids.index[person]),
        "gender_source_value": pa.array(np.where(male, "M", "F")),
        "gender_source_concept_id": _full(size, concepts.UNMAPPED),
        "race_source_concept_id": _full(size, concepts.UNMAPPED),
        "ethnicity_source_concept_id": _full(size, concepts.UNMAPPED),
    }
    # every patient has an encounter: a person row is never spoiled, at most duplicated
    return OmopRows("person", columns, person, np.zeros(size, dtype=bool))


def _days(text: pa.Array | pa.ChunkedArray) -> Array:
    return np.asarray(pc.cast(pc.cast(text, pa.date32()), pa.int32()).to_numpy(), np.int64)


def _period_rows(encounters: Flat, drugs: OmopRows, person_id: Array, chunk: int) -> OmopRows:
    """From each patient's first encounter to the last day of care the warehouse knows."""
    person = encounters.person
    patients = np.unique(person)
    slot = np.searchsorted(patients, person)
    first = np.full(len(patients), np.iinfo(np.int64).max)
    last = np.full(len(patients), np.iinfo(np.int64).min)
    np.minimum.at(first, slot, _days(encounters.table.column("start")))
    np.maximum.at(last, slot, _days(encounters.table.column("end")))
    drug_end = _days(drugs.columns["drug_exposure_end_date"])
    np.maximum.at(last, np.searchsorted(patients, drugs.person), drug_end)
    columns = {
        "observation_period_id": record_ids(chunk, len(patients)),
        "person_id": pa.array(person_id[patients]),
        "observation_period_start_date": iso(first),
        "observation_period_end_date": iso(last),
        "period_type_concept_id": _full(len(patients), concepts.TYPE_EHR),
    }
    return OmopRows("observation_period", columns, patients, np.ones(len(patients), bool))


def _visit_rows(encounters: Flat, person_id: Array, visit_id: pa.Array, site: pa.Array) -> OmopRows:
    table = encounters.table
    inpatient = pc.equal(table.column("class_code"), "IMP")
    size = table.num_rows
    columns = {
        "visit_occurrence_id": visit_id,
        "person_id": pa.array(person_id[encounters.person]),
        "visit_concept_id": pc.if_else(
            inpatient, concepts.VISIT_INPATIENT, concepts.VISIT_OUTPATIENT
        ).cast(pa.int64()),
        "visit_start_date": table.column("start"),
        "visit_end_date": table.column("end"),
        "visit_type_concept_id": _full(size, concepts.TYPE_EHR),
        "care_site_id": site,
        "visit_source_value": table.column("class_code"),
        "visit_source_concept_id": _full(size, concepts.UNMAPPED),
    }
    return OmopRows("visit_occurrence", columns, encounters.person, np.ones(size, bool))


def _event_rows(
    table: str, flat: Flat, person_id: Array, chunk: int, date: str, code: pa.Array
) -> OmopRows:
    """A clinical event of an encounter: ``table`` is ``<domain>_occurrence``, ``date`` its
    date column (from the FHIR resource's date), ``code`` its source code."""
    domain = table.removesuffix("_occurrence")
    size = flat.table.num_rows
    dated = {"condition": "onset", "procedure": "performed"}[domain]
    columns = {
        f"{table}_id": record_ids(chunk, size),
        "person_id": pa.array(person_id[flat.person]),
        f"{domain}_concept_id": _full(size, concepts.UNMAPPED),
        date: flat.table.column(dated),
        f"{domain}_type_concept_id": _full(size, concepts.TYPE_EHR),
        "visit_occurrence_id": _visit_ids(flat.table.column("encounter")),
        f"{domain}_source_value": code,
        f"{domain}_source_concept_id": _full(size, concepts.UNMAPPED),
    }
    return OmopRows(table, columns, flat.person, np.ones(size, bool))


def _condition_rows(flat: Flat, person_id: Array, chunk: int) -> OmopRows:
    code = pc.replace_substring(flat.table.column("code"), ".", "")  # ICD-10 without its dot
    return _event_rows("condition_occurrence", flat, person_id, chunk, "condition_start_date", code)


def _drug_rows(flat: Flat, person_id: Array, history: History, chunk: int, end: int) -> OmopRows:
    table = flat.table
    size = table.num_rows
    start = _days(table.column("authored"))
    # a prescription ends with its supply, at death, or when the export was made
    stop = np.minimum(start + DAYS_SUPPLY - 1, np.minimum(history.death[flat.person], end))
    columns = {
        "drug_exposure_id": record_ids(chunk, size),
        "person_id": pa.array(person_id[flat.person]),
        "drug_concept_id": _full(size, concepts.UNMAPPED),
        "drug_exposure_start_date": table.column("authored"),
        "drug_exposure_end_date": iso(np.maximum(stop, start)),
        "drug_type_concept_id": _full(size, concepts.TYPE_EHR),
        "days_supply": _full(size, DAYS_SUPPLY),
        "visit_occurrence_id": _visit_ids(table.column("encounter")),
        "drug_source_value": table.column("code"),
        "drug_source_concept_id": _full(size, concepts.UNMAPPED),
    }
    return OmopRows("drug_exposure", columns, flat.person, np.ones(size, bool))


def _procedure_rows(flat: Flat, person_id: Array, chunk: int) -> OmopRows:
    code = flat.table.column("code")
    return _event_rows("procedure_occurrence", flat, person_id, chunk, "procedure_date", code)


def _measurement_rows(quantity: Flat, pressure: Flat, person_id: Array, chunk: int) -> OmopRows:
    """Lab results and vital signs; a blood pressure gives its systolic and diastolic."""
    q, p = quantity.table, pressure.table
    n_q, n_p = q.num_rows, p.num_rows
    encounter = pa.concat_arrays(
        [
            q.column("encounter").combine_chunks(),
            *[p.column("encounter").combine_chunks()] * 2,
        ]
    )
    value = pa.concat_arrays(
        [
            q.column("value").combine_chunks(),
            p.column("systolic").combine_chunks().cast(pa.float64()),
            p.column("diastolic").combine_chunks().cast(pa.float64()),
        ]
    )
    code = pa.concat_arrays(
        [
            q.column("code").combine_chunks(),
            pa.array(["8480-6"] * n_p, pa.string()),
            pa.array(["8462-4"] * n_p, pa.string()),
        ]
    )
    unit = pa.concat_arrays(
        [q.column("unit").combine_chunks(), pa.array(["mm[Hg]"] * (2 * n_p), pa.string())]
    )
    effective = pa.concat_arrays(
        [q.column("effective").combine_chunks(), *[p.column("effective").combine_chunks()] * 2]
    )
    person = np.concatenate([quantity.person, pressure.person, pressure.person])
    visit = _visit_ids(encounter)
    kind = np.concatenate([np.zeros(n_q), np.ones(n_p), np.full(n_p, 2)])
    order = pa.array(np.lexsort((np.arange(len(kind)), kind, visit.to_numpy())))
    size = len(person)
    columns = {
        "measurement_id": record_ids(chunk, size),
        "person_id": pa.array(person_id[person]).take(order),
        "measurement_concept_id": _full(size, concepts.UNMAPPED),
        "measurement_date": effective.take(order),
        "measurement_type_concept_id": _full(size, concepts.TYPE_EHR),
        "value_as_number": value.take(order),
        "visit_occurrence_id": visit.take(order),
        "measurement_source_value": code.take(order),
        "measurement_source_concept_id": _full(size, concepts.UNMAPPED),
        "unit_source_value": unit.take(order),
    }
    person = person[order.to_numpy()]
    return OmopRows("measurement", columns, person, np.ones(size, bool))


def _death_rows(patients: Flat, history: History, person_id: Array) -> OmopRows:
    deceased = patients.table.column("deceased")
    died = np.asarray(deceased.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    person = patients.person[died]
    size = len(person)
    # the cause is known when the patient died in one of the group's hospitals
    cause = np.where(history.death_in_hospital[person], history.death_cause[person], "")
    columns = {
        "person_id": pa.array(person_id[person]),
        "death_date": deceased.filter(pa.array(died)),
        "death_type_concept_id": _full(size, concepts.TYPE_EHR),
        "cause_concept_id": pc.if_else(
            pa.array(cause != ""), pa.scalar(concepts.UNMAPPED, pa.int64()), None
        ),
        "cause_source_value": pc.if_else(pa.array(cause != ""), pa.array(cause), None),
    }
    return OmopRows("death", columns, person, np.ones(size, bool))


def shared_rows(communes: Array, sites: Array) -> list[OmopRows]:
    """The communes the patients live in and the group's sites, once for the delivery."""
    geo = frame()
    take = pa.array(communes)
    departements = pa.array(np.array(geo.departements))
    location = {
        "location_id": pa.array(communes.astype(np.int64) + 1),
        "city": geo.name.take(take),
        "county": departements.take(pa.array(geo.departement[communes])),
        "zip": geo.postal_code.take(take),
        "location_source_value": geo.code.take(take),
        "country_source_value": pa.array(["FR"] * len(communes), pa.string()),
    }
    finess = pc.utf8_lpad(pc.cast(pa.array(sites), pa.string()), 9, "0")
    care_site = {
        "care_site_id": pa.array(sites.astype(np.int64)),
        "care_site_name": pc.binary_join_element_wise(
            pa.scalar("Groupe hospitalier, site "), finess, ""
        ),
        "care_site_source_value": finess,
        "place_of_service_source_value": pa.array(["hôpital public"] * len(sites), pa.string()),
    }
    none_c = np.full(len(communes), -1)
    none_s = np.full(len(sites), -1)
    return [
        OmopRows("location", location, none_c, np.zeros(len(communes), bool)),
        OmopRows("care_site", care_site, none_s, np.zeros(len(sites), bool)),
    ]
