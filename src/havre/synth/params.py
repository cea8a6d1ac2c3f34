"""Parameters of the synthetic population model (documented in docs/synth.md).

Numbers are rounded public orders of magnitude for France, chosen so that a study finds the
expected patterns; they are model parameters, not statistics to quote.
"""

from __future__ import annotations

import numpy as np

MODEL_VERSION = 1
CHUNK_PERSONS = 25_000
"""Persons per chunk. Fixed: the output depends on it, so changing it changes every file."""

DAYS_PER_YEAR = 365.25

# Approximate population of France on 1 January 2024 by 5-year age band and sex, in
# thousands (INSEE publishes the exact pyramid; these are rounded from public knowledge).
# Bands 0-4, 5-9, ..., 90-94, 95+.
# fmt: off
PYRAMID_MALE = np.array([1730, 1930, 2090, 2110, 1960, 1860, 1990, 2110, 2110, 2090,
                         2200, 2170, 2020, 1850, 1720, 1250, 790, 480, 190, 40], dtype=np.float64)
PYRAMID_FEMALE = np.array([1650, 1850, 1990, 2010, 1900, 1900, 2080, 2200, 2170, 2130,
                           2280, 2260, 2180, 2070, 1990, 1560, 1110, 830, 430, 140],
                          dtype=np.float64)
# fmt: on
PYRAMID_BAND_YEARS = 5
MAX_AGE = 104

BIRTH_RATE = 0.0105
"""Births per person and year (about 700,000 a year for 68 million)."""

BORN_ABROAD = 0.11
BORN_IN_RESIDENCE_DEPARTEMENT = 0.62
# INSEE country codes (the NIR's "département 99" followed by the country) and weights:
# Morocco, Algeria, Tunisia, Portugal, Italy, Spain, Germany, United Kingdom, Belgium,
# Turkey, Senegal, Viet Nam.
# fmt: off
BIRTH_COUNTRIES = ("99350", "99352", "99351", "99139", "99127", "99134", "99109", "99132",
                   "99131", "99208", "99341", "99243")
BIRTH_COUNTRY_WEIGHTS = np.array([16, 15, 7, 12, 6, 5, 4, 3, 3, 5, 4, 2], dtype=np.float64)
# fmt: on

# CMU-C / C2S coverage by deprivation quintile (under 65; a third of that from 65 on).
CMU_BY_QUINTILE = np.array([0.03, 0.05, 0.07, 0.10, 0.16])
MSA_SHARE_URBAN = 0.03
MSA_SHARE_RURAL = 0.12

# --- Type 2 diabetes -----------------------------------------------------------------
# Age bands used by the prevalence and incidence tables (lower bounds, years).
AGE_BANDS = np.array([0, 20, 30, 40, 50, 60, 70, 80, 90])
DIABETES_PREVALENCE = np.array([0.0004, 0.002, 0.007, 0.026, 0.063, 0.115, 0.16, 0.155, 0.125])
DIABETES_INCIDENCE = np.array(
    [0.00003, 0.0004, 0.0009, 0.0018, 0.0036, 0.0055, 0.006, 0.005, 0.004]
)
DIABETES_SEX_RR = {1: 1.22, 2: 0.80}
DIABETES_DEPRIVATION_RR = np.array([0.70, 0.85, 1.00, 1.20, 1.45])

HYPERTENSION_PREVALENCE = np.array([0.001, 0.01, 0.03, 0.08, 0.19, 0.33, 0.47, 0.56, 0.58])
HYPERTENSION_INCIDENCE = np.array([0.0, 0.002, 0.005, 0.012, 0.02, 0.03, 0.035, 0.035, 0.03])
HYPERTENSION_DIABETES_RR = 1.9

# HbA1c (%) of a diabetic: a personal level plus a slow drift with disease duration.
HBA1C_MEAN = 7.0
HBA1C_PERSON_SD = 0.85
HBA1C_DEPRIVATION_SLOPE = 0.18  # per quintile above 3
HBA1C_YOUNG_EXTRA = 0.35  # under 55
HBA1C_DRIFT_PER_YEAR = 0.04
HBA1C_YEAR_SD = 0.35
HBA1C_MIN, HBA1C_MAX = 5.2, 14.0
HBA1C_BANDS = np.array([7.0, 8.0, 9.0])  # cut points: <7, 7-8, 8-9, >=9
HBA1C_BAND_LABELS = ("<7", "7-8", "8-9", ">=9")

