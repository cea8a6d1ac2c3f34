"""The codes the generator writes, checked against the shipped nomenclatures.

Every ICD-10, ATC, NABM and PRS_NAT_REF code used here must exist in
``havre/cdm/data/snds/nomenclatures``; every "unknown" code used for dirty records must
not. ``vocabulary()`` verifies both once and fails loudly otherwise, so a nomenclature update
cannot silently make the generator write codes the hub rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from havre.cdm.reference import nomenclature
from havre.core.errors import DataValidationError

# PRS_NAT_REF (IR_NAT_V): what a claim line is.
PRS_GP_BEFORE_2017 = "1111"  # C: GP consultation before the G code (May 2017)
PRS_GP = "1110"  # G: general practice consultation
PRS_SPECIALIST = "1112"  # CS: specialist consultation
PRS_PHARMACY_100 = "3311"  # PH1: drugs reimbursed at 100 % (ALD)
PRS_PHARMACY_65 = "3313"  # PH7: drugs reimbursed at 65 %
PRS_BIOLOGY = "3211"  # B: biology acts
PRS_CODES = (
    PRS_GP_BEFORE_2017,
    PRS_GP,
    PRS_SPECIALIST,
    PRS_PHARMACY_100,
    PRS_PHARMACY_65,
    PRS_BIOLOGY,
)

# PSE_SPE_COD: specialty of the executing professional.
SPE_GP, SPE_CARDIOLOGY, SPE_OPHTHALMOLOGY, SPE_NEPHROLOGY, SPE_ENDOCRINOLOGY = 1, 3, 15, 35, 42
OTHER_SPECIALTIES = np.array([2, 4, 5, 6, 7, 8, 12, 13, 14, 33], dtype=np.int64)

# NABM (IR_BIO_R) lab acts.
NABM_HBA1C, NABM_GLUCOSE, NABM_CREATININE = "1577", "552", "592"
NABM_LIPIDS, NABM_MICROALBUMIN, NABM_BLOOD_COUNT = "996", "1133", "1104"
NABM_CODES = (
    NABM_HBA1C,
    NABM_GLUCOSE,
    NABM_CREATININE,
    NABM_LIPIDS,
    NABM_MICROALBUMIN,
    NABM_BLOOD_COUNT,
)
B_LETTER_EUROS = 0.27

# Drugs: ATC code, price of a box in euros, whether it is a chronic treatment.
DRUGS: tuple[tuple[str, str, float], ...] = (
    ("metformin", "A10BA02", 5.90),
    ("gliclazide", "A10BB09", 4.80),
    ("sitagliptin", "A10BH01", 31.50),
    ("insulin_glargine", "A10AE04", 58.20),
    ("liraglutide", "A10BX07", 89.90),
    ("dulaglutide", "A10BX14", 79.60),
    ("ramipril", "C09AA05", 4.40),
    ("losartan", "C09CA01", 6.10),
    ("amlodipine", "C08CA01", 3.90),
    ("hydrochlorothiazide", "C03AA03", 2.60),
    ("atorvastatin", "C10AA05", 8.30),
    ("rosuvastatin", "C10AA07", 9.60),
    ("simvastatin", "C10AA01", 5.20),
    ("aspirin", "B01AC06", 2.70),
    ("amoxicillin", "J01CA04", 3.10),
    ("paracetamol", "N02BE01", 2.10),
    ("ibuprofen", "M01AE01", 2.40),
    ("omeprazole", "A02BC01", 4.30),
    ("salbutamol", "R03AC02", 4.90),
    ("alprazolam", "N05BA12", 1.90),
)
DRUG_INDEX = {name: index for index, (name, _, _) in enumerate(DRUGS)}
ACUTE_DRUGS = ("amoxicillin", "paracetamol", "ibuprofen", "omeprazole", "salbutamol", "alprazolam")
ACUTE_DRUG_WEIGHTS = np.array([0.30, 0.38, 0.12, 0.10, 0.05, 0.05])
DIABETES_DRUGS = frozenset(
    {"metformin", "gliclazide", "sitagliptin", "insulin_glargine", "liraglutide", "dulaglutide"}
)

# ICD-10 codes (IR_CIM_V spelling: no dot) by use.
ICD_DIABETES = "E119"
ICD_DIABETES_BY_COMPLICATION = {
    "retinopathy": ("E113", "H360"),
    "nephropathy": ("E112", "N083"),
    "neuropathy": ("E114", "G632"),
    "foot_ulcer": ("E115", "L97"),
    "amputation": ("E115", "L97"),
}
ICD_MI = ("I214", "I210", "I211", "I219")
ICD_STROKE = ("I639", "I634", "I635")
ICD_HYPERTENSION = "I10"
ICD_CKD_BY_STAGE = {3: "N183", 4: "N184", 5: "N185"}
ICD_OBESITY = "E669"
ICD_PERIPHERAL_ARTERY = "I702"
ICD_DELIVERY, ICD_LIVE_BIRTH = "O800", "Z370"

# Underlying causes of death other than the modelled events, with weights by age band
# (<45, 45-64, 65-79, 80+).
DEATH_CAUSES: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("C349", (0.05, 0.16, 0.10, 0.04)),  # lung cancer
    ("C189", (0.02, 0.05, 0.05, 0.04)),  # colon cancer
    ("C259", (0.01, 0.04, 0.04, 0.02)),  # pancreatic cancer
    ("C509", (0.03, 0.05, 0.03, 0.02)),  # breast cancer (women only, see below)
    ("C61", (0.0, 0.01, 0.03, 0.03)),  # prostate cancer (men only)
    ("I251", (0.02, 0.07, 0.08, 0.08)),  # chronic ischaemic heart disease
    ("I509", (0.01, 0.02, 0.05, 0.10)),  # heart failure
    ("I64", (0.01, 0.02, 0.04, 0.06)),  # stroke, not specified
    ("J449", (0.0, 0.03, 0.05, 0.05)),  # COPD
    ("G309", (0.0, 0.01, 0.05, 0.12)),  # Alzheimer's disease
    ("F03", (0.0, 0.0, 0.02, 0.08)),  # dementia
    ("J189", (0.02, 0.02, 0.04, 0.07)),  # pneumonia
    ("X59", (0.20, 0.05, 0.03, 0.04)),  # accident
    ("X84", (0.15, 0.04, 0.01, 0.005)),  # intentional self-harm
    ("R99", (0.10, 0.05, 0.05, 0.08)),  # ill-defined
    ("C80", (0.05, 0.10, 0.08, 0.04)),  # cancer, site unspecified
)
DEATH_CAUSE_WOMEN_ONLY, DEATH_CAUSE_MEN_ONLY = "C509", "C61"


@dataclass(frozen=True)
class StayReason:
    """A reason for a hospital stay other than the modelled complications."""

    name: str
    diagnosis: str
    ghm: str
    mean_days: float
    weights: tuple[float, float, float, float, float]  # by band 0-14, 15-44, 45-64, 65-79, 80+
    sex: int = 0  # 0 both, 1 men, 2 women


STAY_REASONS: tuple[StayReason, ...] = (
    StayReason("pneumonia", "J189", "04M05", 6.0, (3.0, 1.0, 1.0, 2.0, 4.0)),
    StayReason("bronchiolitis", "J219", "04M18", 3.0, (3.0, 0.0, 0.0, 0.0, 0.0)),
    StayReason("gastroenteritis", "A099", "06M11", 2.0, (3.0, 0.8, 0.4, 0.5, 1.0)),
    StayReason("appendicitis", "K358", "06C09", 3.0, (2.5, 2.0, 0.5, 0.2, 0.1)),
    StayReason("cholecystectomy", "K802", "07C14", 2.0, (0.0, 1.5, 2.0, 1.5, 0.5)),
    StayReason("colonoscopy", "Z121", "06K04", 0.0, (0.0, 0.3, 3.0, 3.0, 0.8)),
    StayReason("cataract", "H251", "02C05", 0.0, (0.0, 0.0, 0.5, 4.0, 3.0)),
    StayReason("knee_replacement", "M171", "08C24", 5.0, (0.0, 0.0, 0.8, 2.0, 0.8)),
    StayReason("hip_fracture", "S7200", "08C47", 9.0, (0.0, 0.05, 0.2, 1.0, 4.0)),
    StayReason("heart_failure", "I509", "05M09", 8.0, (0.0, 0.02, 0.5, 2.0, 4.0)),
    StayReason("copd", "J441", "04M20", 7.0, (0.0, 0.0, 0.6, 1.5, 1.5)),
    StayReason("syncope", "R55", "05M17", 2.0, (0.2, 0.5, 0.7, 1.0, 1.5)),
    StayReason("chest_pain", "R074", "05M13", 1.0, (0.0, 0.7, 1.0, 1.0, 0.5)),
    StayReason("atrial_fibrillation", "I489", "05M12", 3.0, (0.0, 0.1, 0.6, 1.5, 1.5)),
    StayReason("head_injury", "S0600", "01M21", 1.0, (1.5, 1.0, 0.3, 0.3, 1.0)),
)

# Stays for the modelled events: (principal diagnosis is drawn from vocab above) GHM root and
# mean length of stay; an amputation is told apart by its GHM root 10C02 (and, in the FHIR
# export, its Procedure) since PMSI procedures (CCAM) are not part of the delivery.
EVENT_STAYS = {
    "retinopathy": ("02C11", 0.0),
    "nephropathy": ("11M04", 4.0),
    "neuropathy": ("10M02", 3.0),
    "foot_ulcer": ("09M05", 9.0),
    "amputation": ("10C02", 16.0),
    "myocardial_infarction": ("05K06", 5.0),
    "stroke": ("01M30", 11.0),
}

# FHIR code systems and codes.
SYSTEM_INS = "urn:oid:1.2.250.1.213.1.4.8"
SYSTEM_ICD10 = "http://hl7.org/fhir/sid/icd-10"
SYSTEM_LOINC = "http://loinc.org"
SYSTEM_ATC = "http://www.whocc.no/atc"
SYSTEM_SNOMED = "http://snomed.info/sct"
SYSTEM_UCUM = "http://unitsofmeasure.org"
SYSTEM_FINESS = "urn:oid:1.2.250.1.71.4.2.2"
SYSTEM_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SYSTEM_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SYSTEM_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SYSTEM_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"

LOINC_HBA1C = ("4548-4", "Hémoglobine A1c/Hémoglobine totale [Fraction massique] Sang", "%")
LOINC_EGFR = (
    "62238-1",
    "DFG estimé CKD-EPI [Volume/Temps/Surface] Sérum/Plasma",
    "mL/min/{1.73_m2}",
)
LOINC_BMI = ("39156-5", "Indice de masse corporelle [Rapport]", "kg/m2")
LOINC_BP_PANEL = ("85354-9", "Pression artérielle, panel")
LOINC_SYSTOLIC = ("8480-6", "Pression artérielle systolique", "mm[Hg]")
LOINC_DIASTOLIC = ("8462-4", "Pression artérielle diastolique", "mm[Hg]")

SNOMED_PROCEDURES = {
    "photocoagulation": ("312713003", "Photocoagulation panrétinienne"),
    "debridement": ("312775003", "Débridement d'ulcère"),
    "amputation_below_knee": ("84367004", "Amputation sous le genou"),
    "amputation_toe": ("371186005", "Amputation d'orteil"),
    "coronary_angioplasty": ("415070008", "Intervention coronarienne percutanée"),
    "fundus_exam": ("53524009", "Examen du fond d'œil"),
}

# Codes that look right but are in no vocabulary: material for `unknown_code` defects.
UNKNOWN_ICD10 = ("E119X", "I2199", "L9799", "Z9990")
UNKNOWN_ATC = ("A10BK99", "C09ZZ01", "N02BE99")
UNKNOWN_NABM = ("9990", "8888", "0001")
UNKNOWN_PRS_NAT = ("9998", "9997")
UNKNOWN_LOINC = ("99999-9", "4548-5")


@dataclass(frozen=True)
class Vocabulary:
    """Labels and prices looked up in the nomenclatures, after checking every code."""

    icd10_labels: dict[str, str]
    atc_labels: dict[str, str]
    nabm_coefficients: dict[str, float]
    cip13: dict[str, str]


def _codes(name: str, column: str) -> dict[str, str]:
    table = nomenclature(name)
    labels = table.column(table.column_names[1]).to_pylist()
    return dict(zip(table.column(column).to_pylist(), labels, strict=True))


def used_icd10() -> set[str]:
    codes = {ICD_DIABETES, ICD_HYPERTENSION, ICD_OBESITY, ICD_PERIPHERAL_ARTERY, ICD_DELIVERY}
    codes |= {ICD_LIVE_BIRTH, *ICD_MI, *ICD_STROKE, *ICD_CKD_BY_STAGE.values()}
    codes |= {code for pair in ICD_DIABETES_BY_COMPLICATION.values() for code in pair}
    codes |= {code for code, _ in DEATH_CAUSES} | {reason.diagnosis for reason in STAY_REASONS}
    return codes


def _check(kind: str, used: set[str], known: set[str], unknown: tuple[str, ...]) -> None:
    missing = sorted(used - known)
    if missing:
        raise DataValidationError(
            f"the shipped {kind} nomenclature lacks codes the generator writes: {missing}",
            hint="update havre/synth/vocab.py to codes present in havre/cdm/data",
        )
    clashing = sorted(set(unknown) & known)
    if clashing:
        raise DataValidationError(
            f"codes meant to be unknown exist in the {kind} nomenclature: {clashing}",
            hint="pick other 'unknown' codes in havre/synth/vocab.py",
        )


def cip13_for(index: int) -> str:
    """A synthetic CIP13 (34009 + 7 digits + EAN-13 check digit); no real CIP is shipped."""
    body = f"34009{3_000_000 + 7_919 * (index + 1):07d}"
    weights = [1 if position % 2 == 0 else 3 for position in range(12)]
    check = (10 - sum(int(digit) * w for digit, w in zip(body, weights, strict=True)) % 10) % 10
    return body + str(check)


@cache
def vocabulary() -> Vocabulary:
    icd10 = _codes("IR_CIM_V", "CIM_COD")
    _check("ICD-10 (IR_CIM_V)", used_icd10(), set(icd10), UNKNOWN_ICD10)
    atc = _codes("openmedic_ATC5", "ATC5")
    _check("ATC (openmedic_ATC5)", {atc for _, atc, _ in DRUGS}, set(atc), UNKNOWN_ATC)
    nature = _codes("IR_NAT_V", "PRS_NAT")
    _check("PRS_NAT_REF (IR_NAT_V)", set(PRS_CODES), set(nature), UNKNOWN_PRS_NAT)
    bio = nomenclature("IR_BIO_R")
    coefficients = dict(
        zip(
            bio.column("BIO_PRS_IDE").to_pylist(),
            bio.column("BIO_TAR_COF").to_pylist(),
            strict=True,
        )
    )
    _check("NABM (IR_BIO_R)", set(NABM_CODES), set(coefficients), UNKNOWN_NABM)
    return Vocabulary(
        icd10_labels={code: icd10[code] for code in used_icd10()},
        atc_labels={code: atc[code] for _, code, _ in DRUGS},
        nabm_coefficients={code: float(coefficients[code] or 0.0) for code in NABM_CODES},
        cip13={atc_code: cip13_for(index) for index, (_, atc_code, _) in enumerate(DRUGS)},
    )


def dotted_icd10(code: str) -> str:
    """The FHIR spelling of an ICD-10 code: a dot after the category (E113 -> E11.3)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"
