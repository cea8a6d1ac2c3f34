"""HMAC-SHA256 written with SQL primitives, so any engine can pseudonymize a whole column.

HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) with H = SHA-256 (RFC 2104). The two padded
keys are computed here and handed to the engine as a one-row table: the key material never
appears in SQL text, which engines may echo in error messages and logs.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from havre.core.arrays import texts

BLOCK_BYTES = 64


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad) for a key of at most one block."""
    if len(key) > BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    block = key.ljust(BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pads_table(key: bytes) -> pa.Table:
    """The one-row table (``ipad``, ``opad``) that ``hmac_sql`` reads."""
    inner, outer = padded_keys(key)
    return pa.table({"ipad": texts([inner], pa.binary()), "opad": texts([outer], pa.binary())})


def hmac_sql(message: str, pads: str) -> str:
    """SQL for the lower-case hex HMAC of the VARCHAR expression ``message``.

    ``pads`` names the relation (or alias) holding ``ipad``/``opad``; join it in with a
    CROSS JOIN. SHA-256 over byte strings exists in DuckDB (``sha256``) and Spark (``sha2``).
    """
    return f"sha256({pads}.opad || unhex(sha256({pads}.ipad || encode({message}))))"


def hmac_hex(key: bytes, message: str) -> str:
    """The reference implementation the SQL form is tested against."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
