"""Impossible transitions and separation of duties: refused with an error that names the
allowed next steps, and written to the audit log as ``denied``."""

from __future__ import annotations

import pytest

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.governance.identity import Role
from havre.governance.projects import ProjectService

from .conftest import DECIDED_ON, AuditLines, Cast, Flow, application


def last(audit_lines: AuditLines, action: str) -> dict[str, object]:
    entry: dict[str, object] = audit_lines(action)[-1]
    return entry


def test_activating_a_rejected_project(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.to(flow.create(), "awaiting_authorisation")
    projects.decide(
        cast.actor(cast.steward2), pid, "refused", reference="DR-2027-077", decided_on=DECIDED_ON
    )
    with pytest.raises(StateError) as refused:
        projects.activate(cast.actor(cast.steward), pid)
    message = str(refused.value)
    assert f"Project {pid} is rejected: it cannot be activated" in message
    assert "Allowed next steps: none (a rejected application is final" in message
    assert refused.value.context["allowed"] == []
    entry = last(audit_lines, "permit.activate")
    assert (entry["outcome"], entry["project"]) == ("denied", pid)
    assert "rejected" in str(entry["reason"])
    with pytest.raises(StateError, match="rejected"):
        projects.submit(cast.actor(cast.lead, pid), pid)


def test_issuing_without_an_authorisation_names_the_next_step(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.to(flow.create(), "in_review")
    with pytest.raises(StateError) as refused:
        projects.issue(cast.actor(cast.steward), pid)
    assert "in_review: it cannot be issued a permit" in str(refused.value)
    assert "Allowed next steps: review (reviewer), withdraw (project lead)" in str(refused.value)
    assert last(audit_lines, "permit.issue")["outcome"] == "denied"


def test_nobody_approves_their_own_project(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    # the lead is also one of the hub's data stewards
    steward_lead = cast.people.person([(Role.DATA_STEWARD, None)], name="Lou Steward-Lead")
    doc = application([cast.researcher.user_id])
    pid = projects.create(cast.actor(steward_lead), doc)
    projects.submit(cast.actor(steward_lead, pid), pid)
    with pytest.raises(PermissionDenied) as refused:
        projects.check_completeness(cast.actor(steward_lead, pid), pid, True)
    assert "the same person cannot check the completeness of their own project" in str(
        refused.value
    )
    assert "allowed next steps: completeness (data steward)" in str(refused.value)
    flow.to(pid, "awaiting_authorisation", start="submitted")
    with pytest.raises(PermissionDenied, match="cannot decide on their own project"):
        projects.decide(
            cast.actor(steward_lead, pid),
            pid,
            "authorised",
            reference="DR-1",
            decided_on=DECIDED_ON,
        )
    entry = last(audit_lines, "project.decide")
    assert (entry["outcome"], entry["actor"]) == ("denied", steward_lead.user_id)


def test_a_reviewer_on_the_team_is_refused(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    # a hub-wide reviewer who is also a researcher on the project
    pid = flow.to(flow.create(team=[cast.reviewer.user_id]), "in_review")
    with pytest.raises(PermissionDenied) as refused:
        projects.give_opinion(cast.actor(cast.reviewer, pid), pid, "favourable", "Fine by me.")
    assert "a member of the project's team cannot review it" in str(refused.value)
    assert "allowed next steps: review (reviewer)" in str(refused.value)
    assert last(audit_lines, "project.opinion")["outcome"] == "denied"
    # and a reviewer appointed on that project cannot be on its team (identity's rule)
    other = flow.create(team=[cast.outsider.user_id])
    grant = cast.people.identity.grant_role(
        cast.actor(cast.admin), cast.outsider.user_id, Role.REVIEWER, other
    )
    assert grant.state == "active"
    with pytest.raises(UsageError, match="cannot join its team"):
        projects.submit(cast.actor(cast.lead, other), other)


def test_the_opinion_giver_does_not_record_the_authorisation(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    reviewer_steward = cast.people.person(
        [(Role.DATA_STEWARD, None), (Role.REVIEWER, None)], name="Rita Both"
    )
    pid = flow.to(flow.create(), "in_review")
    projects.give_opinion(cast.actor(reviewer_steward), pid, "favourable", "Sound protocol.")
    with pytest.raises(PermissionDenied, match="give the ethics opinion and record"):
        projects.decide(
            cast.actor(reviewer_steward),
            pid,
            "authorised",
            reference="DR-2",
            decided_on=DECIDED_ON,
        )


def test_the_issuer_does_not_activate(projects: ProjectService, cast: Cast, flow: Flow) -> None:
    pid = flow.to(flow.create(), "permit_issued")
    with pytest.raises(PermissionDenied, match="cannot issue and activate a permit"):
        projects.activate(cast.actor(cast.steward), pid)
    projects.activate(cast.actor(cast.admin), pid)


def test_only_the_lead_submits_and_only_stewards_check(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    pid = flow.create()
    with pytest.raises(PermissionDenied, match="Only the lead"):
        projects.submit(cast.actor(cast.outsider, pid), pid)
    with pytest.raises(PermissionDenied, match="local operator"):
        projects.submit(Actor.operator("test"), pid)
    flow.to(pid, "submitted")
    with pytest.raises(PermissionDenied, match="data_steward"):
        projects.check_completeness(cast.actor(cast.reviewer), pid, True)
    with pytest.raises(UsageError, match="comment"):
        projects.check_completeness(cast.actor(cast.steward), pid, False)


def test_a_table_not_in_the_catalog_is_refused_at_submission(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    doc = application([cast.researcher.user_id])
    doc["data"]["tables"]["drug_exposure"] = ["person_id", "drug_concept_id"]
    doc["data"]["tables"]["person"].append("shoe_size")
    doc["data"]["tables"]["person"].append("location_id")
    pid = projects.create(cast.actor(cast.lead), doc)
    with pytest.raises(UsageError) as refused:
        projects.submit(cast.actor(cast.lead, pid), pid)
    problems = refused.value.context["problems"]
    assert any(
        p.startswith("data.tables.drug_exposure: no such table in snds v2") for p in problems
    )
    assert any("no such column(s) shoe_size" in p for p in problems)
    entry = last(audit_lines, "project.submit")
    assert entry["outcome"] == "error" and "drug_exposure" in str(entry["reason"])
    assert projects.show(cast.actor(cast.lead), pid).status.value == "draft"


def test_every_missing_field_is_reported_at_once(projects: ProjectService, cast: Cast) -> None:
    pid = projects.create(cast.actor(cast.lead), {"title": "Half-written"})
    with pytest.raises(UsageError) as refused:
        projects.submit(cast.actor(cast.lead, pid), pid)
    problems = refused.value.context["problems"]
    for field in (
        "public_summary",
        "purpose",
        "public_interest",
        "controller",
        "lead_organisation",
        "declaration_of_interests",
        "funding",
        "legal_route",
        "access_level",
        "duration_months",
        "excluded_purposes",
        "data.dataset",
        "data.tables",
        "data.period",
        "data.date_policy",
    ):
        assert any(p.startswith(field) for p in problems), field
    assert any("marketing_to_health_professionals" in p for p in problems)
    assert any("insurance_pricing_or_exclusion" in p for p in problems)


def test_team_members_need_their_training(projects: ProjectService, cast: Cast, flow: Flow) -> None:
    untrained = cast.people.identity.add_user(
        cast.actor(cast.admin),
        email="nina.untrained@example.org",
        name="Nina Untrained",
        organisation="Test Organisation",
        password="Falaise-maree-brume-4217",
        terms_version="test-terms-1",
    )
    pid = flow.create(team=[cast.researcher.user_id, untrained.user.id, "usr_doesnotexist"])
    with pytest.raises(UsageError) as refused:
        projects.submit(cast.actor(cast.lead, pid), pid)
    problems = refused.value.context["problems"]
    assert any(untrained.user.id in p and "training attestation" in p for p in problems)
    assert any("usr_doesnotexist" in p for p in problems)
    # nothing was granted: the submission is all or nothing
    assert cast.people.identity.project_team(pid) == frozenset()
