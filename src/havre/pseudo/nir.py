"""The NIR (and INS, the same number): format, check key, normalization — in Python and SQL.

A NIR is 13 characters (sex, year, month, département of birth, commune, order) and a 2-digit
key ``97 - (NIR mod 97)``, where Corsica's ``2A``/``2B`` count as ``19``/``18``.
"""

from __future__ import annotations

import re

NIR_PATTERN = r"^[1-8][0-9]{4}(2A|2B|[0-9]{2})[0-9]{8}$"
_NIR = re.compile(NIR_PATTERN)


def nir_key(nir13: str) -> int:
    """The check key of the first 13 characters of a NIR."""
    digits = nir13.upper().replace("2A", "19").replace("2B", "18")
    return 97 - int(digits) % 97


def normalize_nir(nir: str) -> str:
    """Upper case, spaces removed: how NIRs are compared and hashed."""
    return nir.replace(" ", "").strip().upper()


def is_valid_nir(nir: str) -> bool:
    """15 characters, well formed, and the key matches."""
    text = normalize_nir(nir)
    return bool(_NIR.match(text)) and nir_key(text[:13]) == int(text[13:])


def nir_problem(nir: str | None) -> str | None:
    """None when the NIR is valid, else ``missing``, ``format`` or ``key``."""
    if nir is None or not nir.strip():
        return "missing"
    text = normalize_nir(nir)
    if not _NIR.match(text):
        return "format"
    if nir_key(text[:13]) != int(text[13:]):
        return "key"
    return None


def nir_norm_sql(column: str) -> str:
    """SQL: the normalized NIR (upper case, no spaces)."""
    return f"upper(replace({column}, ' ', ''))"


def nir_format_ok_sql(normalized: str) -> str:
    """SQL: the normalized NIR is 15 well-formed characters."""
    return f"regexp_matches({normalized}, '{NIR_PATTERN}')"


def nir_key_ok_sql(normalized: str) -> str:
    """SQL: the key matches (only meaningful when the format is right)."""
    digits = f"replace(replace(substr({normalized}, 1, 13), '2A', '19'), '2B', '18')"
    key = f"TRY_CAST(substr({normalized}, 14, 2) AS INTEGER)"
    return f"(97 - (TRY_CAST({digits} AS BIGINT) % 97)) = {key}"
