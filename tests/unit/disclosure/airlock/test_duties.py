"""Separation of duties, on both governance stores: who may request, submit, review,
consolidate, release and download; every refusal is audited as denied."""

from __future__ import annotations

from pathlib import Path

import pytest

from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.scenarios.governed import GovernedProject

from .conftest import WHY, as_, audit_lines, count_by_sex, researcher, spec


def test_separation_of_duties(governed: GovernedProject, tmp_path: Path) -> None:
    g = governed
    airlock = g.hub.airlock
    world = g.world
    admin = world.people.admin()
    first, second, third = g.checkers
    # the researcher and the lead also check outputs hub-wide (allowed: a hub-wide checker is
    # kept off their own projects case by case, which is what the airlock does)
    for person in (g.researcher, g.lead):
        g.hub.identity.grant_role(world.actor(admin), person.user_id, "checker")

    with pytest.raises(PermissionDenied, match="not a named person"):
        airlock.request(as_(g, world.outsider, WHY), g.project_id, spec(count_by_sex()))
    rid = airlock.request(researcher(g), g.project_id, spec(count_by_sex())).id

    with pytest.raises(PermissionDenied, match="Only the person who made"):
        airlock.submit(as_(g, g.lead), rid)
    airlock.submit(researcher(g), rid)

    with pytest.raises(PermissionDenied, match="same person cannot request a release and review"):
        airlock.review(researcher(g), rid, "approve")
    with pytest.raises(PermissionDenied, match="member of the project's team cannot review"):
        airlock.review(as_(g, g.lead), rid, "approve")
    with pytest.raises(PermissionDenied, match="role 'checker'"):
        airlock.review(as_(g, g.steward), rid, "approve")
    with pytest.raises(PermissionDenied, match="role 'checker'"):
        airlock.review(world.actor(admin, g.project_id), rid, "approve")

    airlock.review(as_(g, first), rid, "approve")
    with pytest.raises(StateError, match="already reviewed"):
        airlock.review(as_(g, first), rid, "return", comment="Changed my mind.")
    with pytest.raises(UsageError, match="Say why"):
        airlock.review(as_(g, second), rid, "return")
    airlock.review(as_(g, second), rid, "return", comment="Band the ages first.")

    # the two disagree: a third checker decides, in writing
    with pytest.raises(PermissionDenied, match="third checker"):
        airlock.consolidate(as_(g, first), rid, "approved", "Counts by sex are coarse enough.")
    with pytest.raises(UsageError, match="resolution"):
        airlock.consolidate(as_(g, third), rid, "approved")
    with pytest.raises(PermissionDenied, match="member of the project's team"):
        airlock.consolidate(as_(g, g.lead), rid, "approved", "Counts by sex are fine.")
    with pytest.raises(PermissionDenied, match="role 'checker'"):
        airlock.approve(world.actor(admin, g.project_id), rid, "Looks fine to me.")
    decided = airlock.consolidate(
        as_(g, third), rid, "approved", "Counts by sex need no banding; nothing is small."
    )
    assert decided.state == "approved" and decided.decided_by == third.user_id
    assert decided.consolidations[0].agreed is False

    with pytest.raises(PermissionDenied, match="data_steward"):
        airlock.release(researcher(g), rid)
    with pytest.raises(PermissionDenied, match="data_steward"):
        airlock.release(as_(g, first), rid)  # a reviewer, not the one who consolidated
    released = airlock.release(as_(g, g.steward), rid)
    assert released.state == "released" and released.released_by == g.steward.user_id

    with pytest.raises(PermissionDenied, match="named persons"):
        airlock.download(as_(g, world.outsider), rid, tmp_path / "outsider")
    with pytest.raises(PermissionDenied, match="named persons"):
        airlock.download(as_(g, first), rid, tmp_path / "checker")
    got = airlock.download(as_(g, g.lead), rid, tmp_path / "lead")
    assert "by_sex.csv" in got.files
    assert not (tmp_path / "outsider").exists() or not any((tmp_path / "outsider").iterdir())

    denied = [e["action"] for e in audit_lines(g.hub, "release.") if e["outcome"] == "denied"]
    assert denied == [
        "release.create",
        "release.submit",
        *["release.review"] * 5,
        *["release.consolidate"] * 3,
        "release.release",
        "release.release",
        "release.download",
        "release.download",
    ]
    errors = [e["action"] for e in audit_lines(g.hub, "release.") if e["outcome"] == "error"]
    assert errors == ["release.review", "release.consolidate"]  # bad input, not refusals
