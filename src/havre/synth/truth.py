"""Ground truth: what the model put in the data, summed over chunks, for the manifest only.

Files never carry it; tests and analyses compare what they find in the files with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from havre.synth import params
from havre.synth.arrays import Array
from havre.synth.calendar import age_at
from havre.synth.care import Care
from havre.synth.geography import frame, hospital_group
from havre.synth.history import KIND, History
from havre.synth.population import Identities

AGE_BANDS_END = tuple(range(0, 100, 10))  # 0-9 ... 90+
AGE_BAND_LABELS = (*(f"{a}-{a + 9}" for a in AGE_BANDS_END[:-1]), "90+")


def _zeros(*shape: int) -> Array:
    return np.zeros(shape, dtype=np.float64)


@dataclass
class Truth:
    """Additive counters; ``merge`` adds another chunk's."""

    persons: int = 0
    births: int = 0
    deaths: int = 0
    alive_at_end: int = 0
    opted_out: int = 0
    prevalent_diabetes: int = 0
    incident_diabetes: int = 0
    diabetics_at_end: int = 0
    hypertensive_at_end: int = 0
    ckd_at_end: int = 0
    hospital_patients: int = 0
    clinic_patients: int = 0
    departement: Array = field(default_factory=lambda: _zeros(len(frame().departements), 4))
    grid_persons: Array = field(default_factory=lambda: _zeros(10, 2, 5, 2))
    grid_diabetics: Array = field(default_factory=lambda: _zeros(10, 2, 5, 2))
    complications: Array = field(default_factory=lambda: _zeros(len(KIND), 3))
    by_hba1c_events: Array = field(
        default_factory=lambda: _zeros(len(KIND), len(params.HBA1C_BAND_LABELS))
    )
    by_hba1c_years: Array = field(
        default_factory=lambda: _zeros(len(KIND), len(params.HBA1C_BAND_LABELS))
    )
    follow_up: Array = field(default_factory=lambda: _zeros(2, 5, 4))
    hba1c_last_year: Array = field(default_factory=lambda: _zeros(5, 2))

    def merge(self, other: Truth) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def measure(
    ids: Identities,
    history: History,
    care: Care,
    end: int,
    fhir_patients: Array,
    clinic_patients: int,
) -> Truth:
    truth = Truth()
    n = len(ids)
    alive = history.death > end
    diabetic_end = alive & (history.diabetes_onset <= end)
    truth.persons = n
    truth.births = int(ids.newborn.sum())
    truth.deaths = int((~alive).sum())
    truth.alive_at_end = int(alive.sum())
    truth.opted_out = int(ids.optout.sum())
    truth.prevalent_diabetes = int(history.prevalent_diabetes.sum())
    present = (history.hi >= history.lo).any(axis=1)
    truth.incident_diabetes = int(
        (present & (history.diabetes_onset <= end) & ~history.prevalent_diabetes).sum()
    )
    truth.diabetics_at_end = int(diabetic_end.sum())
    truth.hypertensive_at_end = int((alive & (history.hypertension_onset <= end)).sum())
    truth.ckd_at_end = int((alive & (history.egfr[:, -1] < 60)).sum())
    truth.hospital_patients = len(fhir_patients)
    truth.clinic_patients = clinic_patients

    kept = ~ids.optout
    departement = ids.departement
    for column, mask in enumerate((alive, diabetic_end, alive & kept, diabetic_end & kept)):
        np.add.at(truth.departement[:, column], departement[mask], 1)

    band = np.minimum(age_at(ids.birth, np.full(n, end)) // 10, 9)
    cell = (band, ids.sex - 1, ids.quintile - 1, ids.rural.astype(np.int64))
    np.add.at(truth.grid_persons, tuple(c[alive] for c in cell), 1)
    np.add.at(truth.grid_diabetics, tuple(c[diabetic_end] for c in cell), 1)

    events = history.events
    for kind in range(len(KIND)):
        chosen = events["kind"] == kind
        truth.complications[kind] = (
            chosen.sum(),
            len(np.unique(events["person"][chosen])),
            (chosen & events["fatal"]).sum(),
        )
        diabetic_event = chosen & (history.diabetes_onset[events["person"]] <= events["date"])
        band_of = np.searchsorted(params.HBA1C_BANDS, events["hba1c"][diabetic_event], side="right")
        np.add.at(truth.by_hba1c_events[kind], band_of, 1)
    truth.by_hba1c_years = history.at_risk.copy()

    # Follow-up of diabetics, year by year: eye exams and HbA1c tests.
    for y in range(len(history.years)):
        lo, hi = history.lo[:, y], history.hi[:, y]
        whole = (hi >= lo) & (history.diabetes_onset <= lo) & (hi - lo >= 300)
        q, r = ids.quintile[whole] - 1, ids.rural[whole].astype(np.int64)
        np.add.at(truth.follow_up, (r, q, 0), 1)
        np.add.at(truth.follow_up, (r, q, 1), care.eye_exam_years[whole, y])
        np.add.at(truth.follow_up, (r, q, 2), care.hba1c_tests[whole, y])
        np.add.at(truth.follow_up, (r, q, 3), care.hba1c_tests[whole, y] >= 2)
    last = history.hba1c[:, -1]
    measured = ~np.isnan(last)
    np.add.at(truth.hba1c_last_year, (ids.quintile[measured] - 1, 0), last[measured])
    np.add.at(truth.hba1c_last_year, (ids.quintile[measured] - 1, 1), 1)
    return truth


def _rate(events: Array, years: Array) -> list[float | None]:
    return [round(1000 * e / y, 4) if y else None for e, y in zip(events, years, strict=True)]


def report(truth: Truth) -> dict[str, Any]:
    """The ``ground_truth`` section of the manifest."""
    geo = frame()
    by_departement = {
        code: {
            "persons": int(row[0]),
            "diabetics": int(row[1]),
            "persons_not_opted_out": int(row[2]),
            "diabetics_not_opted_out": int(row[3]),
        }
        for code, row in zip(geo.departements, truth.departement, strict=True)
        if row[0] or row[1]
    }
    names = list(KIND)
    follow_up = [
        {
            "rural": bool(r),
            "deprivation_quintile": q + 1,
            "diabetic_years": int(cell[0]),
            "eye_exam_years": int(cell[1]),
            "hba1c_tests": int(cell[2]),
            "years_with_2_or_more_hba1c_tests": int(cell[3]),
        }
        for r in range(2)
        for q in range(5)
        for cell in [truth.follow_up[r, q]]
    ]
    sums, counts = truth.hba1c_last_year[:, 0], truth.hba1c_last_year[:, 1]
    return {
        "population": {
            "persons": truth.persons,
            "births_in_period": truth.births,
            "deaths_in_period": truth.deaths,
            "alive_at_end": truth.alive_at_end,
            "opted_out": truth.opted_out,
        },
        "diabetes": {
            "prevalent_at_start": truth.prevalent_diabetes,
            "incident_in_period": truth.incident_diabetes,
            "alive_at_end": truth.diabetics_at_end,
            "prevalence_at_end": round(truth.diabetics_at_end / max(truth.alive_at_end, 1), 6),
        },
        "diabetics_by_departement": by_departement,
        "prevalence_at_end": {
            "axes": ["age_band", "sex", "deprivation_quintile", "rural"],
            "age_band": list(AGE_BAND_LABELS),
            "sex": [1, 2],
            "deprivation_quintile": [1, 2, 3, 4, 5],
            "rural": [False, True],
            "persons": truth.grid_persons.astype(int).tolist(),
            "diabetics": truth.grid_diabetics.astype(int).tolist(),
        },
        "complications": {
            name: {"events": int(row[0]), "persons": int(row[1]), "fatal": int(row[2])}
            for name, row in zip(names, truth.complications, strict=True)
        },
        "complication_rates_by_hba1c": {
            "hba1c_bands": list(params.HBA1C_BAND_LABELS),
            **{
                name: {
                    "events": truth.by_hba1c_events[k].astype(int).tolist(),
                    "diabetic_person_years": np.round(truth.by_hba1c_years[k], 2).tolist(),
                    "per_1000_person_years": _rate(
                        truth.by_hba1c_events[k], truth.by_hba1c_years[k]
                    ),
                }
                for k, name in enumerate(names)
            },
        },
        "follow_up_of_diabetics": follow_up,
        "mean_hba1c_last_year_by_quintile": [
            round(s / c, 4) if c else None for s, c in zip(sums, counts, strict=True)
        ],
        "hypertensive_at_end": truth.hypertensive_at_end,
        "ckd_at_end": truth.ckd_at_end,
        "hospital_group": {
            "departements": [geo.departements[i] for i in hospital_group()],
            "patients": truth.hospital_patients,
            "clinic_patients": truth.clinic_patients,
        },
    }
