"""The people of the demo: who they are, their accounts, and their sign-ins.

Accounts are made as on a real hub: the local operator seats the first two administrators,
an administrator creates everyone else, a second administrator approves the four-eyes roles
(data stewards). Every person then signs in with their password and a TOTP code computed
from their provisioning URI, as an authenticator app would; every action of the story is
taken through an ``Actor`` obtained from that session's token. Project roles are not granted
here: submitting an application gives its team their roles.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pyotp

from havre.core.actor import Actor
from havre.core.errors import AuthenticationError
from havre.governance.identity import FOUR_EYES, IdentityService, Role
from havre.governance.identity.passwords import random_password
from havre.governance.identity.totp import secret_of_uri

TERMS_VERSION = "havre-demo-terms-1"
STEP_SECONDS = 30  # TOTP steps (RFC 6238), as the identity service checks them
HUB = "Havre hub (demo)"


@dataclass(frozen=True)
class Character:
    key: str
    name: str
    email: str
    organisation: str
    roles: tuple[Role, ...]  # hub-wide roles; project roles come with the application
    part: str


CHARACTERS: tuple[Character, ...] = (
    Character("admin", "Alice Marchand", "alice.marchand@havre-demo.example", HUB,
              (Role.ADMIN,), "administrator: creates the accounts"),
    Character("admin2", "Benoît Roux", "benoit.roux@havre-demo.example", HUB,
              (Role.ADMIN,), "second administrator: approves four-eyes roles"),
    Character("steward", "Sophie Durand", "sophie.durand@havre-demo.example", HUB,
              (Role.DATA_STEWARD,),
              "data steward: ingests deliveries, checks applications, issues permits"),
    Character("steward2", "Samuel Petit", "samuel.petit@havre-demo.example", HUB,
              (Role.DATA_STEWARD,),
              "second data steward: records authorisations, puts permits in force"),
    Character("reviewer", "Rose Garnier", "rose.garnier@cesrees-demo.example",
              "Ethics committee (demo)", (Role.REVIEWER,),
              "ethics reviewer: gives the opinion, sees the re-identification risk"),
    Character("checker", "Camille Fontaine", "camille.fontaine@havre-demo.example", HUB,
              (Role.CHECKER,), "output checker: reviews releases blind, consolidates"),
    Character("checker2", "Claude Mercier", "claude.mercier@havre-demo.example", HUB,
              (Role.CHECKER,), "second output checker: reviews releases blind"),
    Character("auditor", "Aurélie Blanc", "aurelie.blanc@havre-demo.example", HUB,
              (Role.AUDITOR,), "auditor: verifies the audit log, signs a checkpoint"),
    Character("lead_a", "Léa Moreau", "lea.moreau@chu-rouen.example", "CHU de Rouen",
              (), "project lead of the diabetic complications study"),
    Character("researcher_a", "Rémi Lambert", "remi.lambert@chu-rouen.example",
              "CHU de Rouen", (), "researcher on the diabetic complications study"),
    Character("lead_b", "Hugo Bernard", "hugo.bernard@univ-lille.example",
              "Université de Lille", (), "project lead of the territorial inequalities study"),
    Character("researcher_b", "Inès Caron", "ines.caron@univ-lille.example",
              "Université de Lille", (), "researcher on the territorial inequalities study"),
)  # fmt: skip


@dataclass
class Member:
    """A character with an account on the demo hub, and their secrets (demo only)."""

    character: Character
    user_id: str
    password: str
    totp_secret: str
    token: str = ""  # the current session's bearer token
    last_step: int = 0  # the last TOTP step used (a code is never accepted twice)
    projects: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.character.key


class Cast:
    """The demo's people on one hub: accounts, sign-ins, actors."""

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self.members: dict[str, Member] = {}

    def __getitem__(self, key: str) -> Member:
        return self.members[key]

    # -- seating -----------------------------------------------------------------------------
    def seat(self) -> None:
        """Create every character's account, approve the four-eyes roles, sign everyone in."""
        operator = Actor.operator("demo: seat the first two administrators")
        for key in ("admin", "admin2"):
            self._add(operator, _character(key))
            self.sign_in(key)
        admin = self.actor("admin")
        for character in CHARACTERS:
            if character.key not in self.members:
                self._add(admin, character)
        approver = self.actor("admin2")
        for member in self.members.values():
            for grant in self.identity.show_user(admin, member.user_id).grants:
                if grant.state == "pending" and grant.role in FOUR_EYES:
                    self.identity.approve_grant(approver, grant.id)
        for key in self.members:
            if not self.members[key].token:
                self.sign_in(key)

    def _add(self, actor: Actor, character: Character) -> Member:
        password = random_password(email=character.email, name=character.name, prefix="demo-")
        today = self.identity.now().date()
        made = self.identity.add_user(
            actor,
            email=character.email,
            name=character.name,
            organisation=character.organisation,
            password=password,
            roles=[(role, None) for role in character.roles],
            training_attested_on=today,
            terms_version=TERMS_VERSION,
            terms_signed_on=today,
        )
        member = Member(character, made.user.id, password, secret_of_uri(made.totp_uri))
        self.members[character.key] = member
        return member

    # -- signing in --------------------------------------------------------------------------
    def sign_in(self, key: str) -> str:
        """Password and a fresh TOTP code, as the person would type them; the session token."""
        member = self.members[key]
        try:
            return self._sign_in(member)
        except AuthenticationError:
            # the code's step may have been used outside the demo (a tester signing in):
            # wait for the next step, once
            time.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 1)
            member.last_step = max(member.last_step, _step_now())
            return self._sign_in(member)

    def _sign_in(self, member: Member) -> str:
        now = _step_now()
        step = max(now - 1, member.last_step + 1)
        if step > now + 1:  # signed in too often: the identity service refuses older codes
            time.sleep((step - 1) * STEP_SECONDS - time.time() + 0.5)
        code = pyotp.TOTP(member.totp_secret).at(step * STEP_SECONDS)
        result = self.identity.authenticate(member.character.email, member.password, code)
        member.token, member.user_id, member.last_step = result.token, result.user_id, step
        return member.token

    def actor(
        self, key: str, project_id: str | None = None, justification: str | None = None
    ) -> Actor:
        """The person behind their session token, acting for ``project_id``."""
        return self.identity.actor_from_token(
            self.members[key].token, project_id=project_id, justification=justification
        )


def _character(key: str) -> Character:
    return next(c for c in CHARACTERS if c.key == key)


def _step_now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp()) // STEP_SECONDS
