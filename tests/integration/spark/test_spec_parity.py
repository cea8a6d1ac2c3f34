"""The spec suites, run on Spark: the extraction specs and the disclosure specs give on Spark
what they give on DuckDB (and what the spec says)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import CellTable, TableKind
from havre.lake.engine import DuckDBEngine

from .helpers import spec_module

pytestmark = pytest.mark.spark

EXTRACTION = spec_module("workspace/test_extraction_specs.py")
DISCLOSURE = spec_module("disclosure/test_disclosure_spec.py")


@pytest.mark.parametrize("case", EXTRACTION.CASES, ids=[c["name"] for c in EXTRACTION.CASES])
def test_extraction_spec_on_spark(
    case: dict[str, Any], spark: Any, duck: DuckDBEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_case = EXTRACTION.run_case
    outcomes: list[Any] = []

    def kept(case: dict[str, Any], engine: Any) -> Any:
        outcomes.append(run_case(case, engine))
        return outcomes[-1]

    # the spec's own checks, on Spark's outcome; then that outcome against DuckDB's
    monkeypatch.setattr(EXTRACTION, "run_case", kept)
    EXTRACTION.test_extraction_spec(case, spark)
    on_spark, on_duckdb = outcomes[0], run_case(case, duck)
    assert on_spark.mapping == on_duckdb.mapping
    assert sorted(on_spark.tables) == sorted(on_duckdb.tables)
    for name, rows in on_duckdb.tables.items():
        assert _sorted(on_spark.tables[name]) == _sorted(rows), name


def _sorted(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(r.items())) for r in rows)


@pytest.mark.parametrize("case", DISCLOSURE.CASES, ids=[c["name"] for c in DISCLOSURE.CASES])
def test_disclosure_spec_on_spark(
    case: dict[str, Any], spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = TableKind(case["kind"])
    spec = TableSpec(
        "pid",
        tuple(case["dims"]),
        kind,
        "v" if kind.is_magnitude else None,
        structural_zeros=case.get("structural_zeros", ()),
    )
    rows = DISCLOSURE._rows(case)
    _same_cells(aggregate(rows, spec, engine=spark), aggregate(rows, spec))
    monkeypatch.setattr(DISCLOSURE, "aggregate", functools.partial(aggregate, engine=spark))
    DISCLOSURE.test_case(case)


def _same_cells(left: CellTable, right: CellTable) -> None:
    assert left.levels == right.levels
    assert left.additive == right.additive
    assert left.notes == right.notes
    np.testing.assert_array_equal(left.persons, right.persons)
    assert (left.magnitudes is None) == (right.magnitudes is None)
    if left.magnitudes is not None and right.magnitudes is not None:
        for name in ("total", "abs_total", "tops", "median", "minimum", "maximum"):
            np.testing.assert_allclose(
                getattr(left.magnitudes, name), getattr(right.magnitudes, name), rtol=1e-12
            )
