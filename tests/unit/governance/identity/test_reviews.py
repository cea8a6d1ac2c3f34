import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import AuthenticationError, PermissionDenied, StateError, UsageError
from havre.governance.identity import Role
from havre.governance.identity.testing import People
from havre.hub import Hub

AuditLines = Callable[..., list[dict[str, Any]]]


def test_access_review_by_person_and_by_project(ihub: Hub, people: People) -> None:
    admin = people.admin()
    lead = people.person([(Role.PROJECT_LEAD, "prj_a"), (Role.RESEARCHER, "prj_b")])
    researcher = people.person([(Role.RESEARCHER, "prj_a")])
    checker = people.person([(Role.CHECKER, None)])
    people.person([(Role.RESEARCHER, "prj_c")])
    token = ihub.identity.create_token(people.actor(researcher), name="job", project_id="prj_a")

    mine = ihub.identity.access_review(people.actor(lead), user_ref=lead.user_id)
    assert {(r.grant.role.value, r.grant.project_id) for r in mine.rights} == {
        ("project_lead", "prj_a"),
        ("researcher", "prj_b"),
    }
    assert mine.active_sessions == 1

    on_a = ihub.identity.access_review(people.actor(lead, "prj_a"), project_id="prj_a")
    rows = {(r.user_id, r.grant.role.value, r.grant.scope) for r in on_a.rights}
    assert (lead.user_id, "project_lead", "project") in rows
    assert (researcher.user_id, "researcher", "project") in rows
    assert (checker.user_id, "checker", "global") in rows
    assert (admin.user_id, "admin", "global") in rows
    assert all(r.grant.project_id in (None, "prj_a") for r in on_a.rights)
    assert [t.id for t in on_a.tokens] == [token.info.id]
    data = on_a.to_dict()
    assert data["filter"] == {"user": None, "project": "prj_a"}
    assert {"user_id", "email", "role", "project_id", "scope", "state", "mfa_confirmed"} <= set(
        data["rights"][0]
    )

    everything = ihub.identity.access_review(Actor.operator())
    assert everything.to_dict()["users"] == 5

    with pytest.raises(PermissionDenied):
        ihub.identity.access_review(people.actor(researcher), project_id="prj_a")
    with pytest.raises(PermissionDenied):
        ihub.identity.access_review(people.actor(researcher), user_ref=lead.user_id)
    with pytest.raises(PermissionDenied):
        ihub.identity.access_review(people.actor(lead, "prj_a"), project_id="prj_c")


