"""Reconciliation: every table's records counted by status in one statement; a table whose
counts do not add up to what was read, or a record without a known status, stops the ingest
before anything is published."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from havre.core.config import Settings
from havre.core.errors import IntegrityError
from havre.ingest.pipeline import _reconcile
from havre.lake.engine import DuckDBEngine


def _context(tmp_path: Path, read: dict[str, int], statuses: dict[str, list[str]]) -> Any:
    engine = DuckDBEngine(Settings(home=tmp_path))
    tables = {}
    for number, (name, values) in enumerate(statuses.items()):
        relation = f"res_{number}"
        engine.execute(f"CREATE TABLE {relation} (status VARCHAR)")
        for value in values:
            engine.execute(f"INSERT INTO {relation} VALUES ('{value}')")
        tables[name] = SimpleNamespace(relation=relation)
    steps: list[str] = []
    return SimpleNamespace(engine=engine, tables=tables, read_counts=read, step=steps.append)


def test_counts_per_table_and_in_total(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        {"A": 4, "B": 2, "C": 0, "D": 1},
        {
            "A": ["loaded", "loaded", "quarantined", "duplicate"],
            "B": ["opted_out", "loaded"],
            "C": [],
        },
    )
    # D was read (one line) but staged nothing: it cannot balance
    with pytest.raises(IntegrityError, match=r"Reconciliation failed for D: 1 records read"):
        _reconcile(ctx)
    ctx.read_counts["D"] = 0
    result = _reconcile(ctx)
    a, b = result.tables["A"], result.tables["B"]
    assert (a.read, a.loaded, a.quarantined, a.opted_out, a.duplicates) == (4, 2, 1, 0, 1)
    assert (b.read, b.loaded, b.quarantined, b.opted_out, b.duplicates) == (2, 1, 0, 1, 0)
    assert result.tables["C"].read == 0 and result.tables["D"].loaded == 0
    assert (result.total.read, result.total.loaded) == (6, 3)


def test_a_record_lost_or_without_status_stops_it(tmp_path: Path) -> None:
    lost = _context(tmp_path / "lost", {"A": 3}, {"A": ["loaded", "loaded"]})
    with pytest.raises(IntegrityError, match=r"3 records read, 2 loaded .*difference 1"):
        _reconcile(lost)
    unknown = _context(tmp_path / "unknown", {"A": 2}, {"A": ["loaded", "mislaid"]})
    with pytest.raises(IntegrityError, match="A: records with no status"):
        _reconcile(unknown)
