"""What every part of the airlock shares: its stores, the policy, who is on a project, how a
request is read and shown, and how a refusal is written to the audit log."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from havre.audit import AuditLog, AuditScope, Target, audited
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock
from havre.core.config import Settings
from havre.core.errors import NotFoundError, PermissionDenied
from havre.db import Database
from havre.disclosure.airlock.source import OutputSource
from havre.disclosure.airlock.states import ReleaseState, allowed_steps
from havre.disclosure.airlock.store import AirlockFiles
from havre.disclosure.airlock.views import ReleaseView, ReviewView
from havre.disclosure.models import (
    ReleaseConsolidationRow,
    ReleaseOutputRow,
    ReleaseRequestRow,
    ReleaseReviewRow,
)
from havre.disclosure.policy import Policy, PolicyDocument, settings_policy_document
from havre.governance.identity import IdentityService, Role
from havre.governance.projects import Permit, Permits, PermitStatus
from havre.keys import KeyStore

# Hub staff who may read every request (checkers only for projects they may act on).
OVERSEERS = (Role.ADMIN, Role.DATA_STEWARD, Role.AUDITOR, Role.CHECKER)
CONSOLIDATED = frozenset(
    {ReleaseState.APPROVED, ReleaseState.RETURNED, ReleaseState.REJECTED, ReleaseState.RELEASED}
)


def release_target(request_id: str) -> Target:
    return Target("release", request_id)


class AirlockBase:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        audit: AuditLog,
        keys: KeyStore,
        permits: Permits,
        identity: IdentityService,
        source: OutputSource,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.audit = audit
        self.keys = keys
        self.permits = permits
        self.identity = identity
        self.source = source
        self.clock: Clock = clock or SystemClock()
        self.files = AirlockFiles(settings.home, keys)

    def now(self) -> dt.datetime:
        return self.clock.now()

    @functools.cached_property
    def policy_document(self) -> PolicyDocument:
        """The hub's policy (read once: a service is opened per command or per web process)."""
        return settings_policy_document(self.settings)

    def policy(self, dataset: str | None, project_id: str) -> Policy:
        return self.policy_document.resolve([dataset] if dataset else [], project_id)

    # -- who ----------------------------------------------------------------------------------
    def team(self, project_id: str) -> frozenset[str]:
        """Everyone who works or worked on the project: named in any permit version, or
        holding a team role on it. Read before the caller's transaction opens (on SQLite a
        second transaction would wait for the first)."""
        named: set[str] = set(self.identity.project_team(project_id))
        for permit in self.permits.history(project_id):
            named.update(permit.named_persons)
        return frozenset(named)

    @staticmethod
    def is_overseer(actor: Actor, project_id: str) -> bool:
        if actor.is_operator:
            return True
        # roles of an actor opened for another project say nothing about this one
        return actor.project_id in (None, project_id) and any(actor.has_role(r) for r in OVERSEERS)

    def require_reader(self, actor: Actor, row: ReleaseRequestRow, team: frozenset[str]) -> None:
        if self.is_overseer(actor, row.project_id):
            return
        if actor.user_id is not None and (
            actor.user_id == row.requester_user_id or actor.user_id in team
        ):
            return
        raise PermissionDenied(
            f"Release request {row.id} is open to its project's team and to those who oversee "
            "outputs (checkers, data stewards, administrators, auditors).",
        )

    def require_live(self, project_id: str, session: Session) -> Permit:
        """Outputs of a closed, expired or suspended project are not reviewed or released."""
        permit = self.permits.current(project_id, session=session)
        if permit is None:
            raise PermissionDenied(
                f"Project {project_id} has no permit in force (closed or never activated): its "
                "outputs cannot be reviewed or released.",
            )
        if permit.status is not PermitStatus.ACTIVE:
            raise PermissionDenied(
                f"The permit of project {project_id} (v{permit.version}) is {permit.status}: "
                "its outputs cannot be reviewed or released until it is active again.",
                hint="a data steward or an administrator can reinstate a suspended permit; an "
                "expired one needs an amendment",
            )
        return permit

    # -- reading ------------------------------------------------------------------------------
    @staticmethod
    def load(session: Session, request_id: str, *, lock: bool = False) -> ReleaseRequestRow:
        query = select(ReleaseRequestRow).where(ReleaseRequestRow.id == request_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalars().first()
        if row is None:
            raise NotFoundError(
                f"No release request {request_id}.", hint="havre release list shows them"
            )
        return row

    @staticmethod
    def outputs(
        session: Session, request_id: str, *, current: bool = True
    ) -> list[ReleaseOutputRow]:
        query = select(ReleaseOutputRow).where(ReleaseOutputRow.request_id == request_id)
        if current:
            query = query.where(ReleaseOutputRow.current.is_(True))
        return list(session.execute(query.order_by(ReleaseOutputRow.created_at)).scalars())

    @staticmethod
    def reviews(
        session: Session, request_id: str, round_: int | None = None
    ) -> list[ReleaseReviewRow]:
        query = select(ReleaseReviewRow).where(ReleaseReviewRow.request_id == request_id)
        if round_ is not None:
            query = query.where(ReleaseReviewRow.round == round_)
        return list(session.execute(query.order_by(ReleaseReviewRow.created_at)).scalars())

    @staticmethod
    def consolidations(session: Session, request_id: str) -> list[ReleaseConsolidationRow]:
        query = (
            select(ReleaseConsolidationRow)
            .where(ReleaseConsolidationRow.request_id == request_id)
            .order_by(ReleaseConsolidationRow.round)
        )
        return list(session.execute(query).scalars())

    def view(
        self, session: Session, row: ReleaseRequestRow, actor: Actor, team: frozenset[str]
    ) -> ReleaseView:
        """The request as ``actor`` may see it: a review stays hidden from everyone but its
        author until both reviews of its round are in, and from the project's team until the
        round is consolidated (blind review)."""
        consolidations = self.consolidations(session, row.id)
        decided = {c.round for c in consolidations}
        reviews = self.reviews(session, row.id)
        per_round: dict[int, int] = {}
        for review in reviews:
            per_round[review.round] = per_round.get(review.round, 0) + 1
        on_team = actor.user_id is not None and (
            actor.user_id == row.requester_user_id or actor.user_id in team
        )
        shown: list[ReviewView] = []
        hidden = 0
        for review in reviews:
            done = review.round in decided or (not on_team and per_round[review.round] >= 2)
            if done or review.checker_user_id == actor.user_id:
                shown.append(ReviewView.of(review))
            else:
                hidden += 1
        return ReleaseView.build(
            row,
            self.outputs(session, row.id),
            shown,
            hidden,
            consolidations,
            allowed_steps(ReleaseState(row.state)),
        )

    # -- writing ------------------------------------------------------------------------------
    @staticmethod
    def lock_project(session: Session, project_id: str) -> None:
        """Serialize what a project releases and spends (SQLite: BEGIN IMMEDIATE does it)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"havre-airlock:{project_id}"},
            )

    def record_failure(
        self,
        actor: Actor,
        action: str,
        request_id: str,
        project_id: str | None,
        details: dict[str, Any],
        error: BaseException,
    ) -> None:
        """Write the ``denied``/``error`` entry of an action that failed before its audited
        transaction (computing outputs runs outside one)."""
        try:
            with self.audited_request(actor, action, request_id, project_id) as scope:
                scope.details = details
                raise error
        except BaseException as raised:
            if raised is not error:
                raise

    def require_justification(
        self, actor: Actor, action: str, request_id: str, project_id: str | None
    ) -> None:
        if not (actor.justification and actor.justification.strip()):
            with self.audited_request(
                actor, action, request_id, project_id, justification_required=True
            ):
                pass  # pragma: no cover - audited refuses before entering

    def audited_request(
        self,
        actor: Actor,
        action: str,
        request_id: str,
        project_id: str | None,
        *,
        justification_required: bool = False,
    ) -> contextlib.AbstractContextManager[AuditScope]:
        """The audited scope of an action on one release request of ``project_id``."""
        return audited(
            self.db,
            self.audit,
            actor,
            action,
            release_target(request_id),
            justification_required=justification_required,
            project_id=project_id,
        )

    def project_of(self, request_id: str) -> str:
        """The project a request belongs to (the faces open the actor for it)."""
        with self.db.transaction() as session:
            return self.load(session, request_id).project_id
