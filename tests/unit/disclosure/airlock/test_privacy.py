"""Differentially private counts through the airlock: OpenDP noise, the project's ledger,
refusal once the budget would be exceeded, and a data steward's budget."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from havre.core.errors import DisclosureError, PermissionDenied, UsageError
from havre.disclosure.models import PrivacySpendRow
from havre.scenarios.governed import GovernedProject

from .conftest import BY_SEX, as_, audit_lines, researcher, spec

LEVELS = {"sex": ["8507", "8532"]}


def noisy(name: str, epsilon: float, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "count",
        "sql": BY_SEX,
        "dims": ["sex"],
        "levels": LEVELS,
        "dp": {"epsilon": epsilon},
        **more,
    }


def test_budget_is_spent_and_refused_past_its_total(sqlite_governed: GovernedProject) -> None:
    g = sqlite_governed
    airlock = g.hub.airlock
    pid = g.project_id
    with pytest.raises(UsageError, match="Declare the levels of sex"):
        airlock.request(researcher(g), pid, spec(noisy("dp", 0.1, levels={})))
    assert airlock.budget(researcher(g), pid).spent_epsilon == 0

    first = airlock.request(researcher(g), pid, spec(noisy("dp_by_sex", 0.6)))
    output = first.output("dp_by_sex")
    assert output.status == "pass" and output.dp_epsilon == 0.6
    privacy = output.report["privacy"]
    assert privacy["epsilon"] == 0.6 and "OpenDP" in privacy["mechanism"]
    cells = output.report["cells"]
    assert [c["cell"] for c in cells] == [["8507"], ["8532"], [None]]
    assert cells[2]["value"] == cells[0]["value"] + cells[1]["value"]  # margins: sums
    assert all(c["rules"] == ["differential_privacy"] for c in cells)

    budget = airlock.budget(researcher(g), pid)
    assert (budget.total_epsilon, budget.spent_epsilon) == (1.0, 0.6)
    assert budget.entries[0]["output_id"] == output.id
    spend = audit_lines(g.hub, "dp.spend")
    assert len(spend) == 1 and spend[0]["details"]["remaining"] == pytest.approx(0.4)

    with pytest.raises(DisclosureError, match=r"0\.4 of its privacy budget left"):
        airlock.request(researcher(g), pid, spec(noisy("more", 0.5)))
    refused = audit_lines(g.hub, "release.create")[-1]
    assert refused["outcome"] == "denied" and "privacy budget" in refused["reason"]
    with g.hub.db.transaction() as session:
        assert len(list(session.execute(select(PrivacySpendRow)).scalars())) == 1
    # nothing was computed for the refused request: no candidate was left behind
    folders = [p for p in (g.hub.home / "airlock" / pid).iterdir() if p.name != "persons"]
    assert [p.name for p in folders] == [first.id]

    # checking a DP output again draws new noise, and spends again
    with pytest.raises(DisclosureError, match="privacy budget"):
        airlock.check(researcher(g), first.id)

    with pytest.raises(PermissionDenied, match="data_steward"):
        airlock.set_budget(researcher(g), pid, 5.0, "We need more.")
    with pytest.raises(UsageError, match=r"spent 0\.6 already"):
        airlock.set_budget(as_(g, g.steward), pid, 0.5, "Tighter.")
    raised = airlock.set_budget(as_(g, g.steward), pid, 2.0, "Second paper approved.")
    assert raised.remaining_epsilon == pytest.approx(1.4) and raised.set_by == g.steward.user_id
    again = airlock.check(researcher(g), first.id)
    assert again.output("dp_by_sex").version == 2
    assert airlock.budget(as_(g, g.checkers[0]), pid).spent_epsilon == pytest.approx(1.2)
    with pytest.raises(PermissionDenied, match="privacy budget"):
        airlock.budget(as_(g, g.world.outsider), pid)
    assert [e["outcome"] for e in audit_lines(g.hub, "dp.budget")] == ["denied", "error", "ok"]
