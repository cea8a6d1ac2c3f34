"""Identifiers: short, sortable by creation time, typed by a prefix (``prj_``, ``usr_``...)."""

from __future__ import annotations

import re
import secrets
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Ids are written to the audit trail, which refuses any value holding what looks like a phone
# number (ten digits) or a NIR (thirteen): an id never holds ten digits in a row. A character
# is a digit 10 times in 32, so now and then an id drew such a run (more often while the time
# part ends in digits), and the action writing it to the audit failed.
_DIGIT_RUN = re.compile(r"[0-9]{10}")


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``prefix_`` + 10 chars of milliseconds + 12 random chars (60 bits), drawn again while
    the id would hold ten digits in a row."""
    while True:
        stamp = _b32(int(time.time() * 1000), 10)
        body = stamp + _b32(secrets.randbits(60), 12)
        if not _DIGIT_RUN.search(body):
            return f"{prefix}_{body}"
        if _DIGIT_RUN.search(stamp):
            # the time part alone holds ten digits in about one millisecond in 10^4 from 2039
            # on, never more than ten in a row: wait them out
            time.sleep(0.001)


def random_token(nbytes: int = 32) -> str:
    """A URL-safe secret of ``nbytes`` random bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)
