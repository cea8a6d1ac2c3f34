"""A project from draft to closed through every step, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from havre.core.clock import FixedClock
from havre.core.errors import KeyStoreError, PermissionDenied
from havre.governance.identity import Role
from havre.governance.projects import (
    DatePolicy,
    IdentifierKind,
    PermitStatus,
    ProjectService,
    ProjectStatus,
    workspace_key_name,
)
from havre.hub import Hub
from havre.keys import KeyPurpose

from .conftest import DECIDED_ON, SQLITE_ONLY, AuditLines, Cast, Flow, application


def status_of(projects: ProjectService, cast: Cast, project_id: str) -> str:
    return projects.show(cast.actor(cast.admin), project_id).status.value


def register_row(projects: ProjectService, project_id: str) -> dict[str, object]:
    rows = [e.to_dict() for e in projects.register_entries() if e.project_id == project_id]
    assert len(rows) == 1
    return rows[0]


def test_draft_to_closed_through_every_step(
    phub: Hub, projects: ProjectService, cast: Cast, audit_lines: AuditLines, clock: FixedClock
) -> None:
    lead = cast.actor(cast.lead)
    draft = application([cast.researcher.user_id], title=None)
    pid = projects.create(lead, draft)
    assert status_of(projects, cast, pid) == "draft"
    assert all(e.project_id != pid for e in projects.register_entries())  # not before submission
    projects.update(cast.actor(cast.lead, pid), pid, application([cast.researcher.user_id]))

    projects.submit(cast.actor(cast.lead, pid), pid)
    assert status_of(projects, cast, pid) == "submitted"
    # the team got its roles on the project through the identity service
    assert phub.identity.roles_of(cast.lead.user_id, pid) >= {Role.PROJECT_LEAD}
    assert Role.RESEARCHER in phub.identity.roles_of(cast.researcher.user_id, pid)
    assert phub.identity.project_team(pid) == {cast.lead.user_id, cast.researcher.user_id}
    entry = register_row(projects, pid)
    assert entry["status"] == "submitted"
    assert entry["controller"] == "Université de Rouen Normandie"
    assert entry["lead_organisation"] == "CHU de Rouen"
    assert entry["tables"] == ["condition_occurrence", "person"]
    assert entry["legal_route"] == "cnil_authorisation"
    assert entry["declaration_of_interests"] == "None declared."

    projects.check_completeness(cast.actor(cast.steward), pid, True, "All there.")
    assert status_of(projects, cast, pid) == "in_review"
    projects.give_opinion(cast.actor(cast.reviewer), pid, "favourable", "Minimal and sound.")
    assert status_of(projects, cast, pid) == "awaiting_authorisation"
    projects.decide(
        cast.actor(cast.steward2),
        pid,
        "authorised",
        reference="DR-2027-042",
        decided_on=DECIDED_ON,
    )
    assert status_of(projects, cast, pid) == "authorised"
    entry = register_row(projects, pid)
    assert (entry["opinion"], entry["decision"]) == ("favourable", "authorised")
    assert entry["decision_reference"] == "DR-2027-042"
    assert entry["decided_on"] == DECIDED_ON.isoformat()

    permit = projects.issue(cast.actor(cast.steward), pid)
    assert status_of(projects, cast, pid) == "permit_issued"
    assert permit.status is PermitStatus.ISSUED
    assert permit.named_persons == tuple(sorted([cast.lead.user_id, cast.researcher.user_id]))
    assert (permit.dataset, permit.data_version, permit.data_version_id) == ("snds", 2, "dv_snds_2")
    assert permit.table_map()["person"] == (
        "gender_concept_id",
        "month_of_birth",
        "person_id",
        "year_of_birth",
    )
    assert permit.potential_identifiers_granted == (IdentifierKind.BIRTH_MONTH,)
    assert permit.date_policy is DatePolicy.SHIFTED
    assert permit.expires_at.date().isoformat() == "2029-03-01"
    assert permit.row_filter.population.conditions == ("E11",)
    with pytest.raises(PermissionDenied, match="no permit in force"):
        projects.permits.require_access(cast.actor(cast.researcher, pid), pid)

    active = projects.activate(cast.actor(cast.steward2), pid)
    assert active.status is PermitStatus.ACTIVE and active.sha256 == permit.sha256
    assert status_of(projects, cast, pid) == "active"
    granted = projects.permits.require_access(cast.actor(cast.researcher, pid), pid)
    assert granted.version == 1
    assert register_row(projects, pid)["status"] == "active"

    # the workspace part creates the project's key; closure must shred it
    key = workspace_key_name(pid)
    phub.keys.create(key, KeyPurpose.WORKSPACE)
    cast.people.time_passes(clock, 200, [cast.admin, cast.lead, cast.researcher])
    outcome = projects.close(cast.actor(cast.lead, pid), pid, "Analyses finished.")
    assert outcome == "destroyed"
    phub.keys.forget_cache()
    with pytest.raises(KeyStoreError, match="destroyed"):
        phub.keys.data_key(key)
    assert status_of(projects, cast, pid) == "closed"
    with pytest.raises(PermissionDenied, match="closed"):
        projects.permits.require_access(cast.actor(cast.researcher, pid), pid)
    entry = register_row(projects, pid)
    assert entry["status"] == "closed"
    assert entry["results_due_on"] == "2028-09-17"
    assert entry["results_overdue"] is False

    projects.record_results(
        cast.actor(cast.lead, pid),
        pid,
        summary="Incidence was 12 per 1000 person-years.",
        links=["https://doi.org/10.1000/xyz123"],
    )
    entry = register_row(projects, pid)
    assert entry["results_links"] == ["https://doi.org/10.1000/xyz123"]

    actions = [(e["action"], e["outcome"]) for e in audit_lines() if e["project"] == pid]
    assert [a for a in actions if a[0].startswith(("project.", "permit."))] == [
        ("project.create", "ok"),
        ("project.update", "ok"),
        ("project.submit", "ok"),
        ("project.completeness", "ok"),
        ("project.opinion", "ok"),
        ("project.decide", "ok"),
        ("permit.issue", "ok"),
        ("permit.activate", "ok"),
        ("project.close", "ok"),
        ("project.results", "ok"),
    ]
    assert ("key.destroy", "ok") in actions
    assert ("role.grant", "ok") in actions
    close = audit_lines("project.close")[-1]
    assert close["details"]["workspace_key"] == "destroyed"
    assert close["justification"] == "Analyses finished."
    issued = audit_lines("permit.issue")[-1]["details"]
    assert issued["sha256"] == permit.sha256 and issued["data_version"] == 2

    view = projects.show(cast.actor(cast.lead, pid), pid)
    assert [s.step for s in view.steps] == [
        "submit",
        "completeness",
        "opinion",
        "decision",
        "issue",
        "activate",
        "close",
    ]
    assert view.allowed_next == ("results",)
    assert json.dumps(view.to_dict(), default=str)


def test_closing_without_a_workspace_records_it(
    projects: ProjectService, cast: Cast, flow: Flow, audit_lines: AuditLines
) -> None:
    pid = flow.active()
    assert projects.close(cast.actor(cast.admin), pid, "Funding ended.") == "never_created"
    assert audit_lines("project.close")[-1]["details"]["workspace_key"] == "never_created"
    assert not audit_lines("key.destroy")


def test_changes_requested_and_incomplete_go_back_to_draft_with_comments(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    pid = flow.to(flow.create(), "submitted")
    projects.check_completeness(cast.actor(cast.steward), pid, False, "Funding letter missing.")
    view = projects.show(cast.actor(cast.lead), pid)
    assert view.status is ProjectStatus.DRAFT
    assert view.steps[-1].comment == "Funding letter missing."
    flow.to(pid, "in_review", start="draft")
    projects.give_opinion(
        cast.actor(cast.reviewer), pid, "changes_requested", "Justify the birth month."
    )
    view = projects.show(cast.actor(cast.lead), pid)
    assert view.status is ProjectStatus.DRAFT
    assert (view.steps[-1].outcome, view.steps[-1].comment) == (
        "changes_requested",
        "Justify the birth month.",
    )
    # the register shows what was submitted, not the draft being reworked
    reworked = application([cast.researcher.user_id], title="Reworked title")
    projects.update(cast.actor(cast.lead, pid), pid, reworked)
    entry = register_row(projects, pid)
    assert (entry["status"], entry["title"]) == ("draft", application()["title"])
    # resubmitting: roles are already held, nothing is granted twice
    flow.to(pid, "active", start="draft")
    assert projects.show(cast.actor(cast.lead), pid).status is ProjectStatus.ACTIVE
    assert register_row(projects, pid)["title"] == "Reworked title"


@SQLITE_ONLY
def test_reference_methodology_and_withheld_identifiers(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    doc = application([cast.researcher.user_id])
    doc["legal_route"] = {"kind": "reference_methodology", "methodology": "MR-004"}
    doc["data"]["date_policy"] = "exact"
    doc["data"]["tables"]["person"].append("location_id")
    doc["data"]["potential_identifiers"] += [
        {"kind": "exact_date", "justification": "Delays between consecutive stays matter."},
        {"kind": "commune", "justification": "Distance to the nearest dialysis centre."},
    ]
    pid = projects.create(cast.actor(cast.lead), doc)
    flow.to(pid, "awaiting_authorisation")
    projects.decide(
        cast.actor(cast.admin),
        pid,
        "authorised",
        reference="MR-004 declaration 2227-123",
        decided_on=DECIDED_ON,
        withhold=["commune", "exact_date"],
    )
    permit = projects.issue(cast.actor(cast.steward), pid)
    assert permit.potential_identifiers_granted == (IdentifierKind.BIRTH_MONTH,)
    # the column stays; without the commune grant the workspace gives only the departement
    assert "location_id" in permit.table_map()["person"]
    assert IdentifierKind.COMMUNE not in permit.potential_identifiers_granted
    assert permit.date_policy is DatePolicy.SHIFTED  # exact dates were withheld
    assert register_row(projects, pid)["legal_basis"] == "MR-004"