def test_inactive_accounts_are_suspended(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    admin = people.admin()
    active = people.person([(Role.RESEARCHER, "prj_a")])
    idle = people.person([(Role.RESEARCHER, "prj_a")])
    clock.advance(days=60)
    people.sign_in(active)
    people.sign_in(admin)
    assert ihub.identity.suspend_inactive(Actor.operator()) == []
    clock.advance(days=31)  # idle: 91 days; active: 31 days
    suspended = ihub.identity.suspend_inactive(Actor.operator())
    assert idle.user_id in suspended and active.user_id not in suspended
    with pytest.raises(AuthenticationError, match=r"suspended|revoked"):
        ihub.identity.actor_from_token(idle.token)
    assert ihub.identity.show_user(Actor.operator(), idle.user_id).suspended_reason == (
        "no sign-in for 90 days"
    )
    with pytest.raises(PermissionDenied):
        ihub.identity.suspend_inactive(people.actor(active))
    with pytest.raises(UsageError):
        ihub.identity.suspend_inactive(Actor.operator(), 0)
    # reinstated accounts get a fresh 90 days
    ihub.identity.reinstate_user(people.actor(admin), idle.user_id)
    assert idle.user_id not in ihub.identity.suspend_inactive(Actor.operator())
    summary = [e for e in audit_lines("access.suspend_inactive") if e["outcome"] == "ok"]
    assert [e["details"]["suspended"] for e in summary] == [0, len(suspended), 0]
    assert {e["target"] for e in audit_lines("user.suspend")} >= {idle.user_id}


def test_a_dormant_account_is_suspended_when_it_next_signs_in(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    """Nothing has to run the inactivity job: the rule holds at the door as well."""
    admin = people.admin()
    idle = people.person([(Role.RESEARCHER, "prj_a")])
    people.time_passes(clock, 120, [admin])
    with pytest.raises(AuthenticationError):
        people.sign_in(idle)
    view = ihub.identity.show_user(Actor.operator(), idle.user_id)
    assert view.status == "suspended" and view.suspended_reason == "no sign-in for 90 days"
    refused = [e for e in audit_lines("user.login") if e["outcome"] == "denied"]
    assert refused[-1]["reason"] == "account_inactive"
    suspension = audit_lines("user.suspend")[-1]
    assert suspension["target"] == idle.user_id and suspension["details"]["found_at"] == "sign-in"
    # the admin kept signing in and is untouched; reinstating gives a fresh 90 days
    ihub.identity.reinstate_user(people.actor(admin), idle.user_id)
    people.sign_in(idle)


def test_review_campaign_lead_attests_and_removal_revokes(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    admin = people.admin()
    auditor = people.person([(Role.AUDITOR, None)])
    lead = people.person([(Role.PROJECT_LEAD, "prj_a")])
    keeper = people.person([(Role.RESEARCHER, "prj_a")])
    leaver = people.person([(Role.RESEARCHER, "prj_a")])
    with pytest.raises(PermissionDenied):
        ihub.identity.open_campaign(Actor.operator(), "prj_a", dt.date(2027, 4, 1))
    with pytest.raises(UsageError, match="future"):
        ihub.identity.open_campaign(people.actor(auditor), "prj_a", dt.date(2027, 2, 1))
    with pytest.raises(StateError, match="no project lead"):
        ihub.identity.open_campaign(people.actor(auditor), "prj_zzz", dt.date(2027, 4, 1))
    campaign = ihub.identity.open_campaign(people.actor(auditor), "prj_a", dt.date(2027, 4, 1))
    assert campaign.state == "open" and campaign.pending == 3
    with pytest.raises(StateError, match="already has an open campaign"):
        ihub.identity.open_campaign(people.actor(auditor), "prj_a", dt.date(2027, 4, 2))
    items = {i.user_id: i.id for i in campaign.items}

    as_lead = people.actor(lead, "prj_a")
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*own access"):
        ihub.identity.attest_campaign(as_lead, campaign.id, keep=[items[lead.user_id]])
    with pytest.raises(PermissionDenied, match="lead of project prj_a"):
        ihub.identity.attest_campaign(people.actor(keeper, "prj_a"), campaign.id, keep=["x"])
    with pytest.raises(PermissionDenied, match="lead"):
        ihub.identity.attest_campaign(
            people.actor(admin), campaign.id, keep=[items[keeper.user_id]]
        )
    after = ihub.identity.attest_campaign(
        as_lead, campaign.id, keep=[items[keeper.user_id]], remove=[items[leaver.user_id]]
    )
    assert after.state == "open" and after.pending == 1
    assert Role.RESEARCHER not in ihub.identity.roles_of(leaver.user_id, "prj_a")
    assert ihub.identity.project_team("prj_a") == {lead.user_id, keeper.user_id}
    with pytest.raises(StateError, match="already decided"):
        ihub.identity.attest_campaign(as_lead, campaign.id, keep=[items[keeper.user_id]])
    clock.advance(days=40)
    assert ihub.identity.show_campaign(people.actor(auditor), campaign.id).overdue
    closed = ihub.identity.attest_campaign(
        people.actor(admin), campaign.id, keep=[items[lead.user_id]]
    )
    assert closed.state == "closed" and closed.closed_at == clock.now() and not closed.overdue
    with pytest.raises(StateError, match="closed"):
        ihub.identity.attest_campaign(as_lead, campaign.id, keep=[items[keeper.user_id]])
    listed = ihub.identity.list_campaigns(people.actor(lead, "prj_a"), "prj_a")
    assert [c.id for c in listed] == [campaign.id]
    revoked = audit_lines("role.revoke")[-1]
    assert revoked["reason"] == f"access review {campaign.id}"
    attests = [e for e in audit_lines("access.campaign_attest") if e["outcome"] == "ok"]
    assert [e["details"]["state"] for e in attests] == ["open", "closed"]
