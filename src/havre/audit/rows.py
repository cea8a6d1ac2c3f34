"""Entries as plain tuples, read in batches with SQLAlchemy Core, and their canonical bytes.

Verification must reach 100,000 entries/s, so it skips ORM objects and ``AuditRecord``: it
rebuilds the canonical JSON straight from the stored columns. ``details`` and ``actor_roles``
are stored as the canonical JSON text that ``append`` hashed, and strings are escaped by the
very function ``json.dumps`` uses, so the bytes are identical to ``AuditRecord.canonical()``
(a property test holds the two together).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from sqlalchemy import String, select, type_coerce
from sqlalchemy.engine import Connection

from havre.audit.entry import AuditRecord
from havre.audit.models import AuditEntryRow
from havre.core.canonical import canonical_text

_encode: Any = json.encoder.encode_basestring  # type: ignore[attr-defined]


class EntryRow(NamedTuple):
    seq: int
    ts: Any  # str (SQLite, export files) or datetime (PostgreSQL)
    actor_user_id: str | None
    actor_name: str
    actor_roles: str  # canonical JSON
    token_id: str | None
    session_id: str | None
    client_address: str | None
    project_id: str | None
    action: str
    target_kind: str
    target_id: str | None
    justification: str | None
    outcome: str
    reason: str | None
    details: str  # canonical JSON
    prev_hash: str
    entry_hash: str


_T = AuditEntryRow.__table__.c
COLUMNS = (
    _T.seq,
    type_coerce(_T.ts, String()).label("ts"),  # raw text on SQLite: parsing is ours, faster
    _T.actor_user_id,
    _T.actor_name,
    _T.actor_roles,
    _T.token_id,
    _T.session_id,
    _T.client_address,
    _T.project_id,
    _T.action,
    _T.target_kind,
    _T.target_id,
    _T.justification,
    _T.outcome,
    _T.reason,
    _T.details,
    _T.prev_hash,
    _T.entry_hash,
)


def ts_text(value: Any) -> str:
    """The timestamp as ``isoformat`` wrote it into the hashed content."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:  # SQLite keeps UTC without an offset
        return str(when.isoformat()) + "Z"
    return str(when.astimezone(dt.UTC).isoformat()).replace("+00:00", "Z")


def _opt(value: str | None) -> str:
    return "null" if value is None else str(_encode(value))


def canonical_bytes(row: EntryRow, *, seq: int | None = None, ts: Any = None) -> bytes:
    """``canonical_json(record.content())`` from stored columns (keys in sorted order)."""
    text: str = (
        '{"action":'
        + _encode(row.action)
        + ',"actor":{"client_address":'
        + _opt(row.client_address)
        + ',"name":'
        + _encode(row.actor_name)
        + ',"roles":'
        + row.actor_roles
        + ',"session_id":'
        + _opt(row.session_id)
        + ',"token_id":'
        + _opt(row.token_id)
        + ',"user_id":'
        + _opt(row.actor_user_id)
        + '},"details":'
        + row.details
        + ',"justification":'
        + _opt(row.justification)
        + ',"outcome":'
        + _encode(row.outcome)
        + ',"project_id":'
        + _opt(row.project_id)
        + ',"reason":'
        + _opt(row.reason)
        + ',"seq":'
        + str(row.seq if seq is None else seq)
        + ',"target":{"id":'
        + _opt(row.target_id)
        + ',"kind":'
        + _encode(row.target_kind)
        + '},"ts":'
        + _encode(ts_text(row.ts if ts is None else ts))
        + "}"
    )
    return text.encode("utf-8")


def read_batch(
    connection: Connection, after_seq: int, limit: int, until_seq: int | None = None
) -> list[EntryRow]:
    """Up to ``limit`` entries with seq > ``after_seq``, in order (one keyset page)."""
    query = select(*COLUMNS).where(_T.seq > after_seq).order_by(_T.seq).limit(limit)
    if until_seq is not None:
        query = query.where(_T.seq <= until_seq)
    return [EntryRow._make(r) for r in connection.execute(query)]


def read_batches(
    connection: Connection, after_seq: int, batch: int, until_seq: int | None = None
) -> Iterator[list[EntryRow]]:
    """Entries with seq > ``after_seq`` in order, ``batch`` at a time."""
    last = after_seq
    while rows := read_batch(connection, last, batch, until_seq):
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1].seq


def from_record(record: AuditRecord) -> EntryRow:
    return from_dict(record.to_dict())


def from_dict(data: Mapping[str, Any]) -> EntryRow:
    """An entry as exported (``AuditRecord.to_dict()``) back to the stored shape."""
    actor = data["actor"]
    target = data["target"]
    return EntryRow(
        seq=int(data["seq"]),
        ts=str(data["ts"]),
        actor_user_id=actor["user_id"],
        actor_name=actor["name"],
        actor_roles=canonical_text(actor["roles"]),
        token_id=actor["token_id"],
        session_id=actor["session_id"],
        client_address=actor["client_address"],
        project_id=data["project_id"],
        action=data["action"],
        target_kind=target["kind"],
        target_id=target["id"],
        justification=data["justification"],
        outcome=data["outcome"],
        reason=data["reason"],
        details=canonical_text(data["details"]),
        prev_hash=str(data["prev_hash"]),
        entry_hash=str(data["entry_hash"]),
    )


def to_dict(row: EntryRow) -> dict[str, Any]:
    """The exported form: the hashed content plus both hashes (one JSON line per entry)."""
    content: dict[str, Any] = json.loads(canonical_bytes(row))
    return {**content, "prev_hash": row.prev_hash, "entry_hash": row.entry_hash}
