"""Audit details never hold patient data.

Details are small, structured facts about an action: ids, counts, hashes, names of tables and
columns, settings. They are checked before writing: only scalars and short lists/objects;
strings short and without spaces-heavy free text; nothing shaped like a NIR/INS, a phone
number, an e-mail address or a date of birth. Whatever does not pass is refused, and the
action with it (it cannot be audited, so it does not happen).
"""

from __future__ import annotations

import re
from typing import Any

from havre.core.errors import UsageError

MAX_STRING = 200
MAX_ITEMS = 200
MAX_DEPTH = 4
MAX_WORDS = 12

_NIR = re.compile(r"(?<!\d)[12378]\d{12}(\d{2})?(?!\d)")
_PHONE = re.compile(r"(?<!\d)(?:\+33|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_KEY = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


class PatientDataInAudit(UsageError):
    code = "patient_data_in_audit"


def check_details(details: dict[str, Any], *, allow_emails: bool = False) -> None:
    _check(details, "details", 0, allow_emails)


def _check(value: Any, path: str, depth: int, allow_emails: bool) -> None:
    if depth > MAX_DEPTH:
        raise PatientDataInAudit(f"Audit {path} is nested too deeply.")
    if value is None or isinstance(value, bool | int | float):
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
    if _NIR.search(value.replace(" ", "")):
        raise PatientDataInAudit(f"Audit {path} holds what looks like a NIR/INS.")
    if _PHONE.search(value):
        raise PatientDataInAudit(f"Audit {path} holds what looks like a phone number.")
    if not allow_emails and _EMAIL.search(value):
        raise PatientDataInAudit(f"Audit {path} holds an e-mail address.")
