"""Differential privacy with OpenDP: the person as the unit, bounded contributions, a ledger."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from havre.core.errors import DisclosureError, UsageError
from havre.disclosure.privacy import PrivacyBudget, dp_counts

LEVELS = {"region": ["R1", "R2", "R3"], "sex": ["F", "M"]}


def _data(n: int = 600, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "pid": np.arange(n).astype(str),
            "region": rng.choice(["R1", "R2", "R3"], n),
            "sex": rng.choice(["F", "M"], n),
        }
    )


def test_noisy_counts_are_close_with_a_large_epsilon_and_margins_add_up() -> None:
    data = _data()
    noisy, _ = dp_counts(data, "pid", ["region", "sex"], LEVELS, epsilon=50.0)
    truth = pa.TableGroupBy(data, ["region", "sex"]).aggregate([("pid", "count")])
    total = 0
    for row in truth.to_pylist():
        i = LEVELS["region"].index(row["region"])
        j = LEVELS["sex"].index(row["sex"])
        assert abs(int(noisy.counts[i, j]) - row["pid_count"]) <= 3
        total += int(noisy.counts[i, j])
    assert noisy.counts[-1, -1] == total
    assert (noisy.counts[:-1, -1] == noisy.counts[:-1, :-1].sum(axis=1)).all()
    assert noisy.scale == pytest.approx(1 / 50.0, rel=1e-6)


def test_noise_is_added() -> None:
    data = _data()
    first, _ = dp_counts(data, "pid", ["region"], LEVELS, epsilon=0.1)
    second, _ = dp_counts(data, "pid", ["region"], LEVELS, epsilon=0.1)
    assert not np.array_equal(first.counts, second.counts)


def test_contributions_are_bounded_per_person() -> None:
    # One person in every cell: with max_contributions=1 they count in one cell only.
    rows = [{"pid": "p", "region": r, "sex": s} for r in LEVELS["region"] for s in LEVELS["sex"]]
    data = pa.Table.from_pylist(rows)
    noisy, _ = dp_counts(data, "pid", ["region", "sex"], LEVELS, epsilon=1000.0)
    assert noisy.counts[-1, -1] == 1
    noisy, _ = dp_counts(
        data, "pid", ["region", "sex"], LEVELS, epsilon=1000.0, max_contributions=3
    )
    assert noisy.counts[-1, -1] == 3
    assert noisy.scale == pytest.approx(3 / 1000.0, rel=1e-6)


def test_the_budget_is_charged_and_refuses_overspending() -> None:
    budget = PrivacyBudget(project_id="prj_1", total_epsilon=1.0)
    _, budget_after = dp_counts(
        _data(), "pid", ["region"], LEVELS, epsilon=0.6, budget=budget, release_id="r1"
    )
    assert budget_after is not None
    assert budget_after.spent == pytest.approx(0.6)
    with pytest.raises(DisclosureError, match="privacy budget"):
        dp_counts(_data(), "pid", ["region"], LEVELS, epsilon=0.6, budget=budget_after)
    restored = PrivacyBudget.model_validate_json(budget_after.model_dump_json())
    assert restored == budget_after
    with pytest.raises(UsageError, match="already charged"):
        budget_after.charge(0.1, "r1")


def test_categories_must_be_declared() -> None:
    with pytest.raises(UsageError, match="Declare the levels of sex"):
        dp_counts(_data(), "pid", ["region", "sex"], {"region": ["R1"]}, epsilon=1.0)
