"""Cross-check with ACRO 1.0.2 on the golden case (string dimensions, no margins: the known
ACRO bug with integer dimensions and margins is avoided, and ACRO is no oracle there)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from havre.disclosure.cells import TableKind
from havre.disclosure.check import check_table
from havre.disclosure.policy import Policy

CASE = Path(__file__).resolve().parents[2] / "data" / "sdc" / "case_a.csv"
ACRO_TO_RULE = {
    "MinimumThresholdCheck": "threshold",
    "PresenceOfZeroCheck": "zero",
    "NKCheck": "nk",
    "PPercentCheck": "p_percent",
}


def _acro_flags(kind: TableKind) -> dict[tuple[str, str], set[str]]:
    pd = pytest.importorskip("pandas")
    acro_module = pytest.importorskip("acro")
    logging.getLogger("acro").setLevel(logging.WARNING)
    frame = pd.read_csv(CASE)
    frame["region"] = pd.Categorical(frame["region"], categories=["R1", "R2", "R3", "R4"])
    session = acro_module.ACRO(suppress=False)
    if kind is TableKind.COUNT:
        session.crosstab(frame.region, frame.sex, margins=False, dropna=False)
    else:
        session.crosstab(
            frame.region, frame.sex, values=frame.cost, aggfunc="sum", margins=False, dropna=False
        )
    outcome = session.results.get_index(0).outcome
    flags: dict[tuple[str, str], set[str]] = {}
    for region, row in outcome.iterrows():
        for sex, text in row.items():
            names = {part.strip() for part in str(text).split(";") if part.strip()}
            flags[(str(region), str(sex))] = {ACRO_TO_RULE[n] for n in names if n != "ok"}
    return flags


@pytest.mark.slow
@pytest.mark.parametrize("kind", [TableKind.COUNT, TableKind.SUM])
def test_same_flags_as_acro(kind: TableKind, make_golden_table: Any) -> None:
    expected = _acro_flags(kind)
    report = check_table(make_golden_table(kind), Policy().with_params(margins=False)).report
    ours = {c.cell: {r for r in c.rules if r in ACRO_TO_RULE.values()} for c in report.cells}
    assert ours == expected
