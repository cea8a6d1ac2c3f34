"""Searching the trail, exporting a time range as JSON lines, and re-verifying an export.

Times given by a person are read in UTC unless they carry an offset; a bare date as
``until`` means the end of that day. ``since`` is inclusive, ``until`` exclusive. The
databases compare UTC instants (SQLite stores UTC text in a sortable form, PostgreSQL
``timestamptz``), so results do not depend on the server's or the user's time zone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from havre.audit.entry import AuditRecord, Outcome
from havre.audit.log import row_to_record
from havre.audit.models import AuditEntryRow
from havre.audit.rows import EntryRow, from_dict, read_batches, to_dict
from havre.audit.scan import ChainScanner, Damage, scan_entries
from havre.core.errors import UsageError

MAX_LIMIT = 10_000
_E = AuditEntryRow


def parse_moment(text: str, *, end: bool = False) -> dt.datetime:
    """``2026-03-01``, ``2026-03-01T10:00``, ``2026-03-01T10:00+02:00`` or ``...Z`` to UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return moment + dt.timedelta(days=1) if end else moment
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"'{text}' is not a date or time.",
            hint="use ISO 8601: 2026-03-01, 2026-03-01T10:00 or 2026-03-01T10:00+02:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class AuditQuery:
    user: str | None = None  # a user id, or an actor name such as operator:alice
    project: str | None = None
    action: str | None = None  # exact, or a prefix ending with '.' ("project.")
    outcome: Outcome | None = None
    target_kind: str | None = None
    target_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 100

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.user:
            where.append(or_(_E.actor_user_id == self.user, _E.actor_name == self.user))
        if self.project:
            where.append(_E.project_id == self.project)
        if self.action:
            if self.action.endswith("."):
                where.append(_E.action.startswith(self.action, autoescape=True))
            else:
                where.append(_E.action == self.action)
        if self.outcome:
            where.append(_E.outcome == self.outcome.value)
        if self.target_kind:
            where.append(_E.target_kind == self.target_kind)
        if self.target_id:
            where.append(_E.target_id == self.target_id)
        if self.since:
            where.append(_E.ts >= self.since)
        if self.until:
            where.append(_E.ts < self.until)
        return where

    def filters(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in {
                "user": self.user,
                "project": self.project,
                "action": self.action,
                "outcome": None if self.outcome is None else self.outcome.value,
                "target_kind": self.target_kind,
                "target_id": self.target_id,
                "since": self.since,
                "until": self.until,
                "limit": self.limit,
            }.items()
            if value is not None
        }


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(
            f"--limit must be between 1 and {MAX_LIMIT}.",
            hint="use 'havre audit export' for bulk extraction",
        )
    return limit


def search(session: Session, query: AuditQuery) -> list[AuditRecord]:
    """The latest ``limit`` matching entries, oldest first."""
    statement = (
        select(_E)
        .where(and_(true(), *query.conditions()))
        .order_by(_E.seq.desc())
        .limit(check_limit(query.limit))
    )
    records = [row_to_record(row) for row in session.execute(statement).scalars()]
    return sorted(records, key=lambda record: record.seq)


def seq_range(
    connection: Connection, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[int, int] | None:
    """The contiguous run of entries from the first at/after ``since`` to the last before
    ``until`` (contiguous so that the export verifies as a chain)."""
    first_query = select(func.min(_E.seq))
    last_query = select(func.max(_E.seq))
    if since is not None:
        first_query = first_query.where(_E.ts >= since)
    if until is not None:
        last_query = last_query.where(_E.ts < until)
    first = connection.execute(first_query).scalar()
    last = connection.execute(last_query).scalar()
    if first is None or last is None or int(first) > int(last):
        return None
    return int(first), int(last)


def export_lines(connection: Connection, first: int, last: int, batch: int = 5000) -> Iterator[str]:
    for rows in read_batches(connection, first - 1, batch, until_seq=last):
        for row in rows:
            yield json.dumps(to_dict(row), ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass
class ExportCheck:
    ok: bool
    entries: int
    first_seq: int | None
    last_seq: int | None
    first_bad_seq: int | None = None
    damage: Damage | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "first_bad_seq": self.first_bad_seq,
            "damage": None if self.damage is None else self.damage.value,
            "message": self.message,
        }


def verify_export(lines: Iterable[str], before_hash: str | None = None) -> ExportCheck:
    """Re-verify an exported range on its own: contiguous, every hash recomputed, every link
    followed. ``before_hash`` is the hash of the entry before the range, taken from a
    trusted source (a proof, a checkpoint's head, an earlier export); without it the first
    entry's own ``prev_hash`` is taken as given."""
    rows = _parse(lines)
    first = next(rows, None)
    if first is None:
        return ExportCheck(True, 0, None, None, message="The export is empty.")
    start = before_hash or first.prev_hash
    scanner = ChainScanner(first.seq, start)
    scan_entries(scanner, _prepend(first, rows))
    last = scanner.next_seq - 1 if scanner.entries else None
    if scanner.finding is not None:
        finding = scanner.finding
        return ExportCheck(
            False, scanner.entries, first.seq, last, finding.seq, finding.damage, finding.message
        )
    return ExportCheck(
        True,
        scanner.entries,
        first.seq,
        last,
        message=f"Entries {first.seq} to {last} verify as a chain"
        + ("" if before_hash else " (the hash before the first entry was taken as given)")
        + ".",
    )


def _parse(lines: Iterable[str]) -> Iterator[EntryRow]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"Line {number} of the export is not an audit entry.") from None


def _prepend(first: EntryRow, rest: Iterator[EntryRow]) -> Iterator[EntryRow]:
    yield first
    yield from rest
