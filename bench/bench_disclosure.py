"""Disclosure checks on a 10,000-cell table computed from a synthetic person-level workspace.

Four dimensions of ten levels (skewed, so that some cells are small) give 10,000 cells over
1M persons at ``full``; ``small`` keeps about the same persons per cell with six levels. Each
person has a cost. Timed in one run: building the table from person rows (DuckDB), the
primary rules on it (threshold, zeros, (n, k), p%), the full default policy with secondary
suppression (the same cells laid out as a square 2-D table with margins), the ``havre
disclosure check`` command end to end, and ACRO's crosstab with its checks on the same data.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.common import BenchResult, havre_child

# (persons, levels per dimension): about 100 persons per cell at both scales, so that the
# small run exercises the same kind of table (1,296 cells) quickly; full is the 10,000-cell case.
SCALES = {"small": (130_000, 6), "full": (1_000_000, 10)}
SKEW = (0.5, 0.8, 0.3, 1.0)
PRIMARY = ("threshold", "zero", "nk", "p_percent")


def persons(n: int, levels: int = 10, seed: int = 20261130) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray[Any, Any]] = {"person_id": np.arange(n).astype(str)}
    for name, skew in zip("abcd", SKEW, strict=True):
        p = 1.0 / np.arange(1, levels + 1) ** skew
        columns[name] = rng.choice(levels, n, p=p / p.sum()).astype(str)
    columns["cost"] = np.round(rng.lognormal(5.0, 1.0, n), 2)
    return pa.table(columns)


def run(scale: str) -> BenchResult:
    from havre.disclosure.aggregate import TableSpec, aggregate
    from havre.disclosure.cells import TableKind
    from havre.disclosure.check import check_table
    from havre.disclosure.policy import Policy

    n, levels = SCALES[scale]
    result = BenchResult("disclosure", scale)
    data = persons(n, levels)

    start = time.perf_counter()
    table = aggregate(data, TableSpec("person_id", tuple("abcd"), TableKind.SUM, "cost"))
    aggregated = time.perf_counter() - start
    start = time.perf_counter()
    primary = check_table(table, Policy(rules=PRIMARY)).report
    checked = time.perf_counter() - start
    interior = int(np.prod([len(lv) for lv in table.levels]))
    result.add("persons", n, "rows")
    result.add("cells", interior, "cells (+ margins)")
    result.add("aggregate_seconds", aggregated, "s")
    result.add("check_seconds", checked, "s", "<= 1 s", checked <= 1.0)
    ours = aggregated + checked
    result.add("aggregate_plus_check_seconds", ours, "s")
    result.add("failing_cells", primary.summary()["fail"], "cells")

    layout = data.append_column(
        "ab", pa.compute.binary_join_element_wise(data["a"], data["b"], "")
    ).append_column("cd", pa.compute.binary_join_element_wise(data["c"], data["d"], ""))
    square = aggregate(layout, TableSpec("person_id", ("ab", "cd"), TableKind.SUM, "cost"))
    start = time.perf_counter()
    full = check_table(square, Policy(), suppress=True)
    protected = time.perf_counter() - start
    assert full.protection is not None
    result.add("secondary_suppression_seconds", protected, "s")
    result.add("secondary_cells", int(full.protection.secondary.sum()), "cells")
    result.add("lp_solved", full.protection.lp_checks, "LPs")
    result.add(
        "protected", float(full.protection.protected), "bool", "1", full.protection.protected
    )

    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "persons.csv"
        pacsv.write_csv(data, csv)
        child = havre_child(
            [
                "disclosure",
                "check",
                "--input",
                str(csv),
                "--persons",
                "person_id",
                "--dims",
                "a,b,c,d",
                "--kind",
                "sum",
                "--value",
                "cost",
                "--json",
            ],
            env={"HAVRE_HOME": str(Path(folder) / "home")},
        )
        result.add("cli_seconds", child.seconds, "s")
        result.add("cli_peak_rss_mb", child.peak_rss_bytes / 2**20, "MB")
        if child.returncode not in (0, 10):  # 10: the table fails, as expected here
            result.notes.append(f"havre disclosure check exited {child.returncode}")

    acro_seconds = _acro(data)
    if acro_seconds is None:
        result.notes.append("ACRO is not installed: no comparison")
    else:
        result.add("acro_crosstab_seconds", acro_seconds, "s")
        result.add("acro_over_havre", acro_seconds / ours, "x")
    result.notes.append(
        "check_seconds: primary rules on the ready 4-D table (excludes aggregation); "
        "aggregate_plus_check_seconds includes building it from person rows, as ACRO does; "
        "secondary suppression timed on the same cells as a square 2-D table with margins"
    )
    return result


def _acro(data: pa.Table) -> float | None:
    try:
        from acro import ACRO
    except ImportError:
        return None
    logging.getLogger("acro").setLevel(logging.WARNING)
    frame = data.to_pandas()
    session = ACRO(suppress=False)
    start = time.perf_counter()
    session.crosstab(
        index=[frame.a, frame.b],
        columns=[frame.c, frame.d],
        values=frame.cost,
        aggfunc="sum",
        margins=False,
    )
    return time.perf_counter() - start
