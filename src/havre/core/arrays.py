"""Arrow arrays of a few Python values, built from their buffers.

``pa.array`` on Python or NumPy values makes pyarrow import pandas (0.25 s here) to ask
whether they are pandas objects. The ingest builds only small arrays from Python values
(the keys' pads, the delivery's file names, the opt-out register, a vocabulary's extra
codes, each batch's line numbers): built from buffers, they leave pandas out of a command
that does not use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_NUMPY = {pa.int32(): np.int32, pa.int64(): np.int64}


def integers(
    values: Iterable[int] | npt.NDArray[np.integer[Any]], type: pa.DataType = pa.int64()
) -> pa.Array:
    """An INT32 or INT64 array, no nulls (a NumPy array of that type is not copied)."""
    if type not in _NUMPY:
        raise TypeError(f"integers: {type} is not int32 or int64")
    dtype = _NUMPY[type]
    given = values if isinstance(values, np.ndarray) else np.fromiter(values, dtype=dtype)
    data = np.ascontiguousarray(given.astype(dtype, casting="safe", copy=False))
    return pa.Array.from_buffers(type, len(data), [None, pa.py_buffer(data)])


def texts(values: Iterable[str | bytes], type: pa.DataType = pa.string()) -> pa.Array:
    """A STRING (values as ``str``) or BINARY array, no nulls."""
    if type not in (pa.string(), pa.binary()):
        raise TypeError(f"texts: {type} is not string or binary")
    items = list(values)
    if type == pa.string() and not all(isinstance(v, str) for v in items):
        raise TypeError("texts: a string array takes str values")
    encoded = [v.encode() if isinstance(v, str) else bytes(v) for v in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in encoded], out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("texts: more than 2 GiB of values")
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(type, len(encoded), buffers)
