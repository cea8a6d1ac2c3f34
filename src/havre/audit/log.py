"""Appending to the audit log, in the caller's transaction.

Appends are serialized by locking the single ``audit_head`` row; the entry and the head move
together or not at all. ``append_many`` writes a batch under one lock with one INSERT, which
is how a busy caller keeps up with durable commits. After an append, a signed checkpoint is
made in the same transaction when the checkpoint rule says it is due (see ``checkpoints``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from havre.audit.actions import AuditAction, is_registered
from havre.audit.checkpoints import SYSTEM_ACTOR, Checkpoint, Checkpointer, checkpoint_details
from havre.audit.entry import GENESIS_HASH, AuditRecord, Outcome, Target
from havre.audit.hygiene import check_details, check_identifier, redact
from havre.audit.models import AuditEntryRow, AuditHeadRow
from havre.audit.rows import EntryRow, canonical_bytes
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.clock import Clock, SystemClock
from havre.db.database import Database
from havre.db.plain import PlainTransaction

_ENTRIES = cast(Table, AuditEntryRow.__table__)
_HEAD = cast(Table, AuditHeadRow.__table__)
# the head as plain columns: every audited action reads and moves it, and the ORM's object
# for it cost more than the two statements themselves
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.entry_hash).where(_HEAD.c.id == 1).with_for_update()
_ENTRIES_INSERT = insert(_ENTRIES)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))
)


@dataclass
class _Head:
    """The append lock's row, as this transaction moves it."""

    seq: int
    entry_hash: str


@functools.lru_cache(maxsize=256)
def _roles_text(roles: tuple[str, ...]) -> str:
    return canonical_text(list(roles))


# a pure function of the text; a person's queries repeat one justification
_redacted = functools.lru_cache(maxsize=1024)(redact)


@dataclass(frozen=True)
class PendingEntry:
    """One action to append with ``append_many``."""

    actor: Actor
    action: str
    target: Target
    outcome: Outcome = Outcome.OK
    reason: str | None = None
    details: dict[str, Any] | None = None
    project_id: str | None = None


