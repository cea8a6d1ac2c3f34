"""Hospital stays (PMSI MCO) of a chunk: complications, infarctions and strokes, deliveries,
everyday reasons for admission, and the last stay of people who die in hospital.

Each stay gets a principal diagnosis, associated diagnoses for the person's chronic
conditions (diabetes, hypertension, kidney disease, obesity), a GHM, an establishment, and,
when the establishment belongs to the exporting hospital group, a place in the FHIR export.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import params, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import age_at, uniform_days, year_of
from havre.synth.geography import (
    KIND_PRIVATE_CLINIC,
    KIND_PUBLIC_HOSPITAL,
    Providers,
    frame,
    hospital_group,
    numbers,
)
from havre.synth.history import MI, STROKE, History
from havre.synth.population import Identities

MAX_ASSOCIATED = 5
ICD_PALLIATIVE, GHM_PALLIATIVE = "Z515", "23Z02"
DELIVERY_GHM = "14Z14"
# FHIR procedures of a stay (index into PROCEDURES; -1 none).
PROCEDURES = tuple(vocab.SNOMED_PROCEDURES)
NO_PROCEDURE = -1


def _procedure(name: str) -> int:
    return PROCEDURES.index(name)


def simulate(
    ids: Identities, history: History, providers: Providers, end: int, rng: np.random.Generator
) -> dict[str, Array]:
    parts = [
        _event_stays(ids, history, rng),
        _everyday_stays(ids, history, rng),
        _last_stays(ids, history, rng),
    ]
    stays = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    person = stays["person"]
    exit_day = stays["entry"] + stays["days"]
    # A stay is delivered once it has ended, within the period and the person's life.
    kept = (exit_day <= np.minimum(end, history.death[person])) & (
        stays["entry"] >= ids.insured_from[person]
    )
    stays = {name: values[kept] for name, values in stays.items()}
    stays["exit"] = (stays["entry"] + stays["days"]).astype(np.int32)
    _associated_diagnoses(stays, ids, history, rng)
    _establishments(stays, ids, providers, rng)
    age = age_at(ids.birth[stays["person"]], stays["entry"])
    severity = 1 + (age >= 70) + (stays["associated"] != "").sum(axis=1).clip(max=2)
    level = np.where(stays["days"] == 0, "J", severity.astype(str))
    fixed = stays["ghm"] == DELIVERY_GHM
    level = np.where(fixed, np.where(rng.random(len(level)) < 0.6, "A", "B"), level)
    level = np.where(stays["ghm"] == GHM_PALLIATIVE, "Z", level)
    stays["ghm"] = np.char.add(stays["ghm"].astype("<U5"), level.astype("<U1"))
    stays["age"] = age
    order = np.lexsort((stays["entry"], stays["person"]))
    return {name: values[order] for name, values in stays.items()}


def _columns(
    person: Array,
    entry: Array,
    days: Array,
    dp: Array,
    ghm: Array,
    procedure: Array,
    death: bool = False,
    dr: Array | None = None,
) -> dict[str, Array]:
    size = len(person)
    associated = np.full((size, MAX_ASSOCIATED), "", dtype="<U5")
    return {
        "person": person.astype(np.int64),
        "entry": entry.astype(np.int32),
        "days": days.astype(np.int32),
        "dp": dp.astype("<U5"),
        "dr": (np.full(size, "", dtype="<U5") if dr is None else dr.astype("<U5")),
        "ghm": ghm.astype("<U5"),
        "procedure": procedure.astype(np.int8),
        "died": np.full(size, death),
        "associated": associated,
    }


def _length(rng: np.random.Generator, mean: Array) -> Array:
    """Length of stay in days: 0 for day cases, else 1 + Poisson(mean - 1)."""
    return np.where(mean <= 0, 0, 1 + rng.poisson(np.maximum(mean - 1, 0)))


def _event_stays(ids: Identities, history: History, rng: np.random.Generator) -> dict[str, Array]:
    events = history.events
    person, kind, date = events["person"], events["kind"], events["date"]
    size = len(person)
    names = np.array(params.COMPLICATIONS)[kind]
    ghm = np.array([vocab.EVENT_STAYS[name][0] for name in params.COMPLICATIONS])[kind]
    mean = np.array([vocab.EVENT_STAYS[name][1] for name in params.COMPLICATIONS])[kind]
    days = _length(rng, mean)
    dp = np.full(size, "", dtype="<U5")
    first_da = np.full(size, "", dtype="<U5")
    for name, (principal, associated) in vocab.ICD_DIABETES_BY_COMPLICATION.items():
        dp[names == name] = principal
        first_da[names == name] = associated
    mi_codes, stroke_codes = np.array(vocab.ICD_MI), np.array(vocab.ICD_STROKE)
    dp[kind == MI] = mi_codes[rng.integers(0, len(mi_codes), size)][kind == MI]
    dp[kind == STROKE] = stroke_codes[rng.integers(0, len(stroke_codes), size)][kind == STROKE]
    medical_mi = (kind == MI) & (rng.random(size) < 0.3)
    ghm[medical_mi] = "05M04"
    procedure = np.full(size, NO_PROCEDURE, dtype=np.int8)
    procedure[names == "retinopathy"] = _procedure("photocoagulation")
    procedure[names == "foot_ulcer"] = _procedure("debridement")
    procedure[names == "amputation"] = np.where(
        rng.random(size) < 0.4, _procedure("amputation_below_knee"), _procedure("amputation_toe")
    )[names == "amputation"]
    procedure[(kind == MI) & ~medical_mi] = _procedure("coronary_angioplasty")
    fatal = events["fatal"]
    days = np.where(fatal, np.maximum(history.death[person] - date, 0), days)
    stays = _columns(person, date, days, dp, ghm, procedure)
    stays["died"] = fatal
    stays["associated"][:, 0] = first_da
    amputation = names == "amputation"
    stays["associated"][amputation, 1] = vocab.ICD_PERIPHERAL_ARTERY
    return stays


def _everyday_stays(
    ids: Identities, history: History, rng: np.random.Generator
) -> dict[str, Array]:
    reasons = vocab.STAY_REASONS
    weights = np.array([reason.weights for reason in reasons])  # (reasons, 5 bands)
    sex_rule = np.array([reason.sex for reason in reasons])
    persons, entries, picks = [], [], []
    delivery_persons, delivery_entries = [], []
    for y in range(len(history.years)):
        lo, hi = history.lo[:, y], history.hi[:, y]
        fraction = np.where(hi >= lo, (hi - lo + 1) / params.DAYS_PER_YEAR, 0.0)
        age = history.age[:, y]
        band = np.clip(np.searchsorted(params.AGE_BANDS, age, side="right") - 1, 0, None)
        counts = rng.poisson(params.HOSPITAL_RATE_BY_BAND[band] * fraction)
        person = np.repeat(np.arange(len(counts)), counts)
        coarse = np.searchsorted([15, 45, 65, 80], age[person], side="right")
        table = weights[:, coarse].T * (
            (sex_rule == 0) | (sex_rule == ids.sex[person][:, None])
        )  # (stays, reasons)
        cumulative = np.cumsum(table, axis=1)
        pick = (rng.random(len(person))[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
        persons.append(person)
        entries.append(uniform_days(rng, lo[person], hi[person]))
        picks.append(np.minimum(pick, len(reasons) - 1))
        women = (ids.sex == 2) & (age >= 20) & (age < 45)
        births = women & (
            rng.random(len(women)) < 1 - np.exp(-params.DELIVERY_RATE_WOMEN_20_44 * fraction)
        )
        delivery_persons.append(np.flatnonzero(births))
        delivery_entries.append(uniform_days(rng, lo[births], hi[births]))
    person, entry, pick = (np.concatenate(parts) for parts in (persons, entries, picks))
    mean = np.array([reason.mean_days for reason in reasons])[pick]
    everyday = _columns(
        person,
        entry,
        _length(rng, mean),
        np.array([r.diagnosis for r in reasons])[pick],
        np.array([r.ghm for r in reasons])[pick],
        np.full(len(person), NO_PROCEDURE),
    )
    person, entry = np.concatenate(delivery_persons), np.concatenate(delivery_entries)
    size = len(person)
    delivery = _columns(
        person,
        entry,
        2 + rng.poisson(1.5, size),
        np.full(size, vocab.ICD_DELIVERY),
        np.full(size, DELIVERY_GHM),
        np.full(size, NO_PROCEDURE),
    )
    delivery["associated"][:, 0] = vocab.ICD_LIVE_BIRTH
    return {name: np.concatenate([everyday[name], delivery[name]]) for name in everyday}


def _last_stays(ids: Identities, history: History, rng: np.random.Generator) -> dict[str, Array]:
    """The stay that ends with a death in hospital (other than a fatal infarction or stroke)."""
    fatal_people = history.events["person"][history.events["fatal"]]
    last = history.death_in_hospital.copy()
    last[fatal_people] = False
    person = np.flatnonzero(last)
    size = len(person)
    days = 1 + rng.poisson(7.0, size)
    entry = np.maximum(history.death[person] - days, ids.birth[person])
    days = history.death[person] - entry
    palliative = rng.random(size) < 0.4
    cause = history.death_cause[person]
    dp = np.where(palliative, ICD_PALLIATIVE, cause)
    dr = np.where(palliative, cause, "")
    ghm = _ghm_for(cause)
    ghm = np.where(palliative, GHM_PALLIATIVE, ghm)
    stays = _columns(person, entry, days, dp, ghm, np.full(size, NO_PROCEDURE), death=True, dr=dr)
    return stays


def _ghm_for(codes: Array) -> Array:
    by_diagnosis = {reason.diagnosis: reason.ghm for reason in vocab.STAY_REASONS}
    ghm = np.full(len(codes), "23M20", dtype="<U5")
    for diagnosis, root in by_diagnosis.items():
        ghm[codes == diagnosis] = root
    ghm[np.char.startswith(codes, "C")] = "17M06"
    ghm[np.isin(codes, vocab.ICD_MI)] = "05M04"
    ghm[np.isin(codes, [*vocab.ICD_STROKE, "I64"])] = "01M30"
    ghm[np.isin(codes, ["E117", "E119"])] = "10M02"
    return ghm


def _associated_diagnoses(
    stays: dict[str, Array], ids: Identities, history: History, rng: np.random.Generator
) -> None:
    """Chronic conditions coded as associated diagnoses, after the stay's own ones."""
    person, entry = stays["person"], stays["entry"]
    year = np.clip(year_of(entry) - history.years[0], 0, len(history.years) - 1)
    egfr = history.egfr[person, year]
    stage = np.select([egfr < 15, egfr < 30, egfr < 60], [5, 4, 3], 0)
    dp = stays["dp"]
    adult = age_at(ids.birth[person], entry) >= 18
    candidates = [
        np.where(
            (history.diabetes_onset[person] <= entry) & ~np.char.startswith(dp, "E11"),
            vocab.ICD_DIABETES,
            "",
        ),
        np.where(history.hypertension_onset[person] <= entry, vocab.ICD_HYPERTENSION, ""),
        np.select(
            [stage == 5, stage == 4, stage == 3],
            [vocab.ICD_CKD_BY_STAGE[5], vocab.ICD_CKD_BY_STAGE[4], vocab.ICD_CKD_BY_STAGE[3]],
            "",
        ),
        np.where(
            adult & (history.bmi[person] >= 30) & (rng.random(len(person)) < 0.4),
            vocab.ICD_OBESITY,
            "",
        ),
    ]
    associated = stays["associated"]
    for values in candidates:
        free = (associated == "").argmax(axis=1)
        room = (associated == "").any(axis=1) & (values != "")
        room &= (values != dp) & ~(associated == values[:, None]).any(axis=1)
        associated[np.flatnonzero(room), free[room]] = values[room]
    # Associated diagnoses are listed without gaps.
    order = np.argsort(associated == "", axis=1, kind="stable")
    stays["associated"] = np.take_along_axis(associated, order, axis=1)


