"""Disclosure spec: small tables and the verdicts they must get (cases.json is the spec).

Each case lists persons (by cell, or as raw rows), the policy parameters, and the expected
flags per rule, table status and released values (``*`` names a total)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import TableKind
from havre.disclosure.check import check_table
from havre.disclosure.policy import DEFAULT_DOCUMENT

CASES = json.loads((Path(__file__).parent / "cases.json").read_text(encoding="utf-8"))


def _rows(case: dict[str, Any]) -> pa.Table:
    dims = case["dims"]
    records: list[dict[str, Any]] = []
    if "rows" in case:
        for person, *levels in case["rows"]:
            records.append({"pid": person, **dict(zip(dims, levels, strict=True))})
    for g, group in enumerate(case.get("groups", [])):
        values = group.get("values") or [1.0] * group["persons"]
        for i, value in enumerate(values):
            records.append(
                {"pid": f"g{g}p{i}", **dict(zip(dims, group["cell"], strict=True)), "v": value}
            )
    return pa.Table.from_pylist(records)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    kind = TableKind(case["kind"])
    policy = DEFAULT_DOCUMENT.resolve(case.get("datasets", []))
    policy = policy.with_params(**case.get("parameters", {}))
    spec = TableSpec(
        "pid",
        tuple(case["dims"]),
        kind,
        "v" if kind.is_magnitude else None,
        structural_zeros=case.get("structural_zeros", ()),
    )
    table = aggregate(_rows(case), spec)
    report = check_table(table, policy, suppress=case.get("suppress", False)).report
    expect = case["expect"]
    assert report.status.value == expect["status"]
    rules = {rule for cell in report.cells for rule in cell.rules}
    for rule in rules | set(expect["flags"]):
        wanted = {tuple(c) for c in expect["flags"].get(rule, [])}
        assert set(report.flagged(rule)) == wanted, rule
    for name, value in expect.get("values", {}).items():
        key = tuple(None if part == "*" else part for part in name.split("/"))
        assert report.cell(key).value == value, name
