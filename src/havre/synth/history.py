"""Natural history of a chunk of persons, year by year: diabetes, HbA1c, hypertension, kidney
function, complications, treatments, long-term conditions (ALD) and deaths.

Everything is vectorized over the persons of the chunk; the only loop is over years. The
model and its parameters are described in docs/synth.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from havre.synth import params, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import NEVER, age_at, uniform_days, year_start
from havre.synth.population import Identities

KIND = {name: index for index, name in enumerate(params.COMPLICATIONS)}
MI, STROKE = KIND["myocardial_infarction"], KIND["stroke"]
ONCE = [KIND[name] for name in params.COMPLICATIONS if name != "foot_ulcer"]
DRUG = vocab.DRUG_INDEX


@dataclass
class EventLog:
    """Columns appended year by year, concatenated at the end."""

    parts: dict[str, list[Array]] = field(default_factory=dict)

    def add(self, **columns: Array) -> None:
        for name, values in columns.items():
            self.parts.setdefault(name, []).append(np.asarray(values))

    def build(self, **empty: np.dtype[Any]) -> dict[str, Array]:
        if not self.parts:
            return {name: np.empty(0, dtype=dtype) for name, dtype in empty.items()}
        return {name: np.concatenate(values) for name, values in self.parts.items()}


@dataclass
class History:
    years: list[int]
    lo: Array  # (persons, years): first day covered in the year
    hi: Array  # last day covered (hi < lo: not covered that year)
    age: Array  # age on the first day of the year
    diabetes_onset: Array
    prevalent_diabetes: Array  # diabetic before the period starts
    hba1c: Array  # (persons, years), nan when not diabetic that year
    hypertension_onset: Array
    egfr: Array  # (persons, years)
    bmi: Array
    drug_start: Array  # (persons, drugs)
    events: dict[str, Array]  # person, kind, date, fatal, hba1c
    death: Array
    death_cause: Array  # ICD-10 code, "" when alive
    death_in_hospital: Array
    ald: dict[str, Array]  # person, number, start, icd
    clinic: Array  # followed at the hospital group's diabetology clinic
    at_risk: Array  # (kinds, HbA1c bands): diabetic person-years at risk

    def present(self, year: int) -> Array:
        return self.hi[:, year] >= self.lo[:, year]

    def diabetic_on(self, day: Array | int) -> Array:
        return self.diabetes_onset <= day


def _band(age: Array) -> Array:
    return np.clip(np.searchsorted(params.AGE_BANDS, age, side="right") - 1, 0, None)


def _chance(rng: np.random.Generator, rate: Array, fraction: Array) -> Array:
    """Whether an event with a yearly hazard happens in the covered fraction of a year."""
    return np.asarray(rng.random(len(rate)) < 1.0 - np.exp(-rate * fraction))


def simulate(ids: Identities, start: int, end: int, rng: np.random.Generator) -> History:
    n = len(ids)
    first_year = int(np.datetime64(start, "D").astype("datetime64[Y]").astype(int)) + 1970
    last_year = int(np.datetime64(end, "D").astype("datetime64[Y]").astype(int)) + 1970
    years = list(range(first_year, last_year + 1))
    y_count = len(years)
    sex_rr = np.where(ids.sex == 1, params.DIABETES_SEX_RR[1], params.DIABETES_SEX_RR[2])
    quintile = ids.quintile.astype(np.int64)
    dep_rr = params.DIABETES_DEPRIVATION_RR[quintile - 1]

    lo = np.zeros((n, y_count), dtype=np.int32)
    hi = np.full((n, y_count), -1, dtype=np.int32)
    age = np.zeros((n, y_count), dtype=np.int16)
    hba1c = np.full((n, y_count), np.nan, dtype=np.float32)
    egfr_by_year = np.zeros((n, y_count), dtype=np.float32)
    drug_start = np.full((n, len(vocab.DRUGS)), NEVER, dtype=np.int32)
    first_event = np.full((n, len(params.COMPLICATIONS)), NEVER, dtype=np.int32)
    death = np.full(n, NEVER, dtype=np.int32)
    fatal_event = np.zeros(n, dtype=np.int8)  # 0 none, 1 MI, 2 stroke
    at_risk = np.zeros((len(params.COMPLICATIONS), len(params.HBA1C_BAND_LABELS)))
    events, ald = EventLog(), EventLog()

    # Initial state on the first day of the period.
    age0 = age_at(ids.birth, np.maximum(ids.birth, start))
    present0 = ~ids.newborn
    band0 = _band(age0)
    p_diabetes = np.minimum(params.DIABETES_PREVALENCE[band0] * sex_rr * dep_rr, 0.9)
    prevalent = present0 & (rng.random(n) < p_diabetes)
    duration = rng.random(n) ** 1.2 * np.clip(age0 - 30, 0.5, 30)
    diabetes_onset = np.where(
        prevalent, start - np.floor(duration * params.DAYS_PER_YEAR), NEVER
    ).astype(np.int32)
    p_htn = params.HYPERTENSION_PREVALENCE[band0] * np.where(
        prevalent, params.HYPERTENSION_DIABETES_RR, 1.0
    )
    htn_prevalent = present0 & (rng.random(n) < np.minimum(p_htn, 0.95))
    htn_onset = np.where(
        htn_prevalent, start - np.floor(rng.random(n) * np.clip(age0 - 30, 1, 20) * 365.25), NEVER
    ).astype(np.int32)
    hba1c_level = (
        params.HBA1C_MEAN
        + params.HBA1C_DEPRIVATION_SLOPE * (quintile - 3)
        + rng.normal(0.0, params.HBA1C_PERSON_SD, n)
    )
    egfr = np.clip(
        params.EGFR_INTERCEPT
        - params.EGFR_AGE_SLOPE * np.maximum(age0, 18)
        + rng.normal(0.0, params.EGFR_SD, n),
        8.0,
        140.0,
    )
    statin_draw, statin_kind = rng.random(n), rng.random(n)
    first_line_draw, combination_draw = rng.random(n), rng.random(n)
    obese = rng.random(n)
    clinic = rng.random(n) < params.DIABETOLOGY_CLINIC_FOLLOW_UP
    gets_ald8 = rng.random(n) < 0.86
    ald8_delay = np.floor(rng.random(n) * 2 * 365.25).astype(np.int32)

    for y, year in enumerate(years):
        ys, ye = max(year_start(year), start), min(year_start(year + 1) - 1, end)
        lo[:, y] = np.maximum.reduce([np.full(n, ys), ids.birth, ids.insured_from])
        hi[:, y] = np.minimum(ye, death)
        here = hi[:, y] >= lo[:, y]
        fraction = (hi[:, y] - lo[:, y] + 1).clip(min=0) / params.DAYS_PER_YEAR
        age[:, y] = age_at(ids.birth, np.maximum(ids.birth, ys))
        a = age[:, y].astype(np.float64)
        band = _band(age[:, y])

        # Incident type 2 diabetes and hypertension.
        rate = params.DIABETES_INCIDENCE[band] * sex_rr * dep_rr
        new = here & (diabetes_onset == NEVER) & _chance(rng, rate, fraction)
        diabetes_onset[new] = uniform_days(rng, lo[new, y], hi[new, y])
        diabetic = here & (diabetes_onset <= hi[:, y])
        rate = params.HYPERTENSION_INCIDENCE[band] * np.where(
            diabetic, params.HYPERTENSION_DIABETES_RR, 1.0
        )
        new = here & (htn_onset == NEVER) & _chance(rng, rate, fraction)
        htn_onset[new] = uniform_days(rng, lo[new, y], hi[new, y])
        hypertensive = here & (htn_onset <= hi[:, y])

        # HbA1c of the year and treatment steps.
        years_ill = np.clip((hi[:, y] - diabetes_onset) / params.DAYS_PER_YEAR, 0, 60)
        value = (
            hba1c_level
            + params.HBA1C_YOUNG_EXTRA * (a < 55)
            + params.HBA1C_DRIFT_PER_YEAR * years_ill
            + rng.normal(0.0, params.HBA1C_YEAR_SD, n)
        )
        value = np.clip(value, params.HBA1C_MIN, params.HBA1C_MAX)
        hba1c[diabetic, y] = value[diabetic]
        _treat_diabetes(
            rng,
            diabetic,
            value,
            years_ill,
            obese,
            diabetes_onset,
            lo[:, y],
            hi[:, y],
            drug_start,
            hba1c_level,
        )
        first_line = np.where(
            first_line_draw < 0.45,
            DRUG["ramipril"],
            np.where(first_line_draw < 0.75, DRUG["losartan"], DRUG["amlodipine"]),
        )
        starts = hypertensive & (drug_start[np.arange(n), first_line] == NEVER)
        when = np.maximum(htn_onset, lo[:, y])
        drug_start[starts, first_line[starts]] = when[starts]
        second = np.where(
            first_line == DRUG["amlodipine"], DRUG["hydrochlorothiazide"], DRUG["amlodipine"]
        )
        combined = starts & (combination_draw < np.where(diabetic, 0.55, 0.4))
        drug_start[combined, second[combined]] = when[combined]

        # Kidney function.
        nephropathy = first_event[:, KIND["nephropathy"]] <= hi[:, y]
        previous_egfr = egfr
        decline = (
            params.EGFR_AGE_SLOPE * (a >= 30)
            + params.EGFR_DECLINE_DIABETES * diabetic
            + params.EGFR_DECLINE_HYPERTENSION * hypertensive
            + params.EGFR_DECLINE_NEPHROPATHY * nephropathy
        )
        egfr = np.where(
            here,
            np.clip(
                egfr - decline * fraction + rng.normal(0, 1.0, n) * np.sqrt(fraction), 4.0, 140.0
            ),
            egfr,
        )
        egfr_by_year[:, y] = egfr

        # Complications of diabetes, and infarctions and strokes of everyone else.
        duration = years_ill
        band_of = np.searchsorted(params.HBA1C_BANDS, value, side="right")
        for kind in range(len(params.COMPLICATIONS)):
            hazard = params.COMPLICATION_BASE[kind] * np.exp(
                params.COMPLICATION_BETA_HBA1C[kind] * (value - 7.0)
                + params.COMPLICATION_BETA_AGE[kind] * (a - 65.0) / 10.0
                + params.COMPLICATION_BETA_DURATION[kind] * (duration - 10.0) / 10.0
                + params.COMPLICATION_BETA_DEPRIVATION[kind] * (quintile - 3)
            )
            if kind == KIND["amputation"]:
                ulcer = first_event[:, KIND["foot_ulcer"]] <= hi[:, y]
                hazard = hazard * np.where(ulcer, params.AMPUTATION_AFTER_ULCER_RR, 1.0)
            eligible = diabetic & ((first_event[:, kind] == NEVER) if kind in ONCE else True)
            at_risk[kind] += np.bincount(
                band_of[eligible],
                weights=fraction[eligible],
                minlength=len(params.HBA1C_BAND_LABELS),
            )
            happens = eligible & _chance(rng, hazard, fraction)
            _record(rng, events, happens, kind, lo[:, y], hi[:, y], first_event, value)
        background = ~diabetic & here & (a >= 30)
        cv_rr = (
            np.exp(params.BACKGROUND_CV_AGE_BETA * (a - 65.0) / 10.0)
            * np.where(ids.sex == 1, params.BACKGROUND_CV_MALE_RR, 1.0)
            * np.where(hypertensive, params.BACKGROUND_CV_HYPERTENSION_RR, 1.0)
        )
        for kind, base in ((MI, params.BACKGROUND_MI), (STROKE, params.BACKGROUND_STROKE)):
            happens = background & (first_event[:, kind] == NEVER)
            happens &= _chance(rng, base * cv_rr, fraction)
            _record(rng, events, happens, kind, lo[:, y], hi[:, y], first_event, value)

        # Deaths: fatal events first, then the yearly hazard.
        for kind, fatality, code in (
            (MI, params.MI_FATALITY, 1),
            (STROKE, params.STROKE_FATALITY, 2),
        ):
            struck = (first_event[:, kind] >= lo[:, y]) & (first_event[:, kind] <= hi[:, y])
            dies = struck & (death == NEVER) & (rng.random(n) < fatality)
            death[dies] = np.minimum(
                first_event[dies, kind] + rng.integers(0, 6, dies.sum()), hi[dies, y]
            )
            fatal_event[dies] = code
        q = np.maximum(np.exp(params.MORTALITY_A + params.MORTALITY_B * a), params.MORTALITY_FLOOR)
        q = q * np.where(ids.sex == 1, params.MORTALITY_SEX_RR[1], params.MORTALITY_SEX_RR[2])
        q = q * np.where(diabetic, params.MORTALITY_DIABETES_RR, 1.0)
        q = q * np.where(diabetic & (value >= 9.0), params.MORTALITY_HBA1C_9_RR, 1.0)
        amputated = first_event[:, KIND["amputation"]] <= hi[:, y]
        q = q * np.where(amputated, params.MORTALITY_AMPUTATION_RR, 1.0)
        q = q * np.where(egfr < 30, params.MORTALITY_CKD4_RR, 1.0)
        q = q * params.MORTALITY_DEPRIVATION_RR ** (quintile - 3)
        q = np.minimum(q, 0.9)
        dies = here & (death == NEVER) & (rng.random(n) < 1 - (1 - q) ** fraction)
        death[dies] = uniform_days(rng, lo[dies, y], hi[dies, y])
        hi[:, y] = np.minimum(hi[:, y], death)

        # Statins and aspirin follow the risk profile; ALD for kidney failure.
        had_cv = (first_event[:, MI] <= hi[:, y]) | (first_event[:, STROKE] <= hi[:, y])
        need = np.maximum.reduce(
            [
                0.06 * (a >= 50),
                0.25 * hypertensive,
                0.6 * (diabetic & (a >= 40)),
                0.9 * had_cv,
            ]
        )
        statin = np.where(
            statin_kind < 0.5,
            DRUG["atorvastatin"],
            np.where(statin_kind < 0.8, DRUG["rosuvastatin"], DRUG["simvastatin"]),
        )
        begins = here & (statin_draw < need) & (drug_start[np.arange(n), statin] == NEVER)
        cv_day = np.minimum(first_event[:, MI], first_event[:, STROKE])
        drug_start[begins, statin[begins]] = np.where(
            had_cv[begins], np.maximum(cv_day[begins], lo[begins, y]), lo[begins, y]
        )
        aspirin = here & had_cv & (drug_start[:, DRUG["aspirin"]] == NEVER)
        aspirin &= statin_draw < 0.85
        drug_start[aspirin, DRUG["aspirin"]] = np.maximum(cv_day[aspirin], lo[aspirin, y])
        kidney_failure = here & (egfr < 30) & (previous_egfr >= 30)
        kidney_failure &= statin_kind < 0.8
        ald.add(
            person=np.flatnonzero(kidney_failure),
            number=np.full(kidney_failure.sum(), 19),
            start=uniform_days(rng, lo[kidney_failure, y], hi[kidney_failure, y]),
            icd=np.full(kidney_failure.sum(), "N184"),
        )

    event_columns = events.build(
        person=np.dtype(np.int64),
        kind=np.dtype(np.int64),
        date=np.dtype(np.int32),
        hba1c=np.dtype(np.float64),
    )
    keep = event_columns["date"] <= death[event_columns["person"]]
    event_columns = {name: values[keep] for name, values in event_columns.items()}
    person, event_kind = event_columns["person"], event_columns["kind"]
    fatal = ((event_kind == MI) & (fatal_event[person] == 1)) | (
        (event_kind == STROKE) & (fatal_event[person] == 2)
    )
    event_columns["fatal"] = fatal
    hba1c[~(diabetes_onset[:, None] <= hi)] = np.nan

    cause, in_hospital = _death_causes(
        rng, ids, death, fatal_event, diabetes_onset, first_event, egfr
    )
    _long_term_conditions(
        rng, ald, ids, diabetes_onset, gets_ald8, ald8_delay, first_event, death, cause, end
    )
    bmi = np.where(
        diabetes_onset <= end,
        rng.normal(30.5, 5.5, n),
        rng.normal(22.5, 4.0, n) + 0.06 * np.clip(age0 - 20, 0, 50),
    )
    bmi = np.where(age0 < 18, rng.normal(17.5, 2.5, n), bmi)
    return History(
        years=years,
        lo=lo,
        hi=hi,
        age=age,
        diabetes_onset=diabetes_onset,
        prevalent_diabetes=prevalent,
        hba1c=hba1c,
        hypertension_onset=htn_onset,
        egfr=egfr_by_year,
        bmi=np.clip(bmi, 13.0, 60.0).astype(np.float32),
        drug_start=drug_start,
        events=event_columns,
        death=death,
        death_cause=cause,
        death_in_hospital=in_hospital,
        clinic=clinic,
        at_risk=at_risk,
        ald=ald.build(
            person=np.dtype(np.int64),
            number=np.dtype(np.int64),
            start=np.dtype(np.int32),
            icd=np.dtype("<U5"),
        ),
    )


def _record(
    rng: np.random.Generator,
    events: EventLog,
    happens: Array,
    kind: int,
    lo: Array,
    hi: Array,
    first_event: Array,
    hba1c: Array,
) -> None:
    person = np.flatnonzero(happens)
    date = uniform_days(rng, lo[person], hi[person])
    first_event[person, kind] = np.minimum(first_event[person, kind], date)
    events.add(person=person, kind=np.full(len(person), kind), date=date, hba1c=hba1c[person])


def _treat_diabetes(
    rng: np.random.Generator,
    diabetic: Array,
    value: Array,
    years_ill: Array,
    obese: Array,
    onset: Array,
    lo: Array,
    hi: Array,
    drug_start: Array,
    level: Array,
) -> None:
    """Metformin from diagnosis, then a second drug, then insulin or a GLP-1 analogue."""
    n = len(value)
    metformin = diabetic & (drug_start[:, DRUG["metformin"]] == NEVER)
    drug_start[metformin, DRUG["metformin"]] = np.maximum(onset[metformin], lo[metformin])
    second_kind = np.where(obese < 0.4, DRUG["gliclazide"], DRUG["sitagliptin"])
    has_second = drug_start[np.arange(n), second_kind] != NEVER
    steps = diabetic & ~has_second & (value > 7.5) & (rng.random(n) < 0.6)
    when = uniform_days(rng, lo, np.maximum(hi, lo))
    drug_start[steps, second_kind[steps]] = when[steps]
    level[steps] -= 0.35
    third_kind = np.where(
        obese < 0.3,
        DRUG["liraglutide"],
        np.where(obese < 0.55, DRUG["dulaglutide"], DRUG["insulin_glargine"]),
    )
    has_third = drug_start[np.arange(n), third_kind] != NEVER
    steps = diabetic & has_second & ~has_third & (value > 8.5) & (years_ill > 4)
    steps &= rng.random(n) < 0.5
    drug_start[steps, third_kind[steps]] = when[steps]
    level[steps] -= 0.5


def _death_causes(
    rng: np.random.Generator,
    ids: Identities,
    death: Array,
    fatal_event: Array,
    diabetes_onset: Array,
    first_event: Array,
    egfr: Array,
) -> tuple[Array, Array]:
    """The underlying cause of each death (ICD-10), and whether it happened in hospital."""
    n = len(death)
    dead = death != NEVER
    cause = np.full(n, "", dtype="<U5")
    codes = np.array([code for code, _ in vocab.DEATH_CAUSES])
    weights = np.array([w for _, w in vocab.DEATH_CAUSES])  # (causes, 4 age bands)
    final_age = age_at(ids.birth, np.where(dead, death, ids.birth))
    band = np.searchsorted([45, 65, 80], final_age, side="right")
    table = weights[:, band].T.copy()  # (persons, causes)
    table[:, codes == vocab.DEATH_CAUSE_WOMEN_ONLY] *= (ids.sex == 2)[:, None]
    table[:, codes == vocab.DEATH_CAUSE_MEN_ONLY] *= (ids.sex == 1)[:, None]
    cumulative = np.cumsum(table, axis=1)
    pick = (rng.random(n)[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
    cause[dead] = codes[np.minimum(pick, len(codes) - 1)][dead]
    diabetic = dead & (diabetes_onset <= death)
    complicated = (first_event[:, :5] <= death[:, None]).any(axis=1)
    of_diabetes = diabetic & (rng.random(n) < 0.12)
    cause[of_diabetes] = np.where(complicated[of_diabetes], "E117", vocab.ICD_DIABETES)
    renal = dead & (egfr < 15) & (rng.random(n) < 0.3)
    cause[renal] = vocab.ICD_CKD_BY_STAGE[5]
    mi_codes, stroke_codes = np.array(vocab.ICD_MI), np.array(vocab.ICD_STROKE)
    cause[fatal_event == 1] = mi_codes[rng.integers(0, len(mi_codes), n)][fatal_event == 1]
    cause[fatal_event == 2] = stroke_codes[rng.integers(0, len(stroke_codes), n)][fatal_event == 2]
    outside = np.isin(cause, ["X59", "X84", "R99"])
    usual = ~outside & (rng.random(n) < params.DEATH_IN_HOSPITAL)
    in_hospital = dead & ((fatal_event > 0) | usual)
    return cause, in_hospital


def _long_term_conditions(
    rng: np.random.Generator,
    ald: EventLog,
    ids: Identities,
    diabetes_onset: Array,
    gets_ald8: Array,
    ald8_delay: Array,
    first_event: Array,
    death: Array,
    cause: Array,
    end: int,
) -> None:
    """ALD 8 (diabetes), 13 (coronary disease), 1 (stroke), 30 (cancer)."""
    n = len(death)
    last_day = np.minimum(death, end)
    start = np.maximum(diabetes_onset.astype(np.int64) + ald8_delay, ids.birth)
    granted = gets_ald8 & (diabetes_onset != NEVER) & (start <= last_day)
    ald.add(
        person=np.flatnonzero(granted),
        number=np.full(granted.sum(), 8),
        start=start[granted].astype(np.int32),
        icd=np.full(granted.sum(), vocab.ICD_DIABETES),
    )
    draw = rng.random(n)
    for kind, number, code, share in ((MI, 13, "I251", 0.7), (STROKE, 1, "I639", 0.6)):
        day = first_event[:, kind].astype(np.int64) + 30
        granted = (first_event[:, kind] != NEVER) & (day <= last_day) & (draw < share)
        ald.add(
            person=np.flatnonzero(granted),
            number=np.full(granted.sum(), number),
            start=day[granted].astype(np.int32),
            icd=np.full(granted.sum(), code),
        )
    cancer = np.char.startswith(cause, "C")
    day = death.astype(np.int64) - np.floor((0.5 + 3.5 * rng.random(n)) * 365.25).astype(np.int64)
    granted = cancer & (day >= ids.birth) & (draw < 0.9)
    ald.add(
        person=np.flatnonzero(granted),
        number=np.full(granted.sum(), 30),
        start=day[granted].astype(np.int32),
        icd=cause[granted],
    )
