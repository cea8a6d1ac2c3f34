"""The states of a request: a failing output blocks submission, a returned request is
reworked into new output versions and a second round, withdrawal, what no state allows, and
nothing released once the project is suspended or closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from havre.core.errors import DisclosureError, PermissionDenied, StateError
from havre.disclosure.models import ReleaseOutputRow
from havre.governance.identity import Role
from havre.scenarios.governed import GovernedProject

from .conftest import as_, audit_lines, researcher, spec

BANDS = (
    "SELECT person_id, gender_concept_id AS sex, "
    "CASE WHEN year_of_birth < 1932 THEN 'A' WHEN year_of_birth < 1970 THEN 'B' ELSE 'C' END "
    "AS band FROM person"
)
COARSE = (
    "SELECT person_id, gender_concept_id AS sex, "
    "CASE WHEN year_of_birth < 1970 THEN 'before 1970' ELSE '1970 or later' END AS band "
    "FROM person"
)


def bands(sql: str = BANDS, **more: object) -> dict[str, object]:
    return {"name": "by_sex_band", "kind": "count", "sql": sql, "dims": ["sex", "band"], **more}


def test_returned_request_is_reworked(sqlite_governed: GovernedProject, tmp_path: Path) -> None:
    g = sqlite_governed
    airlock = g.hub.airlock
    first, second, third = g.checkers

    # as computed (no suppression asked) the table fails: it cannot be submitted
    created = airlock.request(researcher(g), g.project_id, spec(bands(suppress=False)))
    rid = created.id
    assert created.output("by_sex_band").status == "fail"
    with pytest.raises(DisclosureError, match="by_sex_band fail"):
        airlock.submit(researcher(g), rid)
    checked = airlock.check(researcher(g), rid, spec(bands()))
    assert checked.output("by_sex_band").version == 2
    assert checked.output("by_sex_band").status == "pass"
    assert airlock.submit(researcher(g), rid).round == 1

    airlock.review(as_(g, first), rid, "return", notes={"by_sex_band": "Too many withheld cells."})
    airlock.review(as_(g, second), rid, "return", comment="Coarser bands, please.")
    # they agree: one of them records it, not a third checker
    with pytest.raises(PermissionDenied, match="one of them records"):
        airlock.return_request(as_(g, third), rid)
    with pytest.raises(Exception, match="outcome is returned"):
        airlock.approve(as_(g, second), rid)
    returned = airlock.consolidate(as_(g, second), rid)
    assert returned.state == "returned" and returned.allowed_next == ("check", "withdraw")
    seen = airlock.show(researcher(g), rid)
    assert {r.verdict for r in seen.reviews} == {"return"} and seen.reviews_hidden == 0
    assert seen.reviews[0].verdicts["by_sex_band"]["comment"] == "Too many withheld cells."

    reworked = airlock.check(researcher(g), rid, spec(bands(COARSE)))
    assert reworked.state == "pending" and reworked.output("by_sex_band").version == 3
    report = reworked.output("by_sex_band").report
    assert report["mitigation"]["primary_suppressed"] == 0 and report["status"] == "pass"
    assert airlock.submit(researcher(g), rid).round == 2
    # a checker of the first round may judge the new one; so may a checker of this project only
    approve = airlock.review(as_(g, first), rid, "approve")
    assert approve.reviews_hidden == 0 and [r.round for r in approve.reviews] == [1, 1, 2]
    local = g.world.people.person([(Role.CHECKER, g.project_id)], name="Paule Local")
    airlock.review(as_(g, local), rid, "approve")
    airlock.approve(as_(g, local), rid)
    released = airlock.release(as_(g, local), rid)
    assert released.state == "released" and len(released.consolidations) == 2

    with g.hub.db.transaction() as session:
        rows = list(
            session.execute(
                select(ReleaseOutputRow).where(ReleaseOutputRow.request_id == rid)
            ).scalars()
        )
    assert sorted((r.version, r.current) for r in rows) == [(1, False), (2, False), (3, True)]
    candidates = g.hub.home / "airlock" / g.project_id / rid
    assert not candidates.exists()  # released: the plain files are in releases/ now
    got = airlock.download(researcher(g), rid, tmp_path / "out")
    csv = (tmp_path / "out" / "by_sex_band.csv").read_text("utf-8")
    assert "before 1970" in csv and got.files[-1] == "manifest.json"
    checks = [e["action"] for e in audit_lines(g.hub, "release.check")]
    assert checks == ["release.check", "release.check"]


def test_withdrawal_and_what_no_state_allows(
    sqlite_governed: GovernedProject, tmp_path: Path
) -> None:
    g = sqlite_governed
    airlock = g.hub.airlock
    first, second, _ = g.checkers
    table = {"name": "by_sex", "kind": "count", "sql": BANDS, "dims": ["sex"]}

    rid = airlock.request(researcher(g), g.project_id, spec(table)).id
    with pytest.raises(StateError, match="pending: it cannot be taken to 'review'"):
        airlock.review(as_(g, first), rid, "approve")
    airlock.submit(researcher(g), rid)
    with pytest.raises(StateError, match="only released outputs"):
        airlock.download(researcher(g), rid, tmp_path / "early")
    with pytest.raises(StateError, match="cannot be taken to 'release'"):
        airlock.release(as_(g, g.steward), rid)
    with pytest.raises(PermissionDenied, match="Only the person who made"):
        airlock.withdraw(as_(g, g.lead), rid, "Not needed.")
    assert (g.hub.home / "airlock" / g.project_id / rid).exists()
    withdrawn = airlock.withdraw(researcher(g), rid, "The paper was rejected.")
    assert withdrawn.state == "withdrawn" and withdrawn.allowed_next == ()
    assert not (g.hub.home / "airlock" / g.project_id / rid).exists()
    with pytest.raises(StateError, match="none: this is final"):
        airlock.review(as_(g, first), rid, "approve")
    with pytest.raises(StateError, match="withdrawn"):
        airlock.check(researcher(g), rid)

    # approved but not released: still nothing to download; rejected is final
    other = airlock.request(researcher(g), g.project_id, spec(table)).id
    airlock.submit(researcher(g), other)
    airlock.review(as_(g, first), other, "approve")
    airlock.review(as_(g, second), other, "approve")
    airlock.approve(as_(g, first), other)
    with pytest.raises(StateError, match="only released outputs"):
        airlock.download(researcher(g), other, tmp_path / "approved")
    assert not (tmp_path / "approved").exists()

    third = airlock.request(researcher(g), g.project_id, spec(table)).id
    airlock.submit(researcher(g), third)
    airlock.review(as_(g, first), third, "reject", comment="Outside the permit's purpose.")
    airlock.review(as_(g, second), third, "reject", comment="Agreed.")
    rejected = airlock.reject(as_(g, second), third)
    assert rejected.state == "rejected" and rejected.allowed_next == ()
    with pytest.raises(StateError, match="rejected"):
        airlock.withdraw(researcher(g), third, "Too late.")
    assert not (g.hub.home / "airlock" / g.project_id / third).exists()

    listed = airlock.list_requests(researcher(g))
    assert {(r.id, r.state) for r in listed} == {
        (rid, "withdrawn"),
        (other, "approved"),
        (third, "rejected"),
    }
    assert airlock.list_requests(as_(g, g.world.outsider)) == []
    assert [r.id for r in airlock.list_requests(as_(g, first), state="approved")] == [other]
    outcomes = [
        (e["action"], e["outcome"])
        for e in audit_lines(g.hub, "release.")
        if e["action"] in ("release.download", "release.withdraw")
    ]
    assert outcomes == [
        ("release.download", "denied"),
        ("release.withdraw", "denied"),
        ("release.withdraw", "ok"),
        ("release.download", "denied"),
        ("release.withdraw", "denied"),
    ]

    # outputs of a suspended or closed project are not released, nor requested
    projects = g.hub.projects
    projects.suspend(as_(g, g.world.steward2), g.project_id, "Audit of the project's outputs.")
    with pytest.raises(PermissionDenied, match="suspended"):
        airlock.release(as_(g, first), other)
    with pytest.raises(PermissionDenied, match="suspended"):
        airlock.request(researcher(g), g.project_id, spec(table))
    projects.close(as_(g, g.lead), g.project_id, "The study is over.")
    with pytest.raises(PermissionDenied, match="no permit in force"):
        airlock.release(as_(g, first), other)
    with pytest.raises(PermissionDenied, match="closed"):
        airlock.request(researcher(g), g.project_id, spec(table))
