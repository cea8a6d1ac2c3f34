import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import AuthenticationError, PermissionDenied, StateError, UsageError
from havre.governance.identity import Role
from havre.governance.identity.authentication import SIGN_IN_REFUSED
from havre.governance.identity.testing import People
from havre.governance.identity.totp import code_at
from havre.hub import Hub

AuditLines = Callable[..., list[dict[str, Any]]]


def refused(hub: Hub, email: str, password: str, code: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        hub.identity.authenticate(email, password, code)
    assert caught.value.message == SIGN_IN_REFUSED
    return caught.value


def test_first_sign_in_confirms_enrolment_and_opens_a_session(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    admin = people.actor(people.admin())
    new = ihub.identity.add_user(
        admin,
        email="camille.petit@ap-hm.fr",
        name="Camille Petit",
        organisation="AP-HM",
        password="brume sur la falaise",
        roles=[(Role.RESEARCHER, "prj_a")],
        training_attested_on=dt.date(2027, 1, 4),
        terms_version="2027-01",
    )
    from havre.governance.identity.totp import secret_of_uri as totp_secret

    secret = totp_secret(new.totp_uri)
    result = ihub.identity.authenticate(
        "Camille.Petit@AP-HM.fr", "brume sur la falaise", code_at(secret, clock.now())
    )
    assert result.enrolment_confirmed
    assert result.token.startswith("hvs_") and len(result.token) >= 4 + 43
    assert result.session.idle_expires_at == clock.now() + dt.timedelta(minutes=15)
    assert result.session.absolute_expires_at == clock.now() + dt.timedelta(hours=8)
    actor = ihub.identity.actor_from_token(result.token, project_id="prj_a")
    assert actor.user_id == new.user.id and actor.roles == {"researcher"}
    assert actor.session_id == result.session_id
    assert ihub.identity.actor_from_token(result.token).roles == frozenset()
    login = audit_lines("user.login")[-1]
    assert login["outcome"] == "ok" and login["actor"] == new.user.id
    assert login["details"]["enrolment_confirmed"] is True


def test_wrong_password_wrong_code_replay_and_unknown_account_look_alike(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    clock.advance(seconds=60)
    good = code_at(person.secret, clock.now())
    refused(ihub, person.email, "not the password at all", good)
    clock.advance(seconds=5)
    refused(ihub, person.email, person.password, "000000" if good != "000000" else "111111")
    clock.advance(seconds=5)
    ihub.identity.authenticate(person.email, person.password, good)
    # the same code again, inside its 30-second step: a replay
    refused(ihub, person.email, person.password, good)
    refused(ihub, "nobody@ap-hm.fr", person.password, good)
    denied = [e for e in audit_lines("user.login") if e["outcome"] == "denied"]
    assert [e["reason"] for e in denied] == [
        "wrong_password",
        "wrong_totp",
        "replayed_totp",
        "unknown_account",
    ]
    assert denied[-1]["actor"] is None and denied[-1]["actor_name"] == "unauthenticated"
    assert "nobody" not in str(denied[-1]["details"])
    assert len(str(denied[-1]["details"]["email_fingerprint"])) == 20


def test_growing_delay_then_lockout_then_unlock(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    clock.advance(seconds=60)
    delays = []
    for attempt in range(1, 6):
        refused(ihub, person.email, f"wrong guess number {attempt}", "123456")
        view = ihub.identity.show_user(Actor.operator(), person.user_id)
        assert view.failed_attempts == attempt
        if attempt < 5:
            # too early: refused without being checked or counted
            refused(ihub, person.email, person.password, code_at(person.secret, clock.now()))
            assert ihub.identity.show_user(Actor.operator(), person.user_id).failed_attempts == (
                attempt
            )
            delay = 2 ** (attempt - 1)
            delays.append(delay)
            clock.advance(seconds=delay)
    assert delays == [1, 2, 4, 8]
    assert ihub.identity.show_user(Actor.operator(), person.user_id).locked
    # locked: even the right password and code are refused, and the session stops working
    clock.advance(seconds=40)
    refused(ihub, person.email, person.password, code_at(person.secret, clock.now()))
    with pytest.raises(AuthenticationError, match="locked"):
        ihub.identity.actor_from_token(person.token)
    reasons = [e["reason"] for e in audit_lines("user.login") if e["outcome"] == "denied"]
    assert reasons.count("too_soon_after_failure") == 4
    assert reasons[-1] == "account_locked"
    assert len(audit_lines("user.lock")) == 1
    # only an administrator or the operator unlocks; nobody unlocks themselves
    with pytest.raises(PermissionDenied):
        ihub.identity.unlock_user(people.actor(people.person()), person.user_id)
    ihub.identity.unlock_user(people.actor(people.admin()), person.user_id)
    with pytest.raises(StateError, match="not locked"):
        ihub.identity.unlock_user(Actor.operator(), person.user_id)
    clock.advance(seconds=30)
    people.sign_in(person)
    unlocks = [(e["outcome"], e["details"]) for e in audit_lines("user.unlock")]
    assert unlocks[1] == ("ok", {"failed_attempts": 5})
    assert [o for o, _ in unlocks] == ["denied", "ok", "denied"]


def test_recovery_codes_are_single_use(
    ihub: Hub, people: People, clock: FixedClock, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    with pytest.raises(PermissionDenied, match="operator"):
        ihub.identity.new_recovery_codes(Actor.operator())
    codes = ihub.identity.new_recovery_codes(people.actor(person))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    result = ihub.identity.authenticate(
        person.email, person.password, recovery_code=codes[0].upper()
    )
    assert result.second_factor == "recovery_code" and result.recovery_codes_left == 9
    with pytest.raises(AuthenticationError):
        ihub.identity.authenticate(person.email, person.password, recovery_code=codes[0])
    with pytest.raises(UsageError):
        ihub.identity.authenticate(person.email, person.password)
    # new codes replace the old ones
    fresh = ihub.identity.new_recovery_codes(people.actor(person))
    clock.advance(seconds=20)
    with pytest.raises(AuthenticationError):
        ihub.identity.authenticate(person.email, person.password, recovery_code=codes[1])
    clock.advance(seconds=20)
    ihub.identity.authenticate(person.email, person.password, recovery_code=fresh[5])
    reasons = [e["reason"] for e in audit_lines("user.login") if e["outcome"] == "denied"]
    assert reasons == ["wrong_recovery_code", "wrong_recovery_code"]


def test_unconfirmed_second_factor_cannot_act(ihub: Hub, people: People) -> None:
    admin = people.actor(people.admin())
    new = ihub.identity.add_user(
        admin,
        email="noe.garnier@ap-hm.fr",
        name="Noe Garnier",
        organisation="AP-HM",
        password="brume sur la falaise",
        terms_version="2027-01",
    )
    # a session opened without the TOTP being confirmed (say by a faulty face) gives nothing
    session = ihub.identity.create_session(new.user.id, second_factor="totp")
    with pytest.raises(AuthenticationError, match="second factor"):
        ihub.identity.actor_from_token(session.token)
    # a recovery code cannot stand in for an enrolment never confirmed
    with pytest.raises(AuthenticationError):
        ihub.identity.authenticate(
            new.user.email, "brume sur la falaise", recovery_code="aaaa-bbbb-cccc-dddd"
        )
    # an identity provider's second factor counts (OpenID Connect amr)
    via_idp = ihub.identity.create_session(new.user.id, second_factor="idp")
    assert ihub.identity.actor_from_token(via_idp.token).user_id == new.user.id
