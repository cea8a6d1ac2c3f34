"""``audited``: run a service action and its audit entry in one transaction.

On success the entry (outcome ``ok``) is written in the same transaction as the effect. When
the action fails, its effect is rolled back and a ``denied`` or ``error`` entry is written in
a transaction of its own, so refusals leave a trace too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from havre.audit.entry import Outcome, Target
from havre.audit.log import AuditLog
from havre.core.actor import Actor
from havre.core.errors import (
    AuthenticationError,
    DisclosureError,
    HavreError,
    PermissionDenied,
    StateError,
    UsageError,
)
from havre.db.database import Database

DENIALS: tuple[type[HavreError], ...] = (
    AuthenticationError,
    PermissionDenied,
    StateError,
    DisclosureError,
)


@dataclass
class AuditScope:
    """Handed to the action: its session, and details/target it may fill in as it learns them."""

    session: Session
    actor: Actor
    target: Target
    details: dict[str, Any] = field(default_factory=dict)
    project_id: str | None = None


def outcome_of(error: BaseException) -> Outcome:
    return Outcome.DENIED if isinstance(error, DENIALS) else Outcome.ERROR


@contextlib.contextmanager
def audited(
    database: Database,
    log: AuditLog,
    actor: Actor,
    action: str,
    target: Target,
    *,
    justification_required: bool = False,
    project_id: str | None = None,
) -> Iterator[AuditScope]:
    if justification_required and not (actor.justification and actor.justification.strip()):
        error = UsageError(
            "This action needs a justification.", hint="give --justification 'why you need it'"
        )
        _record_failure(database, log, actor, action, target, error, {}, project_id, Outcome.DENIED)
        raise error
    scope: AuditScope | None = None
    try:
        with database.transaction() as session:
            scope = AuditScope(session=session, actor=actor, target=target, project_id=project_id)
            yield scope
            log.append(
                session,
                actor,
                action,
                scope.target,
                Outcome.OK,
                details=scope.details,
                project_id=scope.project_id,
            )
    except BaseException as error:
        if isinstance(error, GeneratorExit):
            raise
        details = scope.details if scope is not None else {}
        final_target = scope.target if scope is not None else target
        final_project = scope.project_id if scope is not None else project_id
        _record_failure(
            database, log, actor, action, final_target, error, details, final_project, None
        )
        raise


def _record_failure(
    database: Database,
    log: AuditLog,
    actor: Actor,
    action: str,
    target: Target,
    error: BaseException,
    details: dict[str, Any],
    project_id: str | None,
    outcome: Outcome | None,
) -> None:
    reason = error.message if isinstance(error, HavreError) else type(error).__name__
    safe_details: dict[str, Any] = {"error": getattr(error, "code", type(error).__name__)}
    try:
        from havre.audit.hygiene import check_details

        check_details(details)
        safe_details.update(details)
    except UsageError:
        safe_details["details_withheld"] = True
    with database.transaction() as session:
        log.append(
            session,
            actor,
            action,
            target,
            outcome or outcome_of(error),
            reason=reason[:500],
            details=safe_details,
            project_id=project_id,
        )
