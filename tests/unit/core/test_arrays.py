"""Arrow arrays built from buffers are the arrays ``pa.array`` builds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from havre.core.arrays import integers, texts


@pytest.mark.parametrize("type_", [pa.int32(), pa.int64()])
def test_integers(type_: pa.DataType) -> None:
    for values in ([], [0], [3, -1, 2**31 - 1]):
        built = integers(values, type_)
        assert built.type == type_ and built.equals(pa.array(values, type_))
        built.validate(full=True)
    numbers = np.arange(5, dtype=np.int64)
    assert integers(numbers).equals(pa.array(numbers))


def test_integers_refuse_what_they_cannot_hold() -> None:
    with pytest.raises(TypeError):
        integers(np.arange(3, dtype=np.int64), pa.int32())  # would wrap, not fail
    with pytest.raises(OverflowError):
        integers([2**40], pa.int32())
    with pytest.raises(TypeError):
        integers([1], pa.int16())


def test_texts() -> None:
    for values in ([], [""], ["a", "", "Évry-Courcouronnes", "東京"]):
        built = texts(values)
        assert built.type == pa.string() and built.equals(pa.array(values, pa.string()))
        built.validate(full=True)
    raw = [b"\x00\xff", b"", b"key"]
    assert texts(raw, pa.binary()).equals(pa.array(raw, pa.binary()))
    assert texts(iter(["x", "y"])).to_pylist() == ["x", "y"]  # read once


def test_texts_refuse_bytes_as_strings() -> None:
    with pytest.raises(TypeError):
        texts([b"\xff"])
    with pytest.raises(TypeError):
        texts(["a"], pa.large_string())