# Complications of diabetes: yearly hazard at the reference profile (HbA1c 7 %, age 65,
# 10 years of diabetes, quintile 3) and log hazard ratios per unit of each factor.
COMPLICATIONS = (
    "retinopathy", "nephropathy", "neuropathy", "foot_ulcer", "amputation",
    "myocardial_infarction", "stroke",
)  # fmt: skip
COMPLICATION_BASE = np.array([0.016, 0.012, 0.012, 0.006, 0.0012, 0.008, 0.006])
COMPLICATION_BETA_HBA1C = np.array([0.40, 0.38, 0.35, 0.35, 0.40, 0.15, 0.12])  # per %
COMPLICATION_BETA_AGE = np.array([0.0, 0.15, 0.2, 0.2, 0.2, 0.45, 0.55])  # per 10 years
COMPLICATION_BETA_DURATION = np.array([0.5, 0.4, 0.4, 0.3, 0.3, 0.1, 0.1])  # per 10 years
COMPLICATION_BETA_DEPRIVATION = np.array([0.08, 0.08, 0.08, 0.10, 0.12, 0.08, 0.08])
AMPUTATION_AFTER_ULCER_RR = 4.0
# Without diabetes: myocardial infarction and stroke at age 65 (and 10 years older x e^0.6).
BACKGROUND_MI, BACKGROUND_STROKE = 0.0022, 0.0018
BACKGROUND_CV_AGE_BETA = 0.6
BACKGROUND_CV_MALE_RR = 1.5
BACKGROUND_CV_HYPERTENSION_RR = 1.6
MI_FATALITY, STROKE_FATALITY = 0.08, 0.12

# --- Mortality ---------------------------------------------------------------------------
# Gompertz: yearly death probability exp(a + b * age), floored for the young.
MORTALITY_A, MORTALITY_B = -11.4, 0.103
MORTALITY_FLOOR = 0.00015
MORTALITY_SEX_RR = {1: 1.35, 2: 0.72}
MORTALITY_DIABETES_RR = 1.45
MORTALITY_HBA1C_9_RR = 1.25
MORTALITY_AMPUTATION_RR = 1.8
MORTALITY_CKD4_RR = 1.8
MORTALITY_DEPRIVATION_RR = 1.07  # per quintile above 3
DEATH_IN_HOSPITAL = 0.5

# --- Kidney function ---------------------------------------------------------------------
EGFR_INTERCEPT, EGFR_AGE_SLOPE, EGFR_SD = 128.0, 0.85, 11.0
# Yearly decline (ml/min/1.73 m2): ageing from 30 (EGFR_AGE_SLOPE), plus these.
EGFR_DECLINE_DIABETES, EGFR_DECLINE_HYPERTENSION, EGFR_DECLINE_NEPHROPATHY = 0.9, 0.4, 3.0

# --- Care use (per person-year) ----------------------------------------------------------
GP_RATE_BY_BAND = np.array([1.8, 0.9, 0.9, 1.0, 1.2, 1.5, 2.0, 2.6, 3.0])
GP_RATE_DIABETES, GP_RATE_HYPERTENSION = 1.5, 0.6
SPECIALIST_RATE = 0.22
ACUTE_DRUG_AFTER_GP = 0.30
CARDIOLOGY_RATE_HYPERTENSION, CARDIOLOGY_RATE_AFTER_MI = 0.25, 1.0
NEPHROLOGY_RATE_CKD = 1.0
ENDOCRINOLOGY_RATE = {False: 0.15, True: 0.05}  # by rurality
ROUTINE_BIOLOGY_BY_BAND = np.array([0.05, 0.12, 0.15, 0.2, 0.28, 0.35, 0.4, 0.4, 0.35])

# Follow-up of diabetics: worse in rural and deprived areas.
EYE_EXAM_PROBABILITY = 0.58
HBA1C_TESTS_PER_YEAR = 2.9
FOLLOW_UP_RURAL_FACTOR = {"eye": 0.70, "hba1c": 0.75}
FOLLOW_UP_DEPRIVATION_FACTOR = np.array([1.08, 1.04, 1.0, 0.92, 0.82])

DISPENSING_INTERVAL_DAYS = 91
ADHERENCE = 0.9

# --- Hospital ------------------------------------------------------------------------------
HOSPITAL_RATE_BY_BAND = np.array([0.05, 0.04, 0.05, 0.06, 0.09, 0.13, 0.2, 0.3, 0.35])
DELIVERY_RATE_WOMEN_20_44 = 0.055
HOSPITAL_GROUP_DEPARTEMENTS = ("75", "92", "93", "94")
"""The hospital group whose EHR is exported as FHIR: the public hospitals of these départements."""
HOSPITAL_GROUP_REFERRAL = {"77": 0.12, "78": 0.12, "91": 0.12, "95": 0.12}
HOSPITAL_PUBLIC_SHARE = 0.65
DIABETOLOGY_CLINIC_FOLLOW_UP = 0.35
"""Share of the diabetics living in the group's area followed in its diabetology clinic."""
