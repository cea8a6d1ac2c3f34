"""The golden case of tests/data/sdc: the flags ACRO 1.0.2 gives, then what secondary
suppression adds."""

from __future__ import annotations

from typing import Any

import numpy as np

from havre.disclosure.cells import TableKind
from havre.disclosure.check import check_table
from havre.disclosure.policy import Policy, PolicyParams
from havre.disclosure.protection.intervals import feasibility_intervals, integer_width
from havre.disclosure.protection.lines import relations


def _pairs(cells: list[tuple[str | None, ...]]) -> set[tuple[str | None, ...]]:
    return {c for c in cells if None not in c}  # ACRO's table has no margins


def _as_set(pairs: list[list[str]]) -> set[tuple[str | None, ...]]:
    return {tuple(p) for p in pairs}


def test_defaults_are_those_of_the_golden_case(golden_expected: dict[str, Any]) -> None:
    expected = golden_expected["parameters"]
    params = PolicyParams()
    assert params.threshold == expected["threshold"]
    assert (params.nk_n, params.nk_k) == (expected["nk_n"], expected["nk_k"])
    assert params.p_percent == expected["p_percent"]
    assert params.zeros_disclosive is expected["zeros_are_disclosive"]


def test_count_table_values_and_flags(
    golden_expected: dict[str, Any], make_golden_table: Any
) -> None:
    expected = golden_expected["count_table"]
    table = make_golden_table(TableKind.COUNT)
    for region, row in expected["values"].items():
        for sex, count in row.items():
            assert table.persons.ravel()[table.index_of((region, sex))] == count
    report = check_table(table, Policy()).report
    assert _pairs(report.flagged("threshold")) == _as_set(expected["threshold_fails"])
    assert _pairs(report.flagged("zero")) == _as_set(expected["zero_fails"])
    for cell in expected["passes_exactly_at_threshold"]:
        result = report.cell(cell)
        assert result.status.value == "pass" and result.value == 10


def test_sum_table_values_and_flags(
    golden_expected: dict[str, Any], make_golden_table: Any
) -> None:
    expected = golden_expected["sum_of_cost_table"]
    table = make_golden_table(TableKind.SUM)
    values = table.values().ravel()
    for region, row in expected["values"].items():
        for sex, total in row.items():
            assert values[table.index_of((region, sex))] == total
    report = check_table(table, Policy()).report
    assert _pairs(report.flagged("nk")) == _as_set(expected["nk_fails"])
    assert _pairs(report.flagged("p_percent")) == _as_set(expected["p_percent_fails"])
    assert _pairs(report.flagged("threshold")) == _as_set(expected["threshold_fails"])
    assert not report.flagged("zero")  # as ACRO: empty magnitude cells fail the threshold
    m = table.magnitudes
    assert m is not None
    for name, ratio in expected["nk_ratios"].items():
        i = table.index_of(tuple(name.split("/")))
        assert round((m.top1.ravel()[i] + m.top2.ravel()[i]) / m.abs_total.ravel()[i], 4) == ratio
    for name, p in expected["p_values"].items():
        i = table.index_of(tuple(name.split("/")))
        rest = m.abs_total.ravel()[i] - m.top1.ravel()[i] - m.top2.ravel()[i]
        assert round(rest / m.top1.ravel()[i], 4) == p


def _interval(table: Any, released: np.ndarray, cell: tuple[str, str]) -> tuple[float, float]:
    counts = table.persons.ravel().astype(float)
    lower = np.where(released, counts, 0.0)
    upper = np.where(released, counts, np.inf)
    target = np.array([table.index_of(cell)])
    found = feasibility_intervals(relations(table.shape, True), counts, lower, upper, target)
    return float(found.lower[0]), float(found.upper[0])


def test_primary_suppression_alone_lets_r2_m_be_recomputed(make_golden_table: Any) -> None:
    table = make_golden_table(TableKind.COUNT)
    primary = table.persons < 10
    released = ~primary.ravel()
    low, high = _interval(table, released, ("R2", "M"))
    assert low == high == 9  # total(R2) - R2/F = 21 - 12


def test_secondary_suppression_protects_r2_m(make_golden_table: Any) -> None:
    table = make_golden_table(TableKind.COUNT)
    result = check_table(table, Policy(), suppress=True)
    report = result.report
    assert report.status.value == "pass"
    assert result.protection is not None and result.protection.protected
    secondary = {c.cell for c in report.cells if "secondary" in c.rules}
    assert secondary, "secondary suppression must add cells"
    assert all(report.cell(c).status.value == "fail" for c in secondary)
    # Something else in row R2 and in column M (cells or margins) is withheld.
    withheld = {c.cell for c in report.cells if c.value is None}
    assert any(c[0] == "R2" and c != ("R2", "M") for c in withheld)
    assert any(c[1] == "M" and c != ("R2", "M") for c in withheld)
    released = ~np.isnan(result.released.ravel())
    low, high = _interval(table, released, ("R2", "M"))
    assert integer_width(np.array([low]), np.array([high]))[0] >= 10
    # No released value is a failing one, and the report never shows a suppressed value.
    assert all(c.value is None for c in report.cells if c.status.value == "fail")


def test_secondary_suppression_on_the_sum_table_meets_both_criteria(
    make_golden_table: Any,
) -> None:
    table = make_golden_table(TableKind.SUM)
    result = check_table(table, Policy(), suppress=True)
    assert result.protection is not None and result.protection.protected
    from havre.disclosure.protection.suppress import verify

    exposed, solved = verify(table, result.protection.suppressed, PolicyParams())
    assert solved > 0 and not exposed.any()
