"""Attacks on sign-in and tokens that must fail, each leaving a ``denied`` audit entry.

The hashing-cost and timing tests run with the real argon2id cost: the timing of an unknown
account must match that of a wrong password. The others sign people in with the cheapest
argon2 parameters, which changes nothing they check.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.core.errors import AuthenticationError
from havre.governance.identity import Role, passwords
from havre.governance.identity.authentication import SIGN_IN_REFUSED
from havre.governance.identity.testing import FAST_TEST_HASHER, People, Person
from havre.governance.identity.totp import code_at
from havre.hub import Hub


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2027, 5, 3, 14, 0, 5, tzinfo=dt.UTC))


@pytest.fixture
def ihub(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock
) -> Iterator[Hub]:
    created, _ = Hub.init(make_settings(database_url=database_url), clock=clock)
    try:
        yield created
    finally:
        created.close()


@pytest.fixture
def real_victim(ihub: Hub) -> tuple[People, Person]:
    """A signed-in researcher whose password was hashed at the real cost."""
    people = People(ihub.identity)
    return people, people.person([(Role.RESEARCHER, "prj_a")])


@pytest.fixture
def victim(monkeypatch: pytest.MonkeyPatch, ihub: Hub) -> tuple[People, Person]:
    monkeypatch.setattr(passwords, "HASHER", FAST_TEST_HASHER)
    people = People(ihub.identity)
    return people, people.person([(Role.RESEARCHER, "prj_a")])


def denials(hub: Hub, action: str) -> list[tuple[str, str | None]]:
    with hub.db.transaction() as session:
        rows = session.execute(
            select(AuditEntryRow.outcome, AuditEntryRow.details, AuditEntryRow.reason)
            .where(AuditEntryRow.action == action)
            .order_by(AuditEntryRow.seq)
        ).all()
    # refused sign-ins name their cause in the entry's reason, refused tokens in the details
    return [(o, json.loads(d).get("reason") or r) for o, d, r in rows if o != "ok"]


def login_refused(hub: Hub, email: str, password: str, code: str) -> float:
    started = time.perf_counter()
    with pytest.raises(AuthenticationError) as caught:
        hub.identity.authenticate(email, password, code)
    elapsed = time.perf_counter() - started
    assert caught.value.message == SIGN_IN_REFUSED
    return elapsed


def test_passwords_are_hashed_with_argon2id_at_full_cost(
    ihub: Hub, real_victim: tuple[People, Person]
) -> None:
    _, person = real_victim
    with ihub.db.transaction() as session:
        from havre.governance.identity.models import UserRow

        stored = session.get(UserRow, person.user_id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert person.password not in stored.password_hash


def test_unknown_account_gets_the_same_message_and_timing_as_a_wrong_password(
    ihub: Hub, real_victim: tuple[People, Person], clock: FixedClock
) -> None:
    _, person = real_victim
    wrong, unknown = [], []
    for attempt in range(3):
        clock.advance(minutes=1)
        wrong.append(login_refused(ihub, person.email, f"guess {attempt} xyz", "123456"))
        unknown.append(login_refused(ihub, f"ghost{attempt}@example.org", "guess xyz", "123456"))
        ihub.identity.unlock_user(Actor.operator(), person.user_id)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    # both are dominated by one argon2id verification (~0.1-0.3 s); without the dummy hash an
    # unknown account would answer in a few milliseconds
    assert 1 / 3 < ratio < 3, (wrong, unknown)
    assert min(unknown) > 0.02


def test_brute_force_locks_the_account(
    ihub: Hub, victim: tuple[People, Person], clock: FixedClock
) -> None:
    _, person = victim
    for guess in ("123456789012", "password1234", "azertyuiop12", "qwerty123456", "letmein12345"):
        clock.advance(minutes=1)
        login_refused(ihub, person.email, guess, "000000")
    clock.advance(minutes=1)
    # the right password and a valid code no longer open it
    login_refused(ihub, person.email, person.password, code_at(person.secret, clock.now()))
    with pytest.raises(AuthenticationError, match="locked"):
        ihub.identity.actor_from_token(person.token)
    reasons = denials(ihub, "user.login")
    assert reasons == [("denied", "wrong_password")] * 5 + [("denied", "account_locked")]
    with ihub.db.transaction() as session:
        locks = session.execute(
            select(AuditEntryRow.outcome).where(AuditEntryRow.action == "user.lock")
        ).all()
    assert len(locks) == 1


def test_wrong_and_replayed_totp_are_refused(
    ihub: Hub, victim: tuple[People, Person], clock: FixedClock
) -> None:
    _, person = victim
    clock.advance(minutes=2)
    now_code = code_at(person.secret, clock.now())
    previous = code_at(person.secret, clock.now() - dt.timedelta(seconds=30))
    login_refused(ihub, person.email, person.password, "999999" if now_code != "999999" else "1")
    clock.advance(seconds=1)  # the growing delay after one failure
    ihub.identity.authenticate(person.email, person.password, now_code)
    # replay of the same code, and of the previous step's (still inside the drift window)
    login_refused(ihub, person.email, person.password, now_code)
    clock.advance(seconds=2)
    login_refused(ihub, person.email, person.password, previous)
    assert [r for _, r in denials(ihub, "user.login")] == [
        "wrong_totp",
        "replayed_totp",
        "replayed_totp",
    ]


def test_expired_revoked_forged_and_foreign_tokens_are_refused(
    ihub: Hub,
    victim: tuple[People, Person],
    clock: FixedClock,
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    people, person = victim
    api = ihub.identity.create_token(people.actor(person), name="job", days=1)
    forged = api.token[:-4] + ("AAAA" if not api.token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="not known"):
        ihub.identity.actor_from_token(forged)
    # a token from another hub means nothing here (different digest key)
    other_home = tmp_path_factory.mktemp("other") / "home"
    other, _ = Hub.init(make_settings(home=other_home), clock=clock)
    try:
        other_people = People(other.identity)
        stranger = other_people.person([(Role.RESEARCHER, "prj_a")])
        with pytest.raises(AuthenticationError, match="not known"):
            ihub.identity.actor_from_token(stranger.token)
    finally:
        other.close()
    clock.advance(minutes=16)
    with pytest.raises(AuthenticationError, match="without activity"):
        ihub.identity.actor_from_token(person.token)
    clock.advance(days=1)
    with pytest.raises(AuthenticationError, match="expired"):
        ihub.identity.actor_from_token(api.token)
    people.sign_in(person)
    second = ihub.identity.create_token(people.actor(person), name="job2", days=1)
    ihub.identity.revoke_token(Actor.operator(), second.info.id, "suspected leak")
    with pytest.raises(AuthenticationError, match="revoked"):
        ihub.identity.actor_from_token(second.token)
    reasons = [r for _, r in denials(ihub, "token.use")]
    assert reasons == ["unknown_token", "unknown_token", "session_idle", "token_expired", "revoked"]


def test_hostile_input_is_just_a_refusal(ihub: Hub, victim: tuple[People, Person]) -> None:
    for email in ("' OR 1=1 --", "a@b.c\x00", "x" * 5000, ""):
        login_refused(ihub, email, "anything at all", "123456")
    for token in ("hvs_' OR '1'='1", "hvt_" + "\u202e" * 10, "hvs_" + "A" * 10_000):
        with pytest.raises(AuthenticationError):
            ihub.identity.actor_from_token(token)
    assert denials(ihub, "user.login") == [("denied", "unknown_account")] * 4
    assert len(denials(ihub, "token.use")) == 3
