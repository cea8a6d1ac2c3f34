import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import AuthenticationError, PermissionDenied, UsageError
from havre.governance.identity import Role
from havre.governance.identity.testing import People
from havre.hub import Hub

AuditLines = Callable[..., list[dict[str, Any]]]


def test_session_idle_and_absolute_expiry(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    # activity slides the idle expiry...
    for _ in range(3):
        clock.advance(minutes=14)
        info = ihub.identity.touch_session(person.token)
        assert info.idle_expires_at == clock.now() + dt.timedelta(minutes=15)
    # ...until 15 idle minutes
    clock.advance(minutes=15)
    with pytest.raises(AuthenticationError, match="15 minutes without activity"):
        ihub.identity.actor_from_token(person.token)
    # the absolute limit holds whatever the activity
    people.sign_in(person)
    signed_in = clock.now()
    for _ in range(40):
        clock.advance(minutes=14, seconds=59)
        try:
            ihub.identity.actor_from_token(person.token)
        except AuthenticationError as error:
            assert "8-hour limit" in error.message
            assert (
                dt.timedelta(hours=8) <= clock.now() - signed_in < dt.timedelta(hours=8, minutes=15)
            )
            break
    else:
        pytest.fail("the session outlived its absolute limit")
    reasons = [e["details"]["reason"] for e in audit_lines("token.use")]
    assert reasons == ["session_idle", "session_expired"]
    assert all(e["outcome"] == "denied" for e in audit_lines("token.use"))


def test_logout_and_revoke_session(ihub: Hub, people: People, clock: FixedClock) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    ihub.identity.logout(person.token)
    with pytest.raises(AuthenticationError, match=r"revoked \(logout\)"):
        ihub.identity.actor_from_token(person.token)
    clock.advance(seconds=30)
    people.sign_in(person)
    session_id = people.actor(person).session_id or ""
    other = people.person([(Role.RESEARCHER, "prj_b")])
    with pytest.raises(PermissionDenied):
        ihub.identity.revoke_session(people.actor(other), session_id)
    ihub.identity.revoke_session(Actor.operator(), session_id, "laptop stolen")
    with pytest.raises(AuthenticationError, match="laptop stolen"):
        ihub.identity.actor_from_token(person.token)


def test_api_tokens_are_scoped_restricted_expiring_and_revocable(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a"), (Role.CHECKER, None)])
    actor = people.actor(person)
    new = ihub.identity.create_token(
        actor, name="extract job", project_id="prj_a", scopes=["researcher"], days=7
    )
    assert new.token.startswith("hvt_") and len(new.token) >= 4 + 43  # 256 bits, base64url
    used = ihub.identity.actor_from_token(new.token)
    assert used.project_id == "prj_a" and used.roles == {"researcher"}
    assert used.token_id == new.info.id and used.session_id is None
    with pytest.raises(PermissionDenied, match="restricted to project prj_a"):
        ihub.identity.actor_from_token(new.token, project_id="prj_b")
    # not from another API token: a leaked token cannot mint more
    with pytest.raises(PermissionDenied, match="signed-in session"):
        ihub.identity.create_token(used, name="child")
    with pytest.raises(PermissionDenied, match="do not hold"):
        ihub.identity.create_token(actor, name="greedy", scopes=["admin"])
    with pytest.raises(UsageError, match="1 to 90 days"):
        ihub.identity.create_token(actor, name="forever", days=400)
    listed = ihub.identity.list_tokens(actor)
    assert [t.id for t in listed] == [new.info.id]
    assert "token" not in listed[0].to_dict()
    # expiry
    clock.advance(days=7)
    with pytest.raises(AuthenticationError, match="expired"):
        ihub.identity.actor_from_token(new.token)
    assert ihub.identity.list_tokens(actor) == []
    # revocation, by the owner or an administrator, not by someone else
    people.sign_in(person)
    actor = people.actor(person)
    second = ihub.identity.create_token(actor, name="nightly", days=30)
    stranger = people.person([(Role.RESEARCHER, "prj_b")])
    with pytest.raises(PermissionDenied):
        ihub.identity.revoke_token(people.actor(stranger), second.info.id)
    with pytest.raises(PermissionDenied):
        ihub.identity.list_tokens(people.actor(stranger), person.user_id)
    ihub.identity.revoke_token(people.actor(people.admin()), second.info.id, "rotation")
    with pytest.raises(AuthenticationError, match="revoked"):
        ihub.identity.actor_from_token(second.token)
    states = {t.id: t.state for t in ihub.identity.list_tokens(actor, include_inactive=True)}
    assert states == {new.info.id: "expired", second.info.id: "revoked"}
    created = audit_lines("token.create")
    assert all(new.token not in str(e) and second.token not in str(e) for e in created)
    assert created[0]["details"] == {"scopes": ["researcher"], "days": 7}


def test_unknown_and_malformed_tokens(ihub: Hub, audit_lines: AuditLines) -> None:
    for token in ("hvt_" + "A" * 43, "hvs_nothing", "Bearer xyz", ""):
        with pytest.raises(AuthenticationError, match="not known"):
            ihub.identity.actor_from_token(token)
    entries = audit_lines("token.use")
    assert len(entries) == 4
    assert {e["outcome"] for e in entries} == {"denied"}
    assert {e["actor_name"] for e in entries} == {"unauthenticated"}
