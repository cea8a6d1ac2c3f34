"""Suggestions lower the measured risk, stop at the target, and say what they cost."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pycanon import anonymity

from havre.cdm.reference import communes
from havre.core.config import Settings
from havre.core.errors import UsageError
from havre.disclosure.risk import (
    ClassHistogram,
    RiskAnalysis,
    RiskTarget,
    SuggestionReport,
    declare,
    register,
    suggest,
)
from havre.lake.engine import DuckDBEngine

DECLARATION = declare(
    ["birth_month", "sex", "commune", "stay_date"],
    sensitive=["dx"],
    kinds={"stay_date": "exact_date"},
)


def extract(rows: int = 4000, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    codes = communes().column("code_commune").to_pylist()
    places = rng.choice([c for c in codes if c[:2] in {"13", "75", "2A"}], 40)
    years = rng.integers(1940, 2010, rows)
    months = rng.integers(1, 13, rows)
    days = np.datetime64("2022-01-01") + rng.integers(0, 365, rows)
    return pa.table(
        {
            "birth_month": [f"{y}-{m:02d}" for y, m in zip(years, months, strict=True)],
            "sex": rng.choice(["1", "2"], rows),
            "commune": rng.choice(places, rows),
            "stay_date": days.astype("datetime64[D]"),
            "dx": rng.choice(["E11", "I10", "J45", "C50", "F32"], rows),
        }
    )


@pytest.fixture(scope="module")
def analysis() -> Iterator[RiskAnalysis]:
    # One prepared extract for the module: its histograms are cached across tests.
    with tempfile.TemporaryDirectory() as home:
        engine = DuckDBEngine(Settings(home=Path(home), duckdb_memory_limit="256MB"))
        with RiskAnalysis(register(engine, extract()), DECLARATION) as prepared:
            yield prepared
        engine.close()


@pytest.fixture(scope="module")
def k5(analysis: RiskAnalysis) -> SuggestionReport:
    return suggest(analysis, RiskTarget(k=5))


def averages(analysis: RiskAnalysis, report: SuggestionReport) -> list[float]:
    return [analysis.assess().prosecutor.average] + [
        step.assessment.prosecutor.average for step in report.steps
    ]


def test_k_target(analysis: RiskAnalysis, k5: SuggestionReport) -> None:
    report = k5
    assert report.reached
    assert report.steps and all(step.action == "generalize" for step in report.steps)
    risks = averages(analysis, report)
    assert all(after <= before for before, after in itertools.pairwise(risks))
    assert risks[-1] < risks[0]
    assert report.steps[-1].assessment.k >= 5
    assert report.steps[-1].target_met
    assert not any(step.target_met for step in report.steps[:-1])  # stops at the target
    losses = [step.loss.total for step in report.steps]
    assert all(a < b for a, b in itertools.pairwise([0.0, *losses]))
    assert losses[-1] <= 1
    final = report.steps[-1].loss.columns
    assert final["sex"].loss == 0.0 and final["sex"].level == "value"
    for step in report.steps:
        column = final[step.column or ""]
        assert column.distinct_after <= column.distinct_before


def test_the_goal_is_the_cheapest_node(analysis: RiskAnalysis, k5: SuggestionReport) -> None:
    target, report = RiskTarget(k=5), k5
    reached = tuple(
        analysis.hierarchies[i].level_index(c.level)
        for i, c in enumerate(report.steps[-1].assessment.columns)
    )
    best = report.steps[-1].loss.total
    ranges = [range(tree.top + 1) for tree in analysis.hierarchies]
    for node in itertools.product(*ranges):
        if node != reached and target.met_by(analysis.histogram(node)):
            loss = sum(
                1 - analysis.entropy(i, level) / analysis.entropy(i, 0)
                for i, level in enumerate(node)
                if analysis.entropy(i, 0) > 0
            ) / len(node)
            assert loss >= best - 1e-12


def test_k_matches_pycanon_on_the_generalized_extract(
    analysis: RiskAnalysis, k5: SuggestionReport
) -> None:
    report = k5
    columns = report.steps[-1].assessment.columns
    expressions = [
        analysis.hierarchies[i]
        .levels[analysis.hierarchies[i].level_index(c.level)]
        .sql(f'"{c.column}"')
        + f" AS g{i}"
        for i, c in enumerate(columns)
    ]
    generalized = analysis.engine.sql(
        f"SELECT {', '.join(expressions)} FROM {analysis.relation.sql}"
    ).to_pandas()
    assert (
        anonymity.k_anonymity(generalized, list(generalized.columns))
        == report.steps[-1].assessment.k
    )


def test_average_risk_target(analysis: RiskAnalysis) -> None:
    report = suggest(analysis, RiskTarget(average_risk=0.05))
    assert report.reached
    assert report.steps[-1].assessment.prosecutor.average <= 0.05
    risks = averages(analysis, report)
    assert all(after <= before for before, after in itertools.pairwise(risks))


def test_suppression_ends_the_search_early(analysis: RiskAnalysis) -> None:
    without = suggest(analysis, RiskTarget(k=10))
    report = suggest(analysis, RiskTarget(k=10), max_suppression=0.05)
    assert report.reached
    last = report.steps[-1]
    assert last.action == "suppress"
    assert 0 < last.assessment.suppressed_records <= 0.05 * analysis.records
    assert last.assessment.k >= 10
    assert last.loss.suppressed_share == last.assessment.suppressed_records / analysis.records
    # what the previous state said suppression would drop is what was dropped
    before = report.steps[-2].records_to_suppress if len(report.steps) > 1 else None
    if before is not None:
        assert before == last.assessment.suppressed_records
    assert report.steps[-1].loss.total <= without.steps[-1].loss.total


def test_greedy_search_lowers_the_risk_step_by_step(analysis: RiskAnalysis) -> None:
    target = RiskTarget(k=5)
    report = suggest(analysis, target, max_evaluations=0)
    assert report.reached
    shortfalls = [target.shortfall(analysis.histogram())] + [
        target.shortfall(step.assessment.histogram) for step in report.steps
    ]
    assert all(after <= before for before, after in itertools.pairwise(shortfalls))
    risks = averages(analysis, report)
    assert all(after < before for before, after in itertools.pairwise(risks))
    assert report.steps[-1].assessment.k >= 5


def test_target_already_met(engine: DuckDBEngine) -> None:
    table = pa.table({"sex": ["1"] * 6 + ["2"] * 5})
    with RiskAnalysis(register(engine, table), declare(["sex"])) as analysis:
        report = suggest(analysis, RiskTarget(k=5))
    assert report.reached and report.steps == ()


def test_unreachable_target(engine: DuckDBEngine) -> None:
    table = pa.table({"sex": ["1", "1", "2"], "other": ["a", "b", "c"]})
    with RiskAnalysis(register(engine, table), declare(["sex", "other"])) as analysis:
        report = suggest(analysis, RiskTarget(k=2))
    assert not report.reached
    assert report.steps == ()
    assert "would drop 3 of 3 records" in report.message


def test_targets_are_checked() -> None:
    with pytest.raises(UsageError, match="needs k or an average risk"):
        RiskTarget()
    with pytest.raises(UsageError, match="give k >= 2"):
        RiskTarget(k=1)
    with pytest.raises(UsageError, match=r"not in \(0, 1\)"):
        RiskTarget(average_risk=1.5)


def test_suppression_share_is_checked(analysis: RiskAnalysis) -> None:
    with pytest.raises(UsageError, match="Maximum suppression"):
        suggest(analysis, RiskTarget(k=5), max_suppression=1.0)


def test_report_to_dict(analysis: RiskAnalysis) -> None:
    body = suggest(analysis, RiskTarget(k=5, average_risk=0.1)).to_dict()
    assert body["target"] == {"k": 5, "average_risk": 0.1}
    step = body["steps"][0]
    for key in ("action", "column", "from_level", "to_level", "k", "prosecutor_risk", "loss", "l"):
        assert key in step


def test_suppression_size_by_hand() -> None:
    # 10 classes of 1, 5 of 2, 2 of 10: 40 records, 17 classes
    histogram = ClassHistogram((1, 2, 10), (10, 5, 2))
    assert RiskTarget(k=3).suppression_size(histogram) == 3
    assert RiskTarget(average_risk=0.25).suppression_size(histogram) == 2  # 7 / 30
    assert RiskTarget(average_risk=0.2).suppression_size(histogram) == 10  # 2 / 20
    assert RiskTarget(k=5, average_risk=0.25).suppression_size(histogram) == 10
    assert RiskTarget(average_risk=0.01).suppression_size(histogram) == 11  # nothing is enough
    assert RiskTarget(k=3).shortfall(histogram) == pytest.approx(20 / 40)
    assert RiskTarget(average_risk=0.25).shortfall(histogram) == pytest.approx(
        (17 / 40 - 0.25) / 0.25
    )


def test_greedy_search_raises_two_columns_when_one_cannot_help(engine: DuckDBEngine) -> None:
    # each column alone tells all twelve people apart: only raising both merges anyone
    months = [f"19{80 + i // 12}-{i % 12 + 1:02d}" for i in range(12)]
    days = [f"2021-{i + 1:02d}-{10 + i:02d}" for i in range(12)]
    table = pa.table({"birth_month": months, "stay_date": days})
    declaration = declare(["birth_month", "stay_date"], kinds={"stay_date": "exact_date"})
    with RiskAnalysis(register(engine, table), declaration) as analysis:
        for column in (0, 1):
            raised = tuple(analysis.hierarchies[i].top if i == column else 0 for i in (0, 1))
            assert analysis.histogram(raised).k == 1
        report = suggest(analysis, RiskTarget(k=2), max_evaluations=0)
        risks = averages(analysis, report)
    assert report.reached and report.steps[-1].assessment.k >= 2
    assert len(report.steps) >= 2 and risks[-1] < risks[0]
    assert all(after <= before for before, after in itertools.pairwise(risks))
