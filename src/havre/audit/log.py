"""Appending to the audit log, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit.actions import is_registered
from havre.audit.entry import GENESIS_HASH, AuditRecord, Outcome, Target
from havre.audit.hygiene import check_details
from havre.audit.models import AuditEntryRow, AuditHeadRow
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.clock import Clock, SystemClock


class AuditLog:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()

    def append(
        self,
        session: Session,
        actor: Actor,
        action: str,
        target: Target,
        outcome: Outcome = Outcome.OK,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        project_id: str | None = None,
    ) -> AuditRecord:
        if not is_registered(str(action)):
            raise ValueError(f"unregistered audit action {action!r}")
        details = dict(details or {})
        check_details(details)
        head = self._lock_head(session)
        record = AuditRecord(
            seq=head.seq + 1,
            ts=_truncate(self.clock.now()),
            actor_user_id=actor.user_id,
            actor_name=actor.name,
            actor_roles=tuple(sorted(actor.roles)),
            token_id=actor.token_id,
            session_id=actor.session_id,
            client_address=actor.client_address,
            project_id=project_id if project_id is not None else actor.project_id,
            action=str(action),
            target_kind=target.kind,
            target_id=target.id,
            justification=actor.justification,
            outcome=outcome,
            reason=reason,
            details=json.loads(canonical_text(details)),
            prev_hash=head.entry_hash,
        )
        entry_hash = record.compute_hash()
        session.add(
            AuditEntryRow(
                seq=record.seq,
                ts=record.ts,
                actor_user_id=record.actor_user_id,
                actor_name=record.actor_name,
                actor_roles=canonical_text(list(record.actor_roles)),
                token_id=record.token_id,
                session_id=record.session_id,
                client_address=record.client_address,
                project_id=record.project_id,
                action=record.action,
                target_kind=record.target_kind,
                target_id=record.target_id,
                justification=record.justification,
                outcome=record.outcome.value,
                reason=record.reason,
                details=canonical_text(record.details),
                prev_hash=record.prev_hash,
                entry_hash=entry_hash,
            )
        )
        head.seq = record.seq
        head.entry_hash = entry_hash
        session.flush()
        return AuditRecord(**{**record.__dict__, "entry_hash": entry_hash})

    @staticmethod
    def _lock_head(session: Session) -> AuditHeadRow:
        head = session.execute(
            select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
        ).scalar_one_or_none()
        if head is None:
            head = AuditHeadRow(id=1, seq=0, entry_hash=GENESIS_HASH)
            session.add(head)
            session.flush()
        return head

    @staticmethod
    def size(session: Session) -> int:
        head = session.get(AuditHeadRow, 1)
        return 0 if head is None else int(head.seq)


def row_to_record(row: AuditEntryRow) -> AuditRecord:
    return AuditRecord(
        seq=int(row.seq),
        ts=row.ts,
        actor_user_id=row.actor_user_id,
        actor_name=row.actor_name,
        actor_roles=tuple(json.loads(row.actor_roles)),
        token_id=row.token_id,
        session_id=row.session_id,
        client_address=row.client_address,
        project_id=row.project_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        justification=row.justification,
        outcome=Outcome(row.outcome),
        reason=row.reason,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )


def _truncate(when: dt.datetime) -> dt.datetime:
    """Microsecond UTC: what both SQLite and PostgreSQL store exactly."""
    return when.astimezone(dt.UTC)
