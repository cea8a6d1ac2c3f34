"""What every part of the identity service shares: its stores, clock and audit helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from havre.audit import AuditLog, AuditScope, Target, audited
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock
from havre.core.config import Settings
from havre.core.errors import PermissionDenied
from havre.db import Database
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.digests import SecretDigester
from havre.governance.identity.roles import Role
from havre.governance.identity.totp import TotpSecrets
from havre.keys import KeyStore


class IdentityBase:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        keys: KeyStore,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.keys = keys
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.digests = SecretDigester(keys)
        self.totp = TotpSecrets(keys)

    def now(self) -> dt.datetime:
        return self.clock.now()

    @contextlib.contextmanager
    def _audited(
        self,
        actor: Actor,
        action: IdentityAction,
        target: Target,
        *,
        project_id: str | None = None,
    ) -> Iterator[AuditScope]:
        with audited(self.db, self.audit, actor, action, target, project_id=project_id) as scope:
            yield scope

    @staticmethod
    def _require_admin(actor: Actor, what: str, *, operator_may: bool = False) -> None:
        """Administrators may; the local operator only where ``operator_may``."""
        if actor.is_operator:
            if operator_may:
                return
            raise PermissionDenied(
                f"Only a named administrator can {what}; the local operator cannot.",
                hint="sign in as an administrator (havre login) and pass --token",
            )
        if not actor.has_role(Role.ADMIN):
            raise PermissionDenied(
                f"Only an administrator can {what}.", hint="ask an administrator of the hub"
            )


def user_target(user_id: str | None) -> Target:
    return Target("user", user_id)


def by_name(actor: Actor) -> str:
    """How an actor is named on the rows it changes (revoked_by...)."""
    return actor.user_id or actor.name
