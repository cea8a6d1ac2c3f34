"""Identifiers: short, sortable by creation time, typed by a prefix (``prj_``, ``usr_``...)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``prefix_`` + 10 chars of milliseconds + 12 random chars (60 bits)."""
    millis = int(time.time() * 1000)
    return f"{prefix}_{_b32(millis, 10)}{_b32(secrets.randbits(60), 12)}"


def random_token(nbytes: int = 32) -> str:
    """A URL-safe secret of ``nbytes`` random bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)
