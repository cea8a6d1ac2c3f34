"""Seating people on a hub for tests and demos: accounts with roles, signed in.

Nothing in the hub calls this module. It goes through the same service calls a person would
(the operator seats the first administrator, a second administrator approves four-eyes
roles, everyone signs in with a TOTP code read from their provisioning URI).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from argon2 import PasswordHasher, profiles

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.governance.identity.passwords import random_password
from havre.governance.identity.roles import FOUR_EYES, Role
from havre.governance.identity.service import IdentityService
from havre.governance.identity.totp import STEP_SECONDS, code_at, secret_of_uri

# Argon2 at its cheapest, for test suites that sign many people in:
# monkeypatch.setattr("havre.governance.identity.passwords.HASHER", FAST_TEST_HASHER)
FAST_TEST_HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
TERMS_VERSION = "test-terms-1"
_counter = itertools.count(1)


@dataclass
class Person:
    user_id: str
    email: str
    name: str
    password: str
    secret: str
    token: str = ""
    roles: list[tuple[Role, str | None]] = field(default_factory=list)
    signed_in_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None


class People:
    """Creates people on one hub's identity service."""

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self._admins: list[Person] = []
        self._next_step: dict[str, int] = {}

    def admin(self) -> Person:
        """The first administrator (seated by the operator), created on first use."""
        while not self._admins:
            self._seat_admin()
        return self._admins[0]

    def second_admin(self) -> Person:
        """Another administrator (also seated by the operator), for four-eyes approvals."""
        while len(self._admins) < 2:
            self._seat_admin()
        return self._admins[1]

    def _seat_admin(self) -> None:
        self._admins.append(self._create(Actor.operator("test set-up"), [(Role.ADMIN, None)]))

    def person(
        self,
        roles: Sequence[tuple[Role | str, str | None]] = (),
        *,
        name: str | None = None,
    ) -> Person:
        """A signed-in person holding ``roles`` (four-eyes roles requested by the first
        administrator and approved by the second)."""
        creator = self.admin()
        wanted = [(Role(r), p) for r, p in roles]
        person = self._create(self.actor(creator), wanted, name=name)
        for grant in self.identity.show_user(self.actor(creator), person.user_id).grants:
            if grant.state == "pending" and grant.role in FOUR_EYES:
                self.identity.approve_grant(self.actor(self.second_admin()), grant.id)
        return person

    def actor(
        self, person: Person, project_id: str | None = None, justification: str | None = None
    ) -> Actor:
        """The person as an actor (signing in again first when their session has lapsed)."""
        if not self._session_alive(person):
            self.sign_in(person)
        actor = self.identity.actor_from_token(
            person.token, project_id=project_id, justification=justification
        )
        person.last_seen_at = self.identity.now()
        return actor

    def time_passes(self, clock: FixedClock, days: int, active: Sequence[Person]) -> None:
        """Move ``clock`` ``days`` ahead, the ``active`` people signing in along the way (an
        account unused for ``inactivity_days`` is suspended when it next signs in)."""
        step = max(1, self.identity.settings.inactivity_days // 2)
        left = days
        while left > 0:
            clock.advance(days=min(step, left))
            left -= step
            for person in active:
                self.sign_in(person)

    def sign_in(self, person: Person) -> str:
        """Sign in again (a fresh session token), with a code from a step not used before."""
        person.token = self.identity.authenticate(
            person.email, person.password, self._next_code(person)
        ).token
        person.signed_in_at = person.last_seen_at = self.identity.now()
        return person.token

    def _session_alive(self, person: Person) -> bool:
        if person.signed_in_at is None or person.last_seen_at is None:
            return False
        settings = self.identity.settings
        now = self.identity.now()
        idle = dt.timedelta(minutes=settings.session_idle_minutes)
        absolute = dt.timedelta(hours=settings.session_absolute_hours)
        return now < person.last_seen_at + idle and now < person.signed_in_at + absolute

    def _create(
        self,
        actor: Actor,
        roles: Sequence[tuple[Role, str | None]],
        name: str | None = None,
    ) -> Person:
        number = next(_counter)
        name = name or f"Test Person{number}"
        email = f"person{number}@example.org"
        password = random_password(email=email, name=name)
        new = self.identity.add_user(
            actor,
            email=email,
            name=name,
            organisation="Test Organisation",
            password=password,
            roles=list(roles),
            training_attested_on=self.identity.now().date(),
            terms_version=TERMS_VERSION,
        )
        person = Person(
            user_id=new.user.id,
            email=email,
            name=name,
            password=password,
            secret=secret_of_uri(new.totp_uri),
            roles=list(roles),
        )
        self.sign_in(person)
        return person

    def _next_code(self, person: Person) -> str:
        # each sign-in needs a code from a later step than the last one (replay guard); the
        # accepted window is one step either side of now
        now = self.identity.now()
        step = int(now.timestamp()) // STEP_SECONDS
        used = self._next_step.get(person.user_id, step - 2)
        chosen = max(step - 1, used + 1)
        if chosen > step + 1:
            raise RuntimeError("signed in more than 3 times in 30 seconds; advance the clock")
        self._next_step[person.user_id] = chosen
        return code_at(person.secret, dt.datetime.fromtimestamp(chosen * STEP_SECONDS, dt.UTC))