class AuditLog:
    def __init__(
        self, clock: Clock | None = None, *, checkpointer: Checkpointer | None = None
    ) -> None:
        self.clock = clock or SystemClock()
        self.checkpointer = checkpointer

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
        entry = PendingEntry(actor, action, target, outcome, reason, details, project_id)
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: Sequence[PendingEntry]) -> list[AuditRecord]:
        """Append several entries under one head lock (all or nothing, with the caller)."""
        texts = _checked(entries)
        if not entries:
            return []
        head = _lock(session)
        records = self._write(session, head, entries, texts)
        if self.checkpointer is not None:
            now = self.clock.now()
            if self.checkpointer.due(session, head.seq, now):
                self._checkpoint(session, head, now)
        return records

    def append_plainly(self, tx: PlainTransaction, entry: PendingEntry) -> bool:
        """``append`` in a plain transaction (``havre.db.plain``): the same entry, written by
        the same statements without a session. False, with nothing written, where only the
        session path can append: the log has no head yet, or a checkpoint may be due (making
        one needs the session); the caller then abandons the transaction and appends through
        a session."""
        texts = _checked([entry])
        found = tx.rows(_LOCK_HEAD)
        if not found:
            return False
        head = _Head(int(found[0][0]), found[0][1])
        if self.checkpointer is not None and not self.checkpointer.surely_not_due(
            head.seq + 1, self.clock.now()
        ):
            return False
        rows, _ = self._rows(head, [entry], texts, records_too=False)
        tx.execute_many(_ENTRIES_INSERT, rows)
        tx.rows(_MOVE_HEAD, {"new_seq": head.seq, "new_hash": head.entry_hash})
        return True

    def write(self, db: Database, entry: PendingEntry) -> None:
        """Append one entry in a transaction of its own: plainly where it can
        (``append_plainly``), else through a session."""
        with db.plain_transaction() as tx:
            if self.append_plainly(tx, entry):
                return
            tx.abandon()
        with db.transaction() as session:
            self.append_many(session, [entry])

    def checkpoint(self, session: Session) -> Checkpoint:
        """Sign a checkpoint of the log as it stands in this transaction (on demand)."""
        if self.checkpointer is None:
            raise RuntimeError("this audit log has no signing key to make checkpoints with")
        head = _lock(session)
        return self._checkpoint(session, head, self.clock.now(), automatic=False)

    def _checkpoint(
        self, session: Session, head: _Head, now: dt.datetime, *, automatic: bool = True
    ) -> Checkpoint:
        assert self.checkpointer is not None
        made = self.checkpointer.create(session, int(head.seq), head.entry_hash, _utc(now))
        if automatic:
            self._write(
                session,
                head,
                [
                    PendingEntry(
                        SYSTEM_ACTOR,
                        AuditAction.CHECKPOINT,
                        Target("audit_checkpoint", str(made.number)),
                        details=checkpoint_details(made, automatic=True),
                    )
                ],
            )
        return made

    def _write(
        self,
        session: Session,
        head: _Head,
        entries: Sequence[PendingEntry],
        texts: Sequence[str] | None = None,
    ) -> list[AuditRecord]:
        rows, records = self._rows(head, entries, texts)
        session.execute(_ENTRIES_INSERT, rows)
        session.execute(_MOVE_HEAD, {"new_seq": head.seq, "new_hash": head.entry_hash})
        session.flush()
        return records

    def _rows(
        self,
        head: _Head,
        entries: Sequence[PendingEntry],
        texts: Sequence[str] | None,
        *,
        records_too: bool = True,
    ) -> tuple[list[dict[str, Any]], list[AuditRecord]]:
        """The rows of ``entries`` chained after ``head``, which moves past them (and their
        records, unless ``records_too`` is false)."""
        records: list[AuditRecord] = []
        rows: list[dict[str, Any]] = []
        seq, prev_hash = int(head.seq), head.entry_hash
        for index, entry in enumerate(entries):
            actor = entry.actor
            # canonical text of the details: stored as is, and what the hash covers
            details_text = texts[index] if texts else canonical_text(dict(entry.details or {}))
            roles = tuple(sorted(actor.roles))
            seq += 1
            row = EntryRow(
                seq=seq,
                ts=_utc(self.clock.now()),
                actor_user_id=actor.user_id,
                actor_name=actor.name,
                actor_roles=_roles_text(roles),
                token_id=actor.token_id,
                session_id=actor.session_id,
                client_address=actor.client_address,
                project_id=entry.project_id if entry.project_id is not None else actor.project_id,
                action=str(entry.action),
                target_kind=entry.target.kind,
                target_id=entry.target.id,
                justification=_redacted(actor.justification),
                outcome=Outcome(entry.outcome).value,
                reason=_redacted(entry.reason),
                details=details_text,
                prev_hash=prev_hash,
                entry_hash="",
            )
            # canonical_bytes is byte-identical to AuditRecord.canonical() (test_rows.py)
            canonical = canonical_bytes(row)
            entry_hash = hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()
            row = row._replace(entry_hash=entry_hash)
            prev_hash = entry_hash
            # the hashed text is stored too: verification hashes it in bulk (see ``bulk``)
            rows.append({**row._asdict(), "canonical": canonical.decode("utf-8")})
            if not records_too:
                continue
            records.append(
                AuditRecord(
                    seq=seq,
                    ts=row.ts,
                    actor_user_id=row.actor_user_id,
                    actor_name=row.actor_name,
                    actor_roles=roles,
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
                    details=json.loads(details_text),
                    prev_hash=row.prev_hash,
                    entry_hash=entry_hash,
                )
            )
        head.seq, head.entry_hash = seq, prev_hash
        return rows, records

    @staticmethod
    def lock_head(session: Session) -> None:
        """Take the append lock for the rest of the caller's transaction."""
        _lock(session)

    @staticmethod
    def size(session: Session) -> int:
        found = session.execute(select(_HEAD.c.seq).where(_HEAD.c.id == 1)).scalar_one_or_none()
        return 0 if found is None else int(found)


def _checked(entries: Sequence[PendingEntry]) -> list[str]:
    """The canonical text of each entry's details, once the entry passed the log's checks."""
    texts: list[str] = []
    for entry in entries:
        if not is_registered(str(entry.action)):
            raise ValueError(f"unregistered audit action {entry.action!r}")
        details = dict(entry.details or {})
        text = canonical_text(details)
        check_details(details, encoded_size=len(text.encode("utf-8")))
        check_identifier(entry.target.id, "target id")
        check_identifier(entry.project_id or entry.actor.project_id, "project id")
        texts.append(text)
    return texts


def _lock(session: Session) -> _Head:
    """Take the append lock and read the head (created by the first append of a log). The
    head is only ever read and moved by these plain statements, never loaded as an object,
    so no object of it in the session can fall out of date."""
    found = session.execute(_LOCK_HEAD).first()
    if found is None:
        session.execute(insert(_HEAD).values(id=1, seq=0, entry_hash=GENESIS_HASH))
        found = session.execute(_LOCK_HEAD).one()
    return _Head(int(found[0]), found[1])


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


def _utc(when: dt.datetime) -> dt.datetime:
    """Microsecond UTC: what both SQLite and PostgreSQL store exactly."""
    return when.astimezone(dt.UTC)
