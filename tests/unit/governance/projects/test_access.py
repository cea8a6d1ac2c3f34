"""Enforcement: expiry cuts access at once, suspension too; only named persons get in;
amendments keep the permit in force until the new version is activated."""

from __future__ import annotations

import datetime as dt

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import PermissionDenied, StateError
from havre.governance.projects import PermitStatus, ProjectService, ProjectStatus

from .conftest import SQLITE_ONLY, TABLES_V2, AuditLines, Cast, FakeCatalog, Flow


def test_expiry_cuts_access_immediately_without_any_job(
    projects: ProjectService, cast: Cast, flow: Flow, clock: FixedClock, audit_lines: AuditLines
) -> None:
    pid = flow.active()
    permit = projects.permits.require_access(cast.actor(cast.researcher, pid), pid)
    # a year on, the people who act kept signing in (dormant accounts are suspended)
    cast.people.time_passes(
        clock, (permit.expires_at - clock.now()).days, [cast.researcher, cast.admin]
    )
    clock.set(permit.expires_at - dt.timedelta(seconds=1))
    researcher = cast.actor(cast.researcher, pid)
    assert projects.permits.require_access(researcher, pid).version == 1
    clock.set(permit.expires_at)
    with pytest.raises(PermissionDenied, match="expired on 2029-03-01"):
        projects.permits.require_access(researcher, pid)
    # an explicit time is honoured too (a caller checking at its own clock)
    with pytest.raises(PermissionDenied, match="expired"):
        projects.permits.require_access(researcher, pid, permit.expires_at)
    current = projects.permits.current(pid)
    assert current is not None and current.status is PermitStatus.EXPIRED
    view = projects.show(cast.actor(cast.admin), pid)
    assert view.status is ProjectStatus.EXPIRED
    assert view.allowed_next == ("amend", "close")
    assert not audit_lines("permit.expire")  # nothing marked it: the clock did

    # the sweep only records what the clock already decided
    assert projects.expire_due(Actor.operator("nightly")) == [pid]
    assert projects.expire_due(Actor.operator("nightly")) == []
    entry = audit_lines("permit.expire")[-1]
    assert (entry["outcome"], entry["project"]) == ("ok", pid)
    assert projects.permits.get(pid).status is PermitStatus.EXPIRED
    with pytest.raises(PermissionDenied):
        projects.expire_due(cast.actor(cast.researcher))


