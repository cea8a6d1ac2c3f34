"""Why a record is quarantined. Each reason maps to at most one kind of defect of the
synthetic generator (``havre synth --dirty-rate``), so its ground truth can be checked."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    INVALID_UTF8 = "invalid_utf8"
    EMPTY_LINE = "empty_line"
    TRUNCATED_LINE = "truncated_line"
    EXTRA_FIELDS = "extra_fields"
    MALFORMED_JSON = "malformed_json"
    NOT_A_RESOURCE = "not_a_resource"
    UNSUPPORTED_RESOURCE = "unsupported_resource"
    MISSING_REQUIRED = "missing_required"
    WRONG_TYPE = "wrong_type"
    BAD_DATE = "bad_date"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    END_BEFORE_START = "end_before_start"
    BAD_NIR_FORMAT = "bad_nir_format"
    BAD_NIR_KEY = "bad_nir_key"
    UNKNOWN_CODE = "unknown_code"
    UNKNOWN_PERSON = "unknown_person"
    UNKNOWN_CLAIM = "unknown_claim"
    UNKNOWN_STAY = "unknown_stay"
    CONFLICTING_KEY = "conflicting_key"
    PARENT_QUARANTINED = "parent_quarantined"


# reason -> the generator's defect kind (None: not a defect the generator injects)
DEFECT_KIND: dict[Reason, str | None] = {
    Reason.INVALID_UTF8: "invalid_utf8",
    Reason.EMPTY_LINE: "truncated_line",
    Reason.TRUNCATED_LINE: "truncated_line",
    Reason.EXTRA_FIELDS: None,
    Reason.MALFORMED_JSON: "malformed_json",
    Reason.NOT_A_RESOURCE: None,
    Reason.UNSUPPORTED_RESOURCE: None,
    Reason.MISSING_REQUIRED: "missing_required",
    Reason.WRONG_TYPE: "wrong_type",
    Reason.BAD_DATE: "bad_date",
    Reason.DATE_OUT_OF_RANGE: "date_out_of_range",
    Reason.END_BEFORE_START: "date_out_of_range",
    Reason.BAD_NIR_FORMAT: "bad_nir_key",
    Reason.BAD_NIR_KEY: "bad_nir_key",
    Reason.UNKNOWN_CODE: "unknown_code",
    Reason.UNKNOWN_PERSON: "unknown_person",
    Reason.UNKNOWN_CLAIM: "unknown_person",
    Reason.UNKNOWN_STAY: "unknown_person",
    Reason.CONFLICTING_KEY: None,
    Reason.PARENT_QUARANTINED: None,
}

DESCRIPTION: dict[Reason, str] = {
    Reason.INVALID_UTF8: "the line is not valid UTF-8",
    Reason.EMPTY_LINE: "the line is empty",
    Reason.TRUNCATED_LINE: "the line has fewer fields than the header",
    Reason.EXTRA_FIELDS: "the line has more fields than the header",
    Reason.MALFORMED_JSON: "the line is not a JSON object",
    Reason.NOT_A_RESOURCE: "the JSON object has no resourceType",
    Reason.UNSUPPORTED_RESOURCE: "Havre does not map this FHIR resource type",
    Reason.MISSING_REQUIRED: "a required field is empty",
    Reason.WRONG_TYPE: "the value does not have the field's type or format",
    Reason.BAD_DATE: "the value is not a date YYYY-MM-DD",
    Reason.DATE_OUT_OF_RANGE: "the date is before 1900 or after the ingest",
    Reason.END_BEFORE_START: "the end date is before the start date",
    Reason.BAD_NIR_FORMAT: "the NIR/INS is not 15 well-formed characters",
    Reason.BAD_NIR_KEY: "the NIR/INS check key does not match",
    Reason.UNKNOWN_CODE: "the code is not in the field's vocabulary",
    Reason.UNKNOWN_PERSON: "the person is not in the delivery's beneficiaries or patients",
    Reason.UNKNOWN_CLAIM: "the line refers to a claim (CLE_DCI_JNT) not in ER_PRS_F",
    Reason.UNKNOWN_STAY: "the line refers to a stay (ETA_NUM, RSA_NUM) with no T_MCOyyC row",
    Reason.CONFLICTING_KEY: "another record has the same key with different content",
    Reason.PARENT_QUARANTINED: "the record it depends on (person, claim, stay) was quarantined",
}
