"""The fast CSV encoder prints exactly what Arrow's CSV writer prints."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import given, settings
from hypothesis import strategies as st

from havre.synth.csvtext import csv_bytes


def reference(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, delimiter=";", quoting_style="none")
    pacsv.write_csv(table, sink, options)
    return bytes(sink.getvalue().to_pybytes())


def test_delivery_column_types_with_nulls() -> None:
    table = pa.table(
        {
            "key": pa.array([10**10 + 1, 10**10 + 2, 3], pa.int64()),
            "count": pa.array([1, None, 3], pa.int64()),
            "day": pa.array([0, -25_000, None], pa.int32()).cast(pa.date32()),
            "amount": pa.array([25.0, 0.1, None]),
            "odd": pa.array([1 / 3, 2.5, 1e-7]),
            "text": pa.array(["a", None, "é"]),
        }
    )
    assert csv_bytes(table) == reference(table)


def test_empty_table_gives_no_bytes() -> None:
    assert csv_bytes(pa.table({"a": pa.array([], pa.int64())})) == b""


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=60),
    st.lists(st.one_of(st.none(), st.integers(-30_000, 60_000)), min_size=1, max_size=60),
    st.lists(st.one_of(st.none(), st.integers(0, 10**7)), min_size=1, max_size=60),
)
def test_any_integers_dates_and_amounts(
    integers: list[int | None], days: list[int | None], cents: list[int | None]
) -> None:
    size = min(len(integers), len(days), len(cents))
    table = pa.table(
        {
            "integer": pa.array(integers[:size], pa.int64()),
            "day": pa.array(days[:size], pa.int32()).cast(pa.date32()),
            "amount": pa.array([None if c is None else c / 100 for c in cents[:size]]),
            "float": pa.array(np.linspace(-3.3, 7.7, size)),
        }
    )
    assert csv_bytes(table) == reference(table)