def test_only_named_persons_for_their_project(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    pid = flow.active()
    other = flow.active()
    with pytest.raises(PermissionDenied, match="not a named person"):
        projects.permits.require_access(cast.actor(cast.outsider, pid), pid)
    with pytest.raises(PermissionDenied, match="acts for project"):
        projects.permits.require_access(cast.actor(cast.researcher, other), pid)
    with pytest.raises(PermissionDenied, match="local operator"):
        projects.permits.require_access(Actor.operator("look"), pid)
    assert projects.permits.require_access(cast.actor(cast.lead), pid).project_id == pid


def test_suspension_stops_access_until_reinstated(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.active()
    researcher = cast.actor(cast.researcher, pid)
    with pytest.raises(PermissionDenied, match="data_steward"):
        projects.suspend(cast.actor(cast.lead, pid), pid, "Self-suspension.")
    projects.suspend(cast.actor(cast.steward), pid, "Suspected breach of the terms of use.")
    with pytest.raises(PermissionDenied, match="suspended"):
        projects.permits.require_access(researcher, pid)
    entry = audit_lines("permit.suspend")[-1]
    assert entry["outcome"] == "ok"
    assert entry["justification"] == "Suspected breach of the terms of use."
    with pytest.raises(StateError, match="Allowed next steps: reinstate"):
        projects.suspend(cast.actor(cast.steward), pid, "Again.")
    projects.reinstate(cast.actor(cast.admin), pid, "Inquiry closed, no breach.")
    assert projects.permits.require_access(researcher, pid).status is PermitStatus.ACTIVE


def test_an_amendment_goes_through_review_while_the_permit_stays_in_force(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.active()
    lead = cast.actor(cast.lead, pid)
    number = projects.amend(lead, pid)
    assert number == 2
    with pytest.raises(StateError, match="amendment is already under way"):
        projects.amend(lead, pid)
    doc = projects.show(lead, pid).current.document.model_dump(mode="json")
    doc["team"].append({"user": cast.outsider.user_id, "role": "researcher"})
    doc["data"]["tables"]["death"] = ["person_id", "death_date"]
    doc["data"]["potential_identifiers"].append(
        {"kind": "death_date", "justification": "Mortality after the start of dialysis."}
    )
    doc["duration_months"] = 36
    projects.update(lead, pid, doc)
    flow.to(pid, "permit_issued", start="draft")
    view = projects.show(lead, pid)
    assert view.status is ProjectStatus.ACTIVE and view.open_review is not None
    # version 1 is still the one in force; the newcomer has no access yet
    assert projects.permits.require_access(cast.actor(cast.researcher, pid), pid).version == 1
    with pytest.raises(PermissionDenied, match="not a named person"):
        projects.permits.require_access(cast.actor(cast.outsider, pid), pid)
    projects.activate(cast.actor(cast.steward2), pid)
    permit = projects.permits.require_access(cast.actor(cast.outsider, pid), pid)
    assert (permit.version, permit.revision) == (2, 2)
    assert permit.table_map()["death"] == ("death_date", "person_id")
    assert permit.expires_at.date().isoformat() == "2030-03-01"  # from the first permit
    history = projects.permits.history(pid)
    assert [p.status for p in history] == [PermitStatus.SUPERSEDED, PermitStatus.ACTIVE]
    assert [r.status.value for r in projects.show(lead, pid).revisions] == [
        "superseded",
        "in_force",
    ]
    assert [e["outcome"] for e in audit_lines("permit.amend")] == ["ok", "denied"]


@SQLITE_ONLY
def test_refresh_moves_to_the_newest_data_version(
    projects: ProjectService, cast: Cast, flow: Flow, catalog: FakeCatalog
) -> None:
    pid = flow.active()
    with pytest.raises(StateError, match="already uses the latest version"):
        projects.refresh(cast.actor(cast.steward), pid)
    made = catalog.publish("snds", TABLES_V2)
    fresh = projects.refresh(cast.actor(cast.steward), pid)
    assert (fresh.version, fresh.data_version, fresh.data_version_id) == (2, 3, made.id)
    assert fresh.status is PermitStatus.ACTIVE
    assert projects.permits.require_access(cast.actor(cast.lead, pid), pid).data_version == 3
    # a newer version without a granted table cannot be moved to
    catalog.publish("snds", {"person": TABLES_V2["person"]})
    with pytest.raises(StateError, match="lacks condition_occurrence"):
        projects.refresh(cast.actor(cast.steward), pid)


@SQLITE_ONLY
def test_a_pinned_permit_keeps_its_version(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    pid = flow.create()
    doc = projects.show(cast.actor(cast.lead), pid).current.document.model_dump(mode="json")
    doc["data"]["version_policy"] = "pinned"
    doc["data"]["version"] = 1
    projects.update(cast.actor(cast.lead, pid), pid, doc)
    flow.to(pid, "active")
    permit = projects.permits.get(pid)
    assert (permit.data_version, permit.data_version_id) == (1, "dv_snds_1")
    with pytest.raises(StateError, match="pinned"):
        projects.refresh(cast.actor(cast.steward), pid)


@SQLITE_ONLY
def test_withdrawal_is_final(projects: ProjectService, cast: Cast, flow: Flow) -> None:
    pid = flow.to(flow.create(), "in_review")
    projects.withdraw(cast.actor(cast.lead, pid), pid, "The team moved on.")
    assert projects.show(cast.actor(cast.lead), pid).status is ProjectStatus.WITHDRAWN
    with pytest.raises(StateError, match="withdrawn application is final"):
        projects.give_opinion(cast.actor(cast.reviewer), pid, "favourable", "Late.")


def test_team_roles_end_with_the_team_and_with_the_project(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.active()
    identity = projects.identity
    assert identity.roles_of(cast.researcher.user_id, pid)
    lead = cast.actor(cast.lead, pid)
    projects.amend(lead, pid)
    doc = projects.show(lead, pid).current.document.model_dump(mode="json")
    doc["team"] = [{"user": cast.outsider.user_id, "role": "researcher"}]
    projects.update(lead, pid, doc)
    flow.to(pid, "permit_issued", start="draft")
    # the amendment is not in force yet: the researcher keeps the role
    assert identity.roles_of(cast.researcher.user_id, pid)
    projects.activate(cast.actor(cast.steward2), pid)
    assert not identity.roles_of(cast.researcher.user_id, pid)
    assert identity.project_team(pid) == {cast.lead.user_id, cast.outsider.user_id}
    ended = audit_lines("role.revoke")
    assert [e["details"]["user_id"] for e in ended] == [cast.researcher.user_id]
    assert audit_lines("permit.activate")[-1]["details"]["team_roles_ended"] == 1

    projects.close(cast.actor(cast.admin), pid, "Funding ended.")
    assert identity.project_team(pid) == frozenset()
    assert audit_lines("project.close")[-1]["details"]["roles_ended"] == 2
    # the lead still answers for the results
    projects.record_results(lead, pid, summary="No effect found.")
