"""The FHIR R4 resources Havre maps, what it reads from each, and what valid values are.

Each resource is parsed once (``from_json`` into a typed structure ``r``); fields are SQL over
``r``. Codes in a known system are checked against the shipped vocabularies (CIM-10 for
ICD-10, ATC); codes of other systems (SNOMED CT, RxNorm...) are kept as source values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from havre.ingest.fields import Field, Kind
from havre.ingest.reasons import Reason

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-fr")
ATC_SYSTEM = "http://www.whocc.no/atc"
LOINC_SYSTEM = "http://loinc.org"
FINESS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
LOINC_CODE = r"^[0-9]{1,7}-[0-9]$"
# a logical id, or the fullUrl standing for it in a Bundle (urn:uuid:...)
ID = r"^([A-Za-z0-9\-\.]{1,64}|urn:uuid:[0-9A-Fa-f\-]{36})$"

_CODING = [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}]
_CONCEPT = {"coding": _CODING, "text": "VARCHAR"}
_REF = {"reference": "VARCHAR"}
# values stay raw JSON: a number given as a string ("7.2") keeps its quotes and fails the
# decimal check (a wrong type), where a VARCHAR would have hidden it
_QUANTITY = {"value": "JSON", "unit": "VARCHAR", "code": "VARCHAR"}


def _pick(codings: str, systems: tuple[str, ...], part: str = "code") -> str:
    """SQL: ``part`` of the first coding of ``codings`` whose system is one of ``systems``."""
    listed = ", ".join(f"'{s}'" for s in systems)
    return f"list_filter({codings}, lambda x: x.system IN ({listed}))[1].{part}"


def _first(codings: str, part: str = "code") -> str:
    return f"{codings}[1].{part}"


def loinc_check_digit(code: str) -> str:
    """SQL: a LOINC code's check digit is right (mod 10, as LOINC specifies: Luhn)."""
    payload = f"lpad(split_part({code}, '-', 1), 7, '0')"
    terms = []
    for position in range(1, 8):  # from the right
        digit = f"CAST(substr({payload}, {8 - position}, 1) AS INTEGER)"
        if position % 2:
            digit = f"({digit} * 2 - CASE WHEN {digit} >= 5 THEN 9 ELSE 0 END)"
        terms.append(digit)
    return (
        f"(10 - ({' + '.join(terms)}) % 10) % 10 = TRY_CAST(split_part({code}, '-', 2) AS INTEGER)"
    )


def json_text(expr: str) -> str:
    """SQL: the text of a JSON value (``"7.2"`` with its quotes); a JSON null is no value.
    Spark reads such values as a VARIANT, whose null has the text ``null``."""
    return f"nullif(CAST(to_json({expr}) AS VARCHAR), 'null')"


def _component(loinc: str) -> str:
    """SQL: the value of a component (blood pressure panel) coded ``loinc``."""
    return json_text(
        "list_filter(r.component, lambda x: "
        f"list_contains(list_transform(x.code.coding, lambda y: y.code), '{loinc}'))"
        "[1].valueQuantity.value"
    )


def _date(expr: str) -> str:
    """SQL: the date part of a FHIR date or dateTime, checked as a date."""
    return f"substr({expr}, 1, 10)"


@dataclass(frozen=True)
class Resource:
    name: str
    structure: dict[str, object]
    extract: dict[str, str]  # field -> SQL over the parsed resource ``r``
    fields: tuple[Field, ...]
    subject: bool = True  # refers to a Patient (subject)

    @property
    def structure_sql(self) -> str:
        return json.dumps({"resourceType": "VARCHAR", "id": "VARCHAR", **self.structure})


def _date_field(name: str, required: bool = False) -> Field:
    return Field(name, Kind.DATE, required=required)


PATIENT = Resource(
    "Patient",
    {
        "identifier": [{"system": "VARCHAR", "value": "VARCHAR"}],
        "gender": "VARCHAR",
        "birthDate": "VARCHAR",
        "deceasedDateTime": "VARCHAR",
        "address": [{"postalCode": "VARCHAR", "city": "VARCHAR"}],
    },
    {
        "id": "coalesce(r.id, full_url)",
        "ins": f"list_filter(r.identifier, lambda x: x.system = '{INS_SYSTEM}')[1].value",
        "gender": "r.gender",
        # a birth month is enough for the pseudonym: YYYY-MM counts as its first day
        "birthDate": "CASE WHEN length(r.birthDate) = 7 THEN r.birthDate || '-01' "
        "ELSE r.birthDate END",
        "deceasedDateTime": _date("r.deceasedDateTime"),
        "postalCode": "r.address[1].postalCode",
        "city": "r.address[1].city",
    },
    (
        Field("id", required=True, pattern=ID),
        Field("ins", Kind.NIR, required=True, identifier=True),
        Field("gender", required=True, values=("male", "female")),
        Field("birthDate", Kind.DATE, required=True, identifier=True),
        _date_field("deceasedDateTime"),
        Field("postalCode", identifier=True),
        Field("city", identifier=True),
    ),
    subject=False,
)

ORGANIZATION = Resource(
    "Organization",
    {"identifier": [{"system": "VARCHAR", "value": "VARCHAR"}], "name": "VARCHAR"},
    {
        "id": "coalesce(r.id, full_url)",
        "finess": f"list_filter(r.identifier, lambda x: x.system = '{FINESS_SYSTEM}')[1].value",
        "name": "r.name",
    },
    (Field("id", required=True, pattern=ID), Field("finess"), Field("name")),
    subject=False,
)

