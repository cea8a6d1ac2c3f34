"""Audit entries never hold patient data.

Details are small, structured facts about an action: ids, counts, hashes, names of tables and
columns, settings. They are checked before writing: only scalars and short lists/objects;
strings short and not free text; nothing shaped like a NIR/INS (Corsican ones included, with
or without separators), a phone number or an e-mail address; no key that names a personal
field (``nir``, ``birth_date``, ``patient_id``...); the whole at most 16 KiB. Whatever does
not pass is refused, and the action with it (it cannot be audited, so it does not happen).

Hex digests and UUIDs are common in details (file hashes, Merkle roots) and contain long digit
runs by chance, so inside them only a 15-digit run whose NIR key is valid counts as a NIR. A
value that is exactly a SHA-256 hex digest under a key that names one (``file_sha256``,
``report_sha256``...) is a digest the hub computed and passes whatever its digits: about one
digest in 10^5 holds a NIR-shaped run with a valid key by chance, and refusing it made the
audited action fail at random.
Dates pass: permit periods and release dates are facts about actions, and a date alone
identifies no one. Free text that the hub writes itself (error reasons) or that a user types
(justifications) is kept, with NIR-, phone- and e-mail-shaped parts masked by ``redact``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from havre.core.canonical import canonical_json
from havre.core.errors import UsageError

MAX_STRING = 200
MAX_ITEMS = 200
MAX_DEPTH = 4
MAX_WORDS = 12
MAX_BYTES = 16 * 1024
REDACTED = "[redacted]"

_SEPARATORS = re.compile(r"[ .\-]")
# sex, year, month, department (2A/2B for Corsica), commune, order, optional key
_NIR = re.compile(r"(?<!\d)[12378]\d{4}(?:\d{2}|2[ABab])\d{6}(?:\d{2})?(?!\d)")
_NIR_SPACED = re.compile(
    r"(?<!\d)[12378][ .\-]?\d{2}[ .\-]?\d{2}[ .\-]?(?:\d{2}|2[ABab])[ .\-]?\d{3}[ .\-]?\d{3}"
    r"(?:[ .\-]?\d{2})?(?!\d)"
)
_DIGITS15 = re.compile(r"(?=(\d{15}))")
_NON_DIGITS = re.compile(r"\D+")
_HEX_LETTER = re.compile(r"[a-fA-F]")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_PHONE = re.compile(r"(?<!\d)(?:\+33|0033|0)[ .\-]?[1-9](?:[ .\-]?\d{2}){4}(?!\d)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_KEY = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_DIGEST = re.compile(
    r"(?:sha256:)?(?:[0-9a-f]{32,128}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    re.IGNORECASE,
)
_PERSONAL_KEYS = frozenset(
    {
        "nir",
        "nss",
        "ins",
        "ins_nir",
        "ben_nir_psa",
        "ben_nir_ano",
        "ben_idt_ano",
        "patient",
        "patient_id",
        "person_id",
        "person_source_value",
        "pseudonym",
        "birth_date",
        "date_of_birth",
        "dob",
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "surname",
        "address",
        "postal_address",
        "phone",
        "telephone",
    }
)


class PatientDataInAudit(UsageError):
    code = "patient_data_in_audit"


def check_details(
    details: dict[str, Any], *, allow_emails: bool = False, encoded_size: int | None = None
) -> None:
    """Refuse details that could hold patient data (``encoded_size``: the size of their
    canonical JSON, when the caller has it already)."""
    _check(details, "details", 0, allow_emails)
    size = len(canonical_json(details)) if encoded_size is None else encoded_size
    if size > MAX_BYTES:
        raise PatientDataInAudit(
            f"Audit details take {size} bytes (at most {MAX_BYTES}): that is data, not facts "
            "about an action; summarize it (counts, a hash)."
        )


def check_identifier(value: str | None, what: str) -> None:
    """Target and project ids are identifiers of the hub's objects, never of a person."""
    if value is not None:
        _check_shapes(value, f"{what} {value[:16]!r}...", allow_emails=False)


