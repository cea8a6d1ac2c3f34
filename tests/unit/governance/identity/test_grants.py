from collections.abc import Callable
from typing import Any

import pytest

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, StateError
from havre.governance.identity import Role, require_not_member
from havre.governance.identity.testing import People
from havre.hub import Hub

AuditLines = Callable[..., list[dict[str, Any]]]


def test_four_eyes_for_admin_and_data_steward(
    ihub: Hub, people: People, audit_lines: AuditLines
) -> None:
    first, second = people.admin(), people.second_admin()
    person = people.person()
    requested = ihub.identity.grant_role(people.actor(first), person.user_id, Role.DATA_STEWARD)
    assert requested.state == "pending" and requested.basis == "four_eyes"
    assert Role.DATA_STEWARD not in ihub.identity.roles_of(person.user_id)
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*request and approve"):
        ihub.identity.approve_grant(people.actor(first), requested.id)
    with pytest.raises(PermissionDenied, match="operator"):
        ihub.identity.approve_grant(Actor.operator(), requested.id)
    with pytest.raises(PermissionDenied, match="administrator"):
        ihub.identity.approve_grant(people.actor(person), requested.id)
    pending = ihub.identity.pending_grants(people.actor(second))
    assert [g.id for g in pending] == [requested.id]
    approved = ihub.identity.approve_grant(people.actor(second), requested.id)
    assert approved.state == "active" and approved.approved_by == second.user_id
    assert Role.DATA_STEWARD in ihub.identity.roles_of(person.user_id)
    with pytest.raises(StateError, match="not pending"):
        ihub.identity.approve_grant(people.actor(second), requested.id)
    actions = [e["action"] for e in audit_lines() if e["action"].startswith("role.")]
    assert actions.count("role.request") >= 1 and "role.approve" in actions


def test_nobody_approves_their_own_promotion(ihub: Hub, people: People) -> None:
    first = people.admin()
    second = people.second_admin()
    third = people.person([(Role.ADMIN, None)])  # requested by first, approved by second
    assert Role.ADMIN in ihub.identity.roles_of(third.user_id)
    steward = ihub.identity.grant_role(people.actor(second), first.user_id, Role.DATA_STEWARD)
    with pytest.raises(PermissionDenied, match="approve a role for themselves"):
        ihub.identity.approve_grant(people.actor(first), steward.id)
    ihub.identity.approve_grant(people.actor(third), steward.id)
    with pytest.raises(PermissionDenied, match="grant a role to themselves"):
        ihub.identity.grant_role(people.actor(first), first.user_id, Role.CHECKER)
    rejected = ihub.identity.grant_role(people.actor(first), second.user_id, Role.DATA_STEWARD)
    assert ihub.identity.reject_grant(people.actor(third), rejected.id, "not needed").state == (
        "rejected"
    )


def test_role_combinations_are_refused_at_grant_time(ihub: Hub, people: People) -> None:
    admin = people.actor(people.admin())
    auditor = people.person([(Role.AUDITOR, None)])
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*'admin' and 'auditor'"):
        ihub.identity.grant_role(admin, auditor.user_id, Role.ADMIN)
    researcher = people.person([(Role.RESEARCHER, "prj_a")])
    with pytest.raises(PermissionDenied, match="team"):
        ihub.identity.grant_role(admin, researcher.user_id, Role.REVIEWER, "prj_a")
    ihub.identity.grant_role(admin, researcher.user_id, Role.REVIEWER, "prj_b")
    with pytest.raises(StateError, match="already has the role"):
        ihub.identity.grant_role(admin, researcher.user_id, Role.RESEARCHER, "prj_a")
    # a pending admin request counts too: approving it later would break the rule
    pending_admin = people.person()
    ihub.identity.grant_role(admin, pending_admin.user_id, Role.ADMIN)
    with pytest.raises(PermissionDenied, match="Separation of duties"):
        ihub.identity.grant_role(admin, pending_admin.user_id, Role.AUDITOR)


def test_project_lead_adds_researchers_to_their_own_project_only(ihub: Hub, people: People) -> None:
    lead = people.person([(Role.PROJECT_LEAD, "prj_a")])
    newcomer = people.person()
    on_a = people.actor(lead, "prj_a")
    grant = ihub.identity.grant_role(on_a, newcomer.user_id, Role.RESEARCHER, "prj_a")
    assert grant.state == "active"
    assert ihub.identity.project_team("prj_a") == {lead.user_id, newcomer.user_id}
    with pytest.raises(PermissionDenied, match="own project"):
        ihub.identity.grant_role(on_a, newcomer.user_id, Role.RESEARCHER, "prj_b")
    with pytest.raises(PermissionDenied, match="administrator"):
        ihub.identity.grant_role(on_a, newcomer.user_id, Role.CHECKER, "prj_a")
    ihub.identity.revoke_grant(on_a, grant.id, "left the project")
    assert ihub.identity.project_team("prj_a") == {lead.user_id}
    # the team list is what other services give require_not_member
    reviewer = people.person([(Role.REVIEWER, None)])
    require_not_member(people.actor(reviewer), ihub.identity.project_team("prj_a"), "review")
    with pytest.raises(PermissionDenied, match="team cannot review"):
        require_not_member(people.actor(lead), ihub.identity.project_team("prj_a"), "review")


def test_grant_within_another_services_transaction(
    ihub: Hub, people: People, audit_lines: AuditLines
) -> None:
    from havre.audit import HubAction, Target, audited

    lead = people.person()
    admin = people.actor(people.admin())
    with audited(ihub.db, ihub.audit, admin, HubAction.SETTINGS_CHANGE, Target("project")) as s:
        view = ihub.identity.grant_within(
            s.session, admin, lead.user_id, Role.PROJECT_LEAD, "prj_new", reason="project accepted"
        )
    assert view.basis == "delegated"
    assert ihub.identity.users_with_role(Role.PROJECT_LEAD, "prj_new") == [lead.user_id]
    entry = audit_lines("role.grant")[-1]
    assert entry["reason"] == "project accepted" and entry["project"] == "prj_new"
    with pytest.raises(PermissionDenied, match="two administrators"):
        with audited(ihub.db, ihub.audit, admin, HubAction.SETTINGS_CHANGE, Target("x")) as s:
            ihub.identity.grant_within(s.session, admin, lead.user_id, Role.ADMIN, None, reason="x")
