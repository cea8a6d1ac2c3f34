"""The NIR (French social security number), vectorized.

13 characters: sex (1), year (2), month (2), place of birth (5: the INSEE commune code, or
``99`` + country for persons born abroad), order (3); then a 2-digit key
``97 - (NIR mod 97)`` where Corsica's ``2A``/``2B`` count as ``19``/``18``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth.arrays import Array

ORDER_MAX = 989
"""Orders 001..989 belong to persons; 990..999 are kept for NIRs that belong to nobody."""
UNKNOWN_ORDER_MIN = 990


def nir_number(sex: Array, year: Array, month: Array, place: Array, order: Array) -> Array:
    """The 13-digit NIR as an integer (place already numeric: 2A -> 19, 2B -> 18)."""
    number = (
        sex.astype(np.int64) * 10**12
        + (year.astype(np.int64) % 100) * 10**10
        + month.astype(np.int64) * 10**8
        + place.astype(np.int64) * 10**3
        + order.astype(np.int64)
    )
    return np.asarray(number, dtype=np.int64)


def nir_key(number: Array) -> Array:
    return 97 - np.mod(number, 97)


def format_nir(
    sex: Array,
    year: Array,
    month: Array,
    place: pa.Array,
    order: Array,
    key: Array,
) -> pa.Array:
    """The 15-character NIR with key, keeping the letters of Corsican places."""

    def padded(values: Array, width: int) -> pa.Array:
        return pc.utf8_lpad(pc.cast(pa.array(values.astype(np.int64)), pa.string()), width, "0")

    return pc.binary_join_element_wise(
        padded(sex, 1),
        padded(year % 100, 2),
        padded(month, 2),
        place,
        padded(order, 3),
        padded(key, 2),
        "",
    )


def valid_key(nir: str) -> bool:
    """Whether a 15-character NIR's key matches its first 13 characters."""
    body = nir[:13].upper().replace("2A", "19", 1).replace("2B", "18", 1)
    if len(nir) != 15 or not body.isdigit() or not nir[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(nir[13:])
