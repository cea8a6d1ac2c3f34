"""Shared helpers for the disclosure tests: the golden case and small synthetic tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import CellTable, TableKind
from havre.disclosure.csvinput import open_person_csv

SDC = Path(__file__).resolve().parents[2] / "data" / "sdc"
REGIONS = ["R1", "R2", "R3", "R4"]


def golden_table(kind: TableKind, margins: bool = True) -> CellTable:
    value = "cost" if kind.is_magnitude else None
    reader = open_person_csv(
        SDC / "case_a.csv", ["person_id", "region", "sex"], [value] if value else []
    )
    spec = TableSpec(
        "person_id",
        ("region", "sex"),
        kind,
        value,
        levels={"region": REGIONS},
        margins=margins,
    )
    return aggregate(reader, spec)


@pytest.fixture(scope="session")
def golden_expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SDC / "case_a_expected.json").read_text("utf-8"))
    return data


def table_from_counts(counts: np.ndarray, margins: bool = True) -> CellTable:
    """A count table whose interior is ``counts`` (one person per unit, margins as sums)."""
    from havre.disclosure.margins import fill_sums

    interior = np.asarray(counts, dtype=np.int64)
    extended = np.zeros(tuple(n + 1 for n in interior.shape), dtype=np.int64)
    extended[tuple(slice(0, n) for n in interior.shape)] = interior
    fill_sums(extended)
    dims = tuple(f"d{k}" for k in range(interior.ndim))
    levels = tuple(
        tuple(f"{d}_{i}" for i in range(n)) for d, n in zip(dims, interior.shape, strict=True)
    )
    return CellTable(dims, levels, TableKind.COUNT, extended, margins=margins)


@pytest.fixture(scope="session")
def make_golden_table() -> Callable[..., CellTable]:
    return golden_table


@pytest.fixture(scope="session")
def make_count_table() -> Callable[..., CellTable]:
    return table_from_counts
