"""Arrow types Spark does not take as they are still reach it (widened, same values)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

pytestmark = pytest.mark.spark


def test_unsigned_integers_are_widened_to_signed_ones(spark: Any) -> None:
    table = pa.table(
        {
            "u8": pa.array([0, 1, 255], pa.uint8()),
            "u16": pa.array([0, 7, 65_535], pa.uint16()),
            "u32": pa.array([0, None, 4_294_967_295], pa.uint32()),
            "u64": pa.array([0, 3, 2**62], pa.uint64()),
            "text": pa.array(["a", "b", "c"], pa.large_string()),
        }
    )
    spark.register("unsigned_probe", table)
    back = spark.sql("SELECT u8, u16, u32, u64, text FROM unsigned_probe ORDER BY u8")
    assert back.column("u8").to_pylist() == [0, 1, 255]
    assert back.column("u16").to_pylist() == [0, 7, 65_535]
    assert back.column("u32").to_pylist() == [0, None, 4_294_967_295]
    assert back.column("u64").to_pylist() == [0, 3, 2**62]
    assert back.column("text").to_pylist() == ["a", "b", "c"]
    assert spark.scalar("SELECT sum(u8) FROM unsigned_probe") == 256