def nir_key_is_valid(digits: str) -> bool:
    """The 2-digit key of a 15-character NIR (Corsica: 2A counts as 19, 2B as 18)."""
    body, key = digits[:13].upper(), digits[13:15]
    body = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    body = body.replace("2B", "18", 1) if body[5:7] == "2B" else body
    if not (body.isdigit() and key.isdigit()):
        return False
    return 97 - int(body) % 97 == int(key)


def redact(text: str | None) -> str | None:
    """Mask NIR-, phone- and e-mail-shaped parts of free text the hub must keep."""
    if text is None:
        return None
    text = _NIR_SPACED.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    return _EMAIL.sub(REDACTED, text)


def _check(value: Any, path: str, depth: int, allow_emails: bool) -> None:
    if depth > MAX_DEPTH:
        raise PatientDataInAudit(f"Audit {path} is nested too deeply.")
    if value is None or isinstance(value, bool | int | float | dt.date):
        return
    if isinstance(value, str):
        _check_string(value, path, allow_emails)
        return
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise PatientDataInAudit(
                f"Audit {path} has {len(value)} items: lists of more than {MAX_ITEMS} values "
                "look like data, not facts about an action."
            )
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1, allow_emails)
        return
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise PatientDataInAudit(f"Audit {path} has too many keys.")
        for key, item in value.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise PatientDataInAudit(
                    f"Audit {path} key {key!r} is not a simple name (lower case, digits, _ and .)."
                )
            if key == "justification":
                # the entry's own field: inside details it could blur where details end in
                # the hashed text (verification rebuilds that text from stored columns)
                raise PatientDataInAudit(
                    f"Audit {path} may not use the key 'justification' (a field of the entry)."
                )
            if key.rsplit(".", 1)[-1] in _PERSONAL_KEYS:
                raise PatientDataInAudit(
                    f"Audit {path}.{key} names a personal field; audit the action, not the "
                    "person (a count or a hash of the set)."
                )
            if key.endswith("sha256") and isinstance(item, str) and _SHA256_HEX.fullmatch(item):
                continue  # a digest the hub computed (module docstring)
            _check(item, f"{path}.{key}", depth + 1, allow_emails)
        return
    raise PatientDataInAudit(f"Audit {path} has a value of type {type(value).__name__}.")


def _check_string(value: str, path: str, allow_emails: bool) -> None:
    if len(value) > MAX_STRING:
        raise PatientDataInAudit(
            f"Audit {path} is {len(value)} characters long; free text from the data may not be "
            "written to the audit log (hash it or summarize it)."
        )
    if len(value.split()) > MAX_WORDS:
        raise PatientDataInAudit(f"Audit {path} looks like free text; it may not be audited as is.")
    _check_shapes(value, path, allow_emails)


def _check_shapes(value: str, path: str, allow_emails: bool) -> None:
    if "@" in value and not allow_emails and _EMAIL.search(value):
        raise PatientDataInAudit(f"Audit {path} holds an e-mail address.")
    if len(_NON_DIGITS.sub("", value)) < 9:  # a NIR has 13 digits at least, a phone 10
        return
    if _DIGEST.fullmatch(value) and _HEX_LETTER.search(value.removeprefix("sha256:")):
        if any(_NIR.fullmatch(run) and nir_key_is_valid(run) for run in _DIGITS15.findall(value)):
            raise PatientDataInAudit(f"Audit {path} holds what looks like a NIR/INS.")
        return
    if _NIR.search(_SEPARATORS.sub("", value)):
        raise PatientDataInAudit(f"Audit {path} holds what looks like a NIR/INS.")
    if _PHONE.search(value):
        raise PatientDataInAudit(f"Audit {path} holds what looks like a phone number.")
