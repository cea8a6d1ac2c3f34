"""The hospital group's EHR export for a chunk, as flat Arrow tables, one per resource shape.

The group's patients are the persons with a stay in one of its hospitals or a visit to its
diabetology clinic; they are the same people as in the claims (the INS is their NIR). The
tables are turned into FHIR R4 JSON by ``fhir_json.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import names, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import NEVER, age_at, year_of
from havre.synth.care import CHRONIC, CLINIC, Care
from havre.synth.geography import KIND_PUBLIC_HOSPITAL, frame, numbers
from havre.synth.history import History
from havre.synth.population import Identities
from havre.synth.stays import NO_PROCEDURE, PROCEDURES

UNKNOWN_PATIENT_PREFIX = "pat-9"  # patient ids are pat-<8 digits>; this prefix names nobody


@dataclass
class Flat:
    """The rows of one resource shape: a table, and the chunk-local person of each row."""

    resource: str  # FHIR resource type
    shape: str  # patient, encounter, condition, quantity, pressure, medication, procedure
    table: pa.Table
    person: Array


def iso(days: Array) -> pa.Array:
    return pc.cast(pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()), pa.string())


def _ids(prefix: str, chunk: int, size: int) -> pa.Array:
    serial = pc.utf8_lpad(pc.cast(pa.array(np.arange(size, dtype=np.int64)), pa.string()), 7, "0")
    return pc.binary_join_element_wise(pa.scalar(f"{prefix}-{chunk:05d}"), serial, "")


def patient_ids(index: Array) -> pa.Array:
    return pc.binary_join_element_wise(
        pa.scalar("pat-"), pc.utf8_lpad(pc.cast(pa.array(index), pa.string()), 8, "0"), ""
    )


def build(
    ids: Identities,
    history: History,
    care: Care,
    stays: dict[str, Array],
    nir: pa.Array,
    chunk: int,
    end: int,
    rng: np.random.Generator,
) -> list[Flat]:
    visits = care.consultations
    clinic = visits["kind"] == CLINIC
    in_group = stays["in_group"]
    # Encounters: the group's stays, then its clinic visits.
    e_person = np.concatenate([stays["person"][in_group], visits["person"][clinic]])
    e_start = np.concatenate([stays["entry"][in_group], visits["date"][clinic]])
    e_end = np.concatenate([stays["exit"][in_group], visits["date"][clinic]])
    e_stay = np.concatenate([np.flatnonzero(in_group), np.full(clinic.sum(), -1)])
    inpatient = np.concatenate([stays["days"][in_group] > 0, np.zeros(clinic.sum(), bool)])
    clinic_provider = numbers(
        ids.departement[visits["person"][clinic]],
        KIND_PUBLIC_HOSPITAL,
        np.zeros(int(clinic.sum()), dtype=np.int64),
        6,
    )
    provider = pa.concat_arrays(
        [pa.array(stays["eta_num"][in_group], pa.string()), clinic_provider]
    )
    order = np.lexsort((e_start, e_person))
    e_person, e_start, e_end, e_stay = (a[order] for a in (e_person, e_start, e_end, e_stay))
    inpatient, provider = inpatient[order], provider.take(pa.array(order))
    encounter_ids = _ids("enc", chunk, len(e_person))

    patients = np.unique(e_person)
    pid_by_person = np.full(len(ids), -1, dtype=np.int64)
    pid_by_person[patients] = np.arange(len(patients))
    patient_id = patient_ids(ids.index[patients])
    subject = patient_id.take(pa.array(pid_by_person[e_person]))
    flats = [_patients(ids, history, patients, patient_id, nir, end, rng)]
    reference = pc.binary_join_element_wise(pa.scalar("Patient/"), subject, "")
    encounters = {
        "id": encounter_ids,
        "subject": reference,
        "class_code": pa.array(np.where(inpatient, "IMP", "AMB")),
        "class_display": pa.array(np.where(inpatient, "inpatient encounter", "ambulatory")),
        "start": iso(e_start),
        "end": iso(e_end),
        "provider": provider,
        "provider_name": pc.binary_join_element_wise(
            pa.scalar("Groupe hospitalier — site "), provider, ""
        ),
    }
    flats.append(Flat("Encounter", "encounter", pa.table(encounters), e_person))
    refs = _References(
        subject=reference,
        encounter=pc.binary_join_element_wise(pa.scalar("Encounter/"), encounter_ids, ""),
    )
    flats.append(_conditions(history, stays, e_person, e_start, e_end, e_stay, refs, chunk))
    flats.extend(_observations(ids, history, e_person, e_start, e_stay, refs, chunk, rng))
    flats.append(_medications(history, e_person, e_end, refs, chunk))
    flats.append(_procedures(stays, e_person, e_start, e_stay, refs, chunk))
    return flats


@dataclass(frozen=True)
class _References:
    subject: pa.Array  # per encounter: Patient/<id>
    encounter: pa.Array  # per encounter: Encounter/<id>

    def of(self, rows: Array) -> dict[str, pa.Array]:
        index = pa.array(rows)
        return {"subject": self.subject.take(index), "encounter": self.encounter.take(index)}


def _patients(
    ids: Identities,
    history: History,
    patients: Array,
    patient_id: pa.Array,
    nir: pa.Array,
    end: int,
    rng: np.random.Generator,
) -> Flat:
    size = len(patients)
    sex = ids.sex[patients]
    family = np.array(names.FAMILY_NAMES)[rng.integers(0, len(names.FAMILY_NAMES), size)]
    male = np.array(names.GIVEN_NAMES_MALE)[rng.integers(0, len(names.GIVEN_NAMES_MALE), size)]
    female = np.array(names.GIVEN_NAMES_FEMALE)[
        rng.integers(0, len(names.GIVEN_NAMES_FEMALE), size)
    ]
    street = np.array(names.STREETS)[rng.integers(0, len(names.STREETS), size)]
    number = rng.integers(1, 120, size).astype(str)
    phone = np.char.add(
        "06 39 98 ",
        np.char.add(
            np.char.zfill(rng.integers(0, 100, size).astype(str), 2),
            np.char.add(" ", np.char.zfill(rng.integers(0, 100, size).astype(str), 2)),
        ),
    )
    death = history.death[patients]
    geo = frame()
    commune = ids.commune[patients]
    table = pa.table(
        {
            "id": patient_id,
            "ins": nir.take(pa.array(patients)),
            "family": pa.array(np.char.upper(family)),
            "given": pa.array(np.where(sex == 1, male, female)),
            "gender": pa.array(np.where(sex == 1, "male", "female")),
            "birth_date": iso(ids.birth[patients]),
            "deceased": pc.if_else(
                pa.array(death <= end),
                iso(np.where(death <= end, death, 0)),
                pa.scalar(None, pa.string()),
            ),
            "line": pa.array(np.char.add(np.char.add(number, " "), street)),
            "city": geo.name.take(pa.array(commune)),
            "postal_code": geo.postal_code.take(pa.array(commune)),
            "phone": pa.array(phone),
        }
    )
    return Flat("Patient", "patient", table, patients)


def _conditions(
    history: History,
    stays: dict[str, Array],
    e_person: Array,
    e_start: Array,
    e_end: Array,
    e_stay: Array,
    refs: _References,
    chunk: int,
) -> Flat:
    labels = vocab.vocabulary().icd10_labels
    from_stay = np.flatnonzero(e_stay >= 0)
    codes = np.column_stack(
        [
            stays["dp"][e_stay[from_stay]],
            stays["dr"][e_stay[from_stay]],
            stays["associated"][e_stay[from_stay]],
        ]
    )
    row, slot = np.nonzero(codes != "")
    encounter = np.concatenate([from_stay[row], np.flatnonzero(e_stay < 0)])
    code = np.concatenate([codes[row, slot], np.full((e_stay < 0).sum(), vocab.ICD_DIABETES)])
    onset = e_start[encounter].copy()
    at_clinic = e_stay[encounter] < 0
    known = history.diabetes_onset[e_person[encounter]]
    onset[at_clinic] = np.where(known[at_clinic] != NEVER, known[at_clinic], onset[at_clinic])
    order = np.lexsort((np.arange(len(encounter)), encounter))
    encounter, code, onset = encounter[order], code[order], onset[order]
    distinct, inverse = np.unique(code, return_inverse=True)
    table = pa.table(
        {
            "id": _ids("cond", chunk, len(encounter)),
            **refs.of(encounter),
            "code": pa.array([vocab.dotted_icd10(c) for c in distinct]).take(pa.array(inverse)),
            "display": pa.array([labels.get(str(c), str(c)) for c in distinct]).take(
                pa.array(inverse)
            ),
            "onset": iso(onset),
            "recorded": iso(e_end[encounter]),
        }
    )
    return Flat("Condition", "condition", table, e_person[encounter])


def _observations(
    ids: Identities,
    history: History,
    e_person: Array,
    e_start: Array,
    e_stay: Array,
    refs: _References,
    chunk: int,
    rng: np.random.Generator,
) -> list[Flat]:
    year = np.clip(year_of(e_start) - history.years[0], 0, len(history.years) - 1)
    age = age_at(ids.birth[e_person], e_start)
    clinic = e_stay < 0
    adult = age >= 18
    hba1c = history.hba1c[e_person, year]
    rows, code, value = [], [], []

    def add(mask: Array, loinc: int, values: Array) -> None:
        rows.append(np.flatnonzero(mask))
        code.append(np.full(int(mask.sum()), loinc))
        value.append(values[mask])

    add(~np.isnan(hba1c), 0, np.round(hba1c + rng.normal(0, 0.15, len(hba1c)), 1))
    add(clinic, 1, np.round(history.egfr[e_person, year] + rng.normal(0, 3, len(year))))
    add(adult, 2, np.round(history.bmi[e_person] + rng.normal(0, 0.3, len(year)), 1))
    row = np.concatenate(rows)
    loinc = np.concatenate(code)
    order = np.lexsort((loinc, row))
    row, loinc, measured = row[order], loinc[order], np.concatenate(value)[order]
    systems = (vocab.LOINC_HBA1C, vocab.LOINC_EGFR, vocab.LOINC_BMI)
    category = ("laboratory", "laboratory", "vital-signs")
    pick = pa.array(loinc)
    quantity = pa.table(
        {
            "id": _ids("obs", chunk, len(row)),
            **refs.of(row),
            "effective": iso(e_start[row]),
            "category": pa.array(list(category)).take(pick),
            "code": pa.array([s[0] for s in systems]).take(pick),
            "display": pa.array([s[1] for s in systems]).take(pick),
            "unit": pa.array([s[2] for s in systems]).take(pick),
            "value": pa.array(measured.astype(np.float64)),
            "integer": pa.array(loinc == 1),
        }
    )
    treated = history.hypertension_onset[e_person] <= e_start
    systolic = np.round(
        112 + 0.5 * np.clip(age - 30, 0, None) + 8 * treated + rng.normal(0, 12, len(age))
    ).clip(85, 220)
    diastolic = np.round(0.45 * systolic + 20 + rng.normal(0, 7, len(age))).clip(45, 130)
    measured_bp = age >= 3
    bp_rows = np.flatnonzero(measured_bp)
    pressure = pa.table(
        {
            "id": _ids("bp", chunk, len(bp_rows)),
            **refs.of(bp_rows),
            "effective": iso(e_start[bp_rows]),
            "systolic": pa.array(systolic[bp_rows].astype(np.int64)),
            "diastolic": pa.array(diastolic[bp_rows].astype(np.int64)),
        }
    )
    return [
        Flat("Observation", "quantity", quantity, e_person[row]),
        Flat("Observation", "pressure", pressure, e_person[bp_rows]),
    ]


def _medications(
    history: History, e_person: Array, e_end: Array, refs: _References, chunk: int
) -> Flat:
    chronic = np.array(CHRONIC)
    active = history.drug_start[e_person][:, chronic] <= e_end[:, None]
    row, slot = np.nonzero(active)
    drug = chronic[slot]
    atc = [code for _, code, _ in vocab.DRUGS]
    labels = vocab.vocabulary().atc_labels
    pick = pa.array(drug.astype(np.int64))
    table = pa.table(
        {
            "id": _ids("med", chunk, len(row)),
            **refs.of(row),
            "authored": iso(e_end[row]),
            "code": pa.array(atc).take(pick),
            "display": pa.array([labels[code] for code in atc]).take(pick),
        }
    )
    return Flat("MedicationRequest", "medication", table, e_person[row])


def _procedures(
    stays: dict[str, Array],
    e_person: Array,
    e_start: Array,
    e_stay: Array,
    refs: _References,
    chunk: int,
) -> Flat:
    procedure = np.where(e_stay >= 0, stays["procedure"][np.maximum(e_stay, 0)], NO_PROCEDURE)
    row = np.flatnonzero(procedure != NO_PROCEDURE)
    pick = pa.array(procedure[row].astype(np.int64))
    table = pa.table(
        {
            "id": _ids("proc", chunk, len(row)),
            **refs.of(row),
            "performed": iso(e_start[row]),
            "code": pa.array([vocab.SNOMED_PROCEDURES[p][0] for p in PROCEDURES]).take(pick),
            "display": pa.array([vocab.SNOMED_PROCEDURES[p][1] for p in PROCEDURES]).take(pick),
        }
    )
    return Flat("Procedure", "procedure", table, e_person[row])
