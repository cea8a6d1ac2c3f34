"""Ambulatory care of a chunk: consultations, lab tests and drug dispensing, as event columns.

Care follows the natural history (``history.py``): diabetics see their GP more often, get
HbA1c tests and eye exams (less often in rural and deprived areas), and collect their drugs
every three months. Background care of everyone else is deliberately thin (see
docs/synth.md): the delivery models the conditions studied, not all of French care use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from havre.synth import params, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import NEVER, day, uniform_days
from havre.synth.geography import hospital_group
from havre.synth.history import KIND, History
from havre.synth.population import Identities

# Consultation kinds.
GP, SPECIALIST, CARDIOLOGY, NEPHROLOGY, ENDOCRINOLOGY, EYE, CLINIC = range(7)
SPECIALTY = np.array(
    [
        vocab.SPE_GP,
        -1,
        vocab.SPE_CARDIOLOGY,
        vocab.SPE_NEPHROLOGY,
        vocab.SPE_ENDOCRINOLOGY,
        vocab.SPE_OPHTHALMOLOGY,
        vocab.SPE_ENDOCRINOLOGY,
    ]
)

# Lab acts, one bit each in a lab visit's panel.
ACTS = (
    vocab.NABM_HBA1C,
    vocab.NABM_GLUCOSE,
    vocab.NABM_CREATININE,
    vocab.NABM_LIPIDS,
    vocab.NABM_MICROALBUMIN,
    vocab.NABM_BLOOD_COUNT,
)
HBA1C_BIT, GLUCOSE_BIT, CREATININE_BIT, LIPIDS_BIT, MICROALBUMIN_BIT, BLOOD_COUNT_BIT = (
    1 << i for i in range(len(ACTS))
)

CHRONIC = [i for i, (name, _, _) in enumerate(vocab.DRUGS) if name not in vocab.ACUTE_DRUGS]
ACUTE = np.array([vocab.DRUG_INDEX[name] for name in vocab.ACUTE_DRUGS])


@dataclass(frozen=True)
class Care:
    consultations: dict[str, Array]  # person, date, kind, specialty
    lab_visits: dict[str, Array]  # person, date, panel (bit mask of ACTS)
    dispensings: dict[str, Array]  # person, date, drug, boxes
    eye_exam_years: Array  # (persons, years) a diabetic had an eye exam
    hba1c_tests: Array  # (persons, years) HbA1c tests of the year


def _repeat(rng: np.random.Generator, counts: Array, lo: Array, hi: Array) -> tuple[Array, Array]:
    """Persons repeated by their counts, each with a uniform day in [lo, hi]."""
    person = np.repeat(np.arange(len(counts)), counts)
    return person, uniform_days(rng, lo[person], hi[person])


def simulate(
    ids: Identities, history: History, start: int, end: int, rng: np.random.Generator
) -> Care:
    n, y_count = len(ids), len(history.years)
    rural = ids.rural
    quintile = ids.quintile.astype(np.int64)
    follow = params.FOLLOW_UP_DEPRIVATION_FACTOR[quintile - 1]
    in_group = np.isin(ids.departement, hospital_group())
    consults: dict[str, list[Array]] = {"person": [], "date": [], "kind": []}
    labs: dict[str, list[Array]] = {"person": [], "date": [], "panel": []}
    eye_years = np.zeros((n, y_count), dtype=bool)
    hba1c_tests = np.zeros((n, y_count), dtype=np.int16)
    first_cv = np.minimum.reduce(
        [
            np.full(n, NEVER, dtype=np.int64),
            *(_first(history, KIND[name], n) for name in ("myocardial_infarction", "stroke")),
        ]
    )

    def add(kind: int, rate: Array, lo: Array, hi: Array) -> None:
        add_counts(kind, rng.poisson(rate), lo, hi)

    def add_counts(kind: int, counts: Array, lo: Array, hi: Array) -> None:
        person, date = _repeat(rng, counts, lo, hi)
        consults["person"].append(person)
        consults["date"].append(date)
        consults["kind"].append(np.full(len(person), kind, dtype=np.int8))

    for y in range(y_count):
        lo, hi = history.lo[:, y], history.hi[:, y]
        here = hi >= lo
        fraction = np.where(here, (hi - lo + 1) / params.DAYS_PER_YEAR, 0.0)
        band = np.clip(
            np.searchsorted(params.AGE_BANDS, history.age[:, y], side="right") - 1, 0, None
        )
        diabetic = here & (history.diabetes_onset <= hi)
        hypertensive = here & (history.hypertension_onset <= hi)
        # Care tied to a diagnosis starts with it.
        dlo = np.where(diabetic, np.maximum(lo, history.diabetes_onset), lo)
        gp_rate = (
            params.GP_RATE_BY_BAND[band]
            + params.GP_RATE_DIABETES * diabetic
            + params.GP_RATE_HYPERTENSION * hypertensive
        )
        add(GP, gp_rate * fraction, lo, hi)
        add(SPECIALIST, np.full(n, params.SPECIALIST_RATE) * fraction, lo, hi)
        after_cv = here & (first_cv <= hi)
        cardiology = (
            params.CARDIOLOGY_RATE_HYPERTENSION * hypertensive
            + params.CARDIOLOGY_RATE_AFTER_MI * after_cv
        )
        add(CARDIOLOGY, cardiology * fraction, lo, hi)
        add(
            NEPHROLOGY,
            params.NEPHROLOGY_RATE_CKD * (here & (history.egfr[:, y] < 45)) * fraction,
            lo,
            hi,
        )
        clinic = diabetic & history.clinic & in_group
        endocrinology = np.where(
            rural, params.ENDOCRINOLOGY_RATE[True], params.ENDOCRINOLOGY_RATE[False]
        ) * (diabetic & ~clinic)
        add(ENDOCRINOLOGY, endocrinology * fraction, dlo, hi)
        add(CLINIC, np.where(clinic, 1.6, 0.0) * fraction, dlo, hi)

        # Eye exams: yearly for diabetics, less in the country and in deprived areas.
        p_eye = (
            params.EYE_EXAM_PROBABILITY
            * follow
            * np.where(rural, params.FOLLOW_UP_RURAL_FACTOR["eye"], 1.0)
        )
        eye = diabetic & (rng.random(n) < 1 - (1 - np.minimum(p_eye, 0.97)) ** (fraction))
        eye_years[:, y] = eye
        background = here & ~diabetic & (rng.random(n) < 0.12 * fraction)
        add_counts(EYE, (eye | background).astype(np.int64), dlo, hi)

        # HbA1c tests for diabetics; a yearly check-up panel for the others.
        tests = rng.poisson(
            params.HBA1C_TESTS_PER_YEAR
            * follow
            * np.where(rural, params.FOLLOW_UP_RURAL_FACTOR["hba1c"], 1.0)
            * fraction
            * diabetic
        )
        hba1c_tests[:, y] = tests
        person, date = _repeat(rng, tests, dlo, hi)
        first_of_year = np.r_[True, person[1:] != person[:-1]]
        draws = rng.random((2, len(person)))
        panel = (HBA1C_BIT | GLUCOSE_BIT) + first_of_year * (
            CREATININE_BIT + LIPIDS_BIT * (draws[0] < 0.5) + MICROALBUMIN_BIT * (draws[1] < 0.35)
        )
        labs["person"].append(person)
        labs["date"].append(date)
        labs["panel"].append(panel.astype(np.int16))
        routine = (
            here
            & ~diabetic
            & (rng.random(n) < 1 - np.exp(-params.ROUTINE_BIOLOGY_BY_BAND[band] * fraction))
        )
        person, date = _repeat(rng, routine.astype(np.int64), lo, hi)
        panel = (BLOOD_COUNT_BIT | GLUCOSE_BIT | CREATININE_BIT) + LIPIDS_BIT * (
            rng.random(len(person)) < 0.5
        )
        labs["person"].append(person)
        labs["date"].append(date)
        labs["panel"].append(panel.astype(np.int16))

    consultations = {name: np.concatenate(parts) for name, parts in consults.items()}
    specialty = SPECIALTY[consultations["kind"]]
    others = specialty < 0
    specialty[others] = rng.choice(vocab.OTHER_SPECIALTIES, int(others.sum()))
    consultations["specialty"] = specialty
    lab_visits = {name: np.concatenate(parts) for name, parts in labs.items()}
    dispensings = _dispensings(rng, ids, history, consultations, start, end)
    return Care(consultations, lab_visits, dispensings, eye_years, hba1c_tests)


def _first(history: History, kind: int, n: int) -> Array:
    first = np.full(n, NEVER, dtype=np.int64)
    events = history.events
    chosen = events["kind"] == kind
    np.minimum.at(first, events["person"][chosen], events["date"][chosen])
    return first


def _dispensings(
    rng: np.random.Generator,
    ids: Identities,
    history: History,
    consultations: dict[str, Array],
    start: int,
    end: int,
) -> dict[str, Array]:
    """Chronic drugs every three months from their start; an acute drug after some GP visits."""
    n = len(ids)
    covered_from = np.maximum.reduce([np.full(n, start), ids.birth, ids.insured_from])
    covered_to = np.minimum(history.death, end)
    three_month_box = rng.random(n) < 0.6
    persons, dates, drugs, boxes = [], [], [], []
    for drug in CHRONIC:
        first = np.maximum(history.drug_start[:, drug].astype(np.int64), covered_from)
        active = (history.drug_start[:, drug] != NEVER) & (first <= covered_to)
        count = np.where(active, (covered_to - first) // params.DISPENSING_INTERVAL_DAYS + 1, 0)
        person = np.repeat(np.arange(n), count)
        step = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
        jitter = rng.integers(-3, 4, len(person))
        date = np.clip(
            first[person] + step * params.DISPENSING_INTERVAL_DAYS + jitter,
            first[person],
            covered_to[person],
        )
        kept = rng.random(len(person)) < params.ADHERENCE
        persons.append(person[kept])
        dates.append(date[kept].astype(np.int32))
        drugs.append(np.full(int(kept.sum()), drug, dtype=np.int16))
        boxes.append(np.where(three_month_box[person[kept]], 1, 3).astype(np.int64))
    gp = consultations["kind"] == GP
    acute = gp & (rng.random(len(gp)) < params.ACUTE_DRUG_AFTER_GP)
    weights = vocab.ACUTE_DRUG_WEIGHTS / vocab.ACUTE_DRUG_WEIGHTS.sum()
    persons.append(consultations["person"][acute])
    dates.append(consultations["date"][acute])
    drugs.append(ACUTE[rng.choice(len(ACUTE), int(acute.sum()), p=weights)].astype(np.int16))
    boxes.append(np.ones(int(acute.sum()), dtype=np.int64))
    return {
        "person": np.concatenate(persons),
        "date": np.concatenate(dates),
        "drug": np.concatenate(drugs),
        "boxes": np.concatenate(boxes),
    }


def gp_base_fee(dates: Array) -> Array:
    """The regulated fee of a GP consultation on each date (C, then G, then its raises)."""
    return np.select(
        [
            dates < day(dt.date(2017, 5, 1)),
            dates < day(dt.date(2023, 12, 22)),
            dates < day(dt.date(2024, 12, 22)),
        ],
        [23.0, 25.0, 26.5],
        30.0,
    )