ENCOUNTER = Resource(
    "Encounter",
    {
        "subject": _REF,
        "class": {"system": "VARCHAR", "code": "VARCHAR"},
        "period": {"start": "VARCHAR", "end": "VARCHAR"},
        "serviceProvider": _REF,
    },
    {
        "id": "coalesce(r.id, full_url)",
        "subject": "r.subject.reference",
        "class": "r.class.code",
        "start": _date("r.period.start"),
        "end": _date("r.period.end"),
        "serviceProvider": "r.serviceProvider.reference",
    },
    (
        Field("id", required=True, pattern=ID),
        Field("subject", required=True),
        Field("class"),
        _date_field("start", required=True),
        _date_field("end"),
        Field("serviceProvider"),
    ),
)

CONDITION = Resource(
    "Condition",
    {
        "subject": _REF,
        "encounter": _REF,
        "code": _CONCEPT,
        "clinicalStatus": _CONCEPT,
        "onsetDateTime": "VARCHAR",
        "recordedDate": "VARCHAR",
        "abatementDateTime": "VARCHAR",
    },
    {
        "id": "coalesce(r.id, full_url)",
        "subject": "r.subject.reference",
        "encounter": "r.encounter.reference",
        "icd10": f"upper(replace({_pick('r.code.coding', ICD10_SYSTEMS)}, '.', ''))",
        "code": _first("r.code.coding"),
        "clinical_status": _first("r.clinicalStatus.coding"),
        "onset": _date("coalesce(r.onsetDateTime, r.recordedDate)"),
        "abatement": _date("r.abatementDateTime"),
    },
    (
        Field("id", required=True, pattern=ID),
        Field("subject", required=True),
        Field("encounter"),
        Field("icd10", vocabulary="voc_cim10"),
        Field("code", required=True),
        Field("clinical_status"),
        _date_field("onset", required=True),
        _date_field("abatement"),
    ),
)

OBSERVATION = Resource(
    "Observation",
    {
        "subject": _REF,
        "encounter": _REF,
        "code": _CONCEPT,
        "effectiveDateTime": "VARCHAR",
        "effectiveInstant": "VARCHAR",
        "effectivePeriod": {"start": "VARCHAR"},
        "issued": "VARCHAR",
        "valueQuantity": _QUANTITY,
        "valueCodeableConcept": _CONCEPT,
        "component": [{"code": _CONCEPT, "valueQuantity": _QUANTITY}],
    },
    {
        "id": "coalesce(r.id, full_url)",
        "subject": "r.subject.reference",
        "encounter": "r.encounter.reference",
        "loinc": _pick("r.code.coding", (LOINC_SYSTEM,)),
        "code": _first("r.code.coding"),
        "effective": _date(
            "coalesce(r.effectiveDateTime, r.effectiveInstant, r.effectivePeriod.start, r.issued)"
        ),
        "value": json_text("r.valueQuantity.value"),
        "unit": "coalesce(r.valueQuantity.unit, r.valueQuantity.code)",
        "value_code": _first("r.valueCodeableConcept.coding"),
        "systolic": _component("8480-6"),
        "diastolic": _component("8462-4"),
    },
    (
        Field("id", required=True, pattern=ID),
        Field("subject", required=True),
        Field("encounter"),
        Field(
            "loinc",
            pattern=LOINC_CODE,
            pattern_reason=Reason.UNKNOWN_CODE,
            check=(loinc_check_digit("{col}"), Reason.UNKNOWN_CODE),
        ),
        Field("code", required=True),
        _date_field("effective", required=True),
        Field("value", Kind.DECIMAL),
        Field("unit"),
        Field("value_code"),
        Field("systolic", Kind.DECIMAL),
        Field("diastolic", Kind.DECIMAL),
    ),
)

MEDICATION_REQUEST = Resource(
    "MedicationRequest",
    {
        "subject": _REF,
        "encounter": _REF,
        "medicationCodeableConcept": _CONCEPT,
        "authoredOn": "VARCHAR",
        "dispenseRequest": {"quantity": _QUANTITY},
    },
    {
        "id": "coalesce(r.id, full_url)",
        "subject": "r.subject.reference",
        "encounter": "r.encounter.reference",
        "atc": f"upper({_pick('r.medicationCodeableConcept.coding', (ATC_SYSTEM,))})",
        "code": _first("r.medicationCodeableConcept.coding"),
        "authoredOn": _date("r.authoredOn"),
        "quantity": json_text("r.dispenseRequest.quantity.value"),
    },
    (
        Field("id", required=True, pattern=ID),
        Field("subject", required=True),
        Field("encounter"),
        Field("atc", vocabulary="voc_atc"),
        Field("code", required=True),
        _date_field("authoredOn", required=True),
        Field("quantity", Kind.DECIMAL),
    ),
)

PROCEDURE = Resource(
    "Procedure",
    {
        "subject": _REF,
        "encounter": _REF,
        "code": _CONCEPT,
        "performedDateTime": "VARCHAR",
        "performedPeriod": {"start": "VARCHAR", "end": "VARCHAR"},
    },
    {
        "id": "coalesce(r.id, full_url)",
        "subject": "r.subject.reference",
        "encounter": "r.encounter.reference",
        "code": _first("r.code.coding"),
        "system": _first("r.code.coding", "system"),
        "performed": _date("coalesce(r.performedDateTime, r.performedPeriod.start)"),
        "performed_end": _date("r.performedPeriod.end"),
    },
    (
        Field("id", required=True, pattern=ID),
        Field("subject", required=True),
        Field("encounter"),
        Field("code", required=True),
        Field("system"),
        _date_field("performed", required=True),
        _date_field("performed_end"),
    ),
)

RESOURCES = {
    r.name: r
    for r in (
        PATIENT,
        ORGANIZATION,
        ENCOUNTER,
        CONDITION,
        OBSERVATION,
        MEDICATION_REQUEST,
        PROCEDURE,
    )
}
