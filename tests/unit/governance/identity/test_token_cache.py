"""Tokens resolved once are kept while the governance counter stands still (havre.db.changes):
every change to accounts, sessions, tokens and grants, from this process or another, and every
expiry on the clock, still shows at the very next use."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.core.errors import AuthenticationError, PermissionDenied
from havre.db import changes
from havre.governance.identity import Role
from havre.governance.identity.testing import People
from havre.hub import Hub


def _warm(hub: Hub, token: str, project_id: str | None = None) -> Actor:
    """Resolve twice: the second use is served from what the first one read."""
    first = hub.identity.actor_from_token(token, project_id=project_id)
    counter = changes.counter_now(hub.db)
    second = hub.identity.actor_from_token(token, project_id=project_id, justification="why")
    assert changes.counter_now(hub.db) == counter  # nothing written by a use in between
    assert second.justification == "why" and first.justification is None
    assert (second.user_id, second.roles, second.session_id) == (
        first.user_id,
        first.roles,
        first.session_id,
    )
    return second


def test_a_revoked_session_is_refused_at_its_next_use(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    actor = _warm(ihub, person.token)
    ihub.identity.revoke_session(Actor.operator(), actor.session_id or "", "laptop stolen")
    with pytest.raises(AuthenticationError, match="laptop stolen"):
        ihub.identity.actor_from_token(person.token)


def test_a_revoked_api_token_is_refused_at_its_next_use(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    made = ihub.identity.create_token(people.actor(person), name="job", days=7)
    _warm(ihub, made.token)
    ihub.identity.revoke_token(people.actor(person), made.info.id, "rotation")
    with pytest.raises(AuthenticationError, match="revoked"):
        ihub.identity.actor_from_token(made.token)


def test_a_suspended_account_is_refused_at_its_next_use(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    _warm(ihub, person.token)
    ihub.identity.suspend_user(people.actor(people.admin()), person.user_id, "inquiry")
    with pytest.raises(AuthenticationError):
        ihub.identity.actor_from_token(person.token)


def test_a_change_made_by_another_process_shows_at_the_next_use(
    ihub: Hub, people: People, clock: FixedClock
) -> None:
    """The cache is validated by the database's own counter, not by this process's writes: a
    suspension written straight into the table (as another process would) is seen."""
    person = people.person([(Role.RESEARCHER, "prj_a")])
    _warm(ihub, person.token)
    other = Hub.open(
        load_settings(
            home=ihub.settings.home, database_url=str(ihub.settings.resolved_database_url)
        ),
        clock=clock,
    )
    try:
        with other.db.transaction() as session:
            session.execute(
                text("UPDATE users SET status = 'suspended' WHERE id = :id"),
                {"id": person.user_id},
            )
    finally:
        other.close()
    with pytest.raises(AuthenticationError, match="suspended"):
        ihub.identity.actor_from_token(person.token)


def test_a_revoked_role_is_gone_from_the_next_actor(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a"), (Role.CHECKER, None)])
    assert Role.CHECKER in _warm(ihub, person.token).roles
    admin = people.actor(people.admin())
    grant = next(
        g for g in ihub.identity.show_user(admin, person.user_id).grants if g.role is Role.CHECKER
    )
    ihub.identity.revoke_grant(admin, grant.id, "left the team")
    assert Role.CHECKER not in ihub.identity.actor_from_token(person.token).roles


def test_expiry_on_the_clock_needs_no_change_in_the_database(
    ihub: Hub, people: People, clock: FixedClock
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    made = ihub.identity.create_token(people.actor(person), name="job", project_id="prj_a", days=1)
    _warm(ihub, made.token)
    _warm(ihub, person.token)
    counter = changes.counter_now(ihub.db)
    clock.advance(minutes=16)  # past the session's idle limit
    with pytest.raises(AuthenticationError, match="without activity"):
        ihub.identity.actor_from_token(person.token)
    clock.advance(days=1)
    with pytest.raises(AuthenticationError, match="expired"):
        ihub.identity.actor_from_token(made.token)
    assert changes.counter_now(ihub.db) == counter  # refusals write only the audit log


def test_the_token_restriction_still_holds_for_a_known_token(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    made = ihub.identity.create_token(people.actor(person), name="job", project_id="prj_a", days=7)
    _warm(ihub, made.token, "prj_a")
    with pytest.raises(PermissionDenied, match="restricted to project prj_a"):
        ihub.identity.actor_from_token(made.token, project_id="prj_b")


def test_writing_the_last_use_leaves_the_counter_where_it_is(
    ihub: Hub, people: People, clock: FixedClock
) -> None:
    """A use writes a token's last use at most once a minute, and that write alone does not
    empty every process's cache; a revocation of the same row does."""
    person = people.person([(Role.RESEARCHER, "prj_a")])
    actor = people.actor(person)
    made = ihub.identity.create_token(actor, name="job", days=7)
    ihub.identity.actor_from_token(made.token)
    counter = changes.counter_now(ihub.db)
    clock.advance(minutes=2)
    ihub.identity.actor_from_token(made.token)
    ihub.identity.touch_session(person.token)
    assert changes.counter_now(ihub.db) == counter
    listed = ihub.identity.list_tokens(actor)
    assert [t.last_used_at for t in listed] == [clock.now()]
    ihub.identity.revoke_token(actor, made.info.id, "rotation")
    assert changes.counter_now(ihub.db) > counter
