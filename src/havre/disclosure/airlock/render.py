"""Released files: the CSV of a table as it leaves (withheld cells empty, flagged), and of a
model's coefficients. Built with Arrow from the released values only: a withheld value is
never in the array handed to the writer."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from havre.disclosure.cells import BoolArray, FloatArray

TOTAL = "Total"


def total_label(levels: Sequence[Sequence[str]]) -> str:
    """``Total``, unless a dimension has a level of that name."""
    return "(total)" if any(TOTAL in lv for lv in levels) else TOTAL


def table_csv(
    dims: Sequence[str],
    levels: Sequence[Sequence[str]],
    values: FloatArray,
    reported: BoolArray,
    label: str,
    *,
    integer: bool,
) -> bytes:
    """One row per reported position of the extended table: its levels (``Total`` for a
    margin), the released value (empty when withheld) and a ``withheld`` flag."""
    shape = tuple(len(lv) + 1 for lv in levels)
    indices = np.flatnonzero(reported.reshape(shape))
    positions = np.unravel_index(indices, shape)
    total = total_label(levels)
    columns: dict[str, Any] = {}
    for dim, position, lv in zip(dims, positions, levels, strict=True):
        names = np.array([*lv, total], dtype=object)
        columns[dim] = pa.array(names[position], pa.string())
    flat = values.reshape(shape).ravel()[indices]
    withheld = np.isnan(flat)
    if integer:
        column = pa.array(np.where(withheld, 0, np.rint(flat)).astype(np.int64), mask=withheld)
    else:
        column = pa.array(np.where(withheld, 0.0, flat), pa.float64(), mask=withheld)
    columns[label] = column
    columns["withheld"] = pa.array(withheld)
    return _csv(pa.table(columns))


def coefficients_csv(rows: Sequence[tuple[str, float | None, float | None]]) -> bytes:
    names, estimates, errors = zip(*rows, strict=True) if rows else ((), (), ())
    table = pa.table(
        {
            "coefficient": pa.array(list(names), pa.string()),
            "estimate": pa.array(list(estimates), pa.float64()),
            "std_error": pa.array(list(errors), pa.float64()),
        }
    )
    return _csv(table)


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()