def _establishments(
    stays: dict[str, Array], ids: Identities, providers: Providers, rng: np.random.Generator
) -> None:
    """Each stay's establishment: a public hospital or a private clinic of the person's
    département, or a hospital of the group for referrals from around it."""
    geo = frame()
    size = len(stays["person"])
    departement = ids.departement[stays["person"]].astype(np.int64)
    group = hospital_group()
    referral = np.zeros(len(geo.departements))
    for code, share in params.HOSPITAL_GROUP_REFERRAL.items():
        referral[geo.departements.index(code)] = share
    referred = rng.random(size) < referral[departement]
    departement = np.where(referred, group[0], departement)
    public = referred | (rng.random(size) < params.HOSPITAL_PUBLIC_SHARE)
    public |= np.isin(stays["procedure"], [_procedure("coronary_angioplasty")]) & (
        rng.random(size) < 0.5
    )
    pool = np.where(
        public, providers.public_hospitals[departement], providers.private_clinics[departement]
    )
    stays["eta_departement"] = departement
    stays["eta_public"] = public
    stays["eta_index"] = np.floor(rng.random(size) * pool).astype(np.int64)
    stays["in_group"] = public & np.isin(departement, group)
    eta = pc.if_else(
        pa.array(public),
        numbers(departement, KIND_PUBLIC_HOSPITAL, stays["eta_index"], 6),
        numbers(departement, KIND_PRIVATE_CLINIC, stays["eta_index"], 6),
    )
    stays["eta_num"] = np.array(eta.to_pylist(), dtype=object)
    stays["sortie"] = np.where(stays["died"], "9", np.where(rng.random(size) < 0.05, "7", "8"))
    stays["entree"] = np.where(rng.random(size) < 0.05, "7", "8")
