"""Each primary rule on small hand-made tables."""

from __future__ import annotations

import pyarrow as pa

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import CellTable, TableKind
from havre.disclosure.check import check_table
from havre.disclosure.policy import Policy


def _magnitude(values: dict[str, list[float]], kind: TableKind = TableKind.SUM) -> CellTable:
    rows = [
        {"pid": f"{group}-{i}", "g": group, "v": v}
        for group, amounts in values.items()
        for i, v in enumerate(amounts)
    ]
    return aggregate(pa.Table.from_pylist(rows), TableSpec("pid", ("g",), kind, "v"))


def _policy(*rules: str, **params: object) -> Policy:
    return Policy(rules=rules).with_params(**params)


def test_threshold_is_inclusive_and_configurable() -> None:
    table = _magnitude({"a": [1.0] * 10, "b": [1.0] * 11}, TableKind.SUM)
    report = check_table(table, _policy("threshold")).report
    assert report.failed() == []
    report = check_table(table, _policy("threshold", threshold=11)).report
    assert report.failed() == [("a",)]


def test_zero_rule_respects_structural_zeros() -> None:
    rows = [{"pid": str(i), "sex": "F", "cause": "pregnancy"} for i in range(12)]
    rows += [{"pid": f"m{i}", "sex": "M", "cause": "other"} for i in range(12)]
    rows += [{"pid": f"f{i}", "sex": "F", "cause": "other"} for i in range(12)]
    data = pa.Table.from_pylist(rows)
    plain = aggregate(data, TableSpec("pid", ("sex", "cause")))
    report = check_table(plain, _policy("threshold", "zero")).report
    assert report.cell(("M", "pregnancy")).rules == ("threshold", "zero")
    declared = aggregate(
        data, TableSpec("pid", ("sex", "cause"), structural_zeros=[("M", "pregnancy")])
    )
    report = check_table(declared, _policy("threshold", "zero")).report
    assert report.cell(("M", "pregnancy")).status.value == "pass"
    assert report.cell(("M", "pregnancy")).value == 0
    lenient = _policy("zero", zeros_disclosive=False)
    assert check_table(plain, lenient).report.failed() == []


def test_nk_dominance_uses_n_largest_persons() -> None:
    table = _magnitude({"a": [50.0, 40.0] + [1.0] * 12, "b": [10.0] * 12})
    report = check_table(table, _policy("nk")).report
    assert report.failed() == []  # 90/102 < 0.90
    strict = check_table(table, _policy("nk", nk_k=0.85)).report
    assert strict.failed() == [("a",)]
    three = _magnitude({"a": [40.0, 30.0, 25.0] + [1.0] * 9}, TableKind.SUM)
    assert check_table(three, _policy("nk", nk_n=2)).report.failed() == []
    table3 = aggregate(
        pa.Table.from_pylist(
            [
                {"pid": str(i), "g": "a", "v": v}
                for i, v in enumerate([40.0, 30.0, 25.0] + [1.0] * 9)
            ]
        ),
        TableSpec("pid", ("g",), TableKind.SUM, "v", top_n=3),
    )
    assert ("a",) in check_table(table3, _policy("nk", nk_n=3)).report.failed()


def test_p_percent_rule() -> None:
    # Largest 1000, second 50, the rest 50: the second estimates the first within 5 %.
    table = _magnitude({"a": [1000.0, 50.0] + [5.0] * 10, "b": [100.0] * 12})
    report = check_table(table, _policy("p_percent")).report
    assert ("a",) in report.failed()
    assert ("b",) not in report.failed()
    assert check_table(table, _policy("p_percent", p_percent=0.04)).report.failed() == []


def test_negative_amounts_are_ranked_by_size() -> None:
    table = _magnitude({"a": [-1000.0, 10.0] + [1.0] * 10})
    assert ("a",) in check_table(table, _policy("nk")).report.failed()


def test_minimum_and_maximum_go_to_review() -> None:
    table = _magnitude({"a": [float(i) for i in range(12)]}, TableKind.MAX)
    report = check_table(table, _policy("threshold", "extremes")).report
    assert report.status.value == "review"
    assert report.cell(("a",)).status.value == "review"
    assert report.cell(("a",)).value == 11.0  # the checker sees what they review
    allowed = check_table(table, _policy("threshold", "extremes", allow_min_max=True)).report
    assert allowed.status.value == "pass"


def test_failed_cells_never_show_their_value_nor_the_count_in_reasons() -> None:
    table = _magnitude({"a": [7.0, 3.0, 2.0], "b": [1.0] * 20})
    report = check_table(table, Policy()).report
    cell = report.cell(("a",))
    assert cell.status.value == "fail" and cell.value is None
    assert all("3" not in reason for reason in cell.reasons)
    assert "12" not in str(report.to_dict()["cells"][0])


def test_mean_and_median_tables() -> None:
    table = _magnitude({"a": [10.0] * 12, "b": [20.0] * 3}, TableKind.MEAN)
    report = check_table(table, Policy(), suppress=True).report
    assert report.cell(("b",)).value is None
    # With the total released, b would be total - a: a is withheld too.
    assert report.cell(("a",)).rules == ("secondary",)
    report = check_table(table, Policy().with_params(margins=False), suppress=True).report
    assert report.cell(("a",)).value == 10.0
    median = _magnitude({"a": [1.0, 2.0, 3.0] * 4, "b": [1.0]}, TableKind.MEDIAN)
    report = check_table(median, Policy(), suppress=True).report
    assert report.cell(("a",)).value == 2.0
    assert report.cell(("b",)).value is None
    assert any("secondary suppression does not apply" in n for n in report.notes)
