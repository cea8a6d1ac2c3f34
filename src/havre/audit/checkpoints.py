"""Signed checkpoints: "the log had N entries, with this Merkle root, at this time".

Rule (settings ``audit_checkpoint_every`` / ``audit_checkpoint_minutes``): after an append, a
checkpoint is made in the same transaction when at least N entries, or at least T minutes,
have passed since the last one (counting from the first entry when there is none yet).
``havre audit checkpoint`` makes one on demand. Every checkpoint is followed by an
``audit.checkpoint`` entry naming it, so the chain itself records that it exists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit.merkle import Frontier
from havre.audit.models import AuditArchiveRow, AuditCheckpointRow, AuditEntryRow
from havre.audit.signing import Signer, TrustedKeys, key_id
from havre.core.actor import Actor
from havre.core.canonical import canonical_json, canonical_text
from havre.core.clock import as_utc, isoformat
from havre.core.errors import IntegrityError

CHECKPOINT_FORMAT = "havre-audit-checkpoint/1"

SYSTEM_ACTOR = Actor(user_id=None, name="havre:audit", roles=frozenset({"system"}))


@dataclass(frozen=True)
class CheckpointPolicy:
    every_entries: int = 1000
    every_minutes: float = 60.0

    def due(self, head_seq: int, last_size: int, last_time: dt.datetime, now: dt.datetime) -> bool:
        if head_seq <= last_size:
            return False
        if head_seq - last_size >= self.every_entries:
            return True
        return now - last_time >= dt.timedelta(minutes=self.every_minutes)


@dataclass(frozen=True)
class Checkpoint:
    number: int
    tree_size: int
    root_hash: str
    head_hash: str
    created_at: dt.datetime
    origin: str
    key_name: str
    key_version: int
    signature: str

    @property
    def key_id(self) -> str:
        return key_id(self.key_name, self.key_version)

    def statement(self) -> dict[str, Any]:
        """What the signature covers."""
        return {
            "format": CHECKPOINT_FORMAT,
            "origin": self.origin,
            "number": self.number,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "head_hash": self.head_hash,
            "time": isoformat(self.created_at),
            "key": self.key_id,
        }

    def message(self) -> bytes:
        return canonical_json(self.statement())

    def verify_signature(self, keys: TrustedKeys) -> bool:
        return keys.verify(self.key_id, self.message(), self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {**self.statement(), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            name, _, version = str(data["key"]).rpartition("@")
            return cls(
                number=int(data["number"]),
                tree_size=int(data["tree_size"]),
                root_hash=str(data["root_hash"]),
                head_hash=str(data["head_hash"]),
                created_at=dt.datetime.fromisoformat(str(data["time"])),
                origin=str(data["origin"]),
                key_name=name,
                key_version=int(version),
                signature=str(data["signature"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise IntegrityError(f"A checkpoint document is malformed ({exc}).") from None

    @classmethod
    def from_row(cls, row: AuditCheckpointRow) -> Checkpoint:
        return cls(
            number=int(row.number),
            tree_size=int(row.tree_size),
            root_hash=row.root_hash,
            head_hash=row.head_hash,
            created_at=as_utc(row.created_at),
            origin=row.origin,
            key_name=row.key_name,
            key_version=int(row.key_version),
            signature=row.signature,
        )


def checkpoint_details(checkpoint: Checkpoint, *, automatic: bool) -> dict[str, Any]:
    """What the ``audit.checkpoint`` entry says: verification checks the checkpoint exists.
    The root is named as the SHA-256 digest it is (``root_sha256``), so the audit hygiene takes
    it for a digest the hub computed: under another key about one root in 10^5 holds a
    NIR-shaped run with a valid key, and the append, with the action behind it, failed.
    Entries written before say ``root_hash`` (``CHECKPOINT_ROOT_KEYS``)."""
    return {
        "checkpoint": checkpoint.number,
        "tree_size": checkpoint.tree_size,
        "root_sha256": checkpoint.root_hash,
        "automatic": automatic,
    }


CHECKPOINT_ROOT_KEYS = ("root_sha256", "root_hash")  # the root in a checkpoint entry, by age


def checkpoint_root(details: dict[str, Any]) -> Any:
    """The root a checkpoint entry names, whichever key its time used."""
    for key in CHECKPOINT_ROOT_KEYS:
        if key in details:
            return details[key]
    return None


def latest_checkpoint(session: Session) -> AuditCheckpointRow | None:
    return session.execute(
        select(AuditCheckpointRow).order_by(AuditCheckpointRow.number.desc()).limit(1)
    ).scalar_one_or_none()


def list_checkpoints(session: Session) -> list[Checkpoint]:
    rows = session.execute(select(AuditCheckpointRow).order_by(AuditCheckpointRow.number))
    return [Checkpoint.from_row(row) for row in rows.scalars()]


def hub_origin(session: Session) -> str:
    """The hub id, so a checkpoint of one hub cannot pass for another's."""
    from havre.db.models import HubInfo

    row = session.get(HubInfo, "hub_id")
    return row.value if row is not None else ""


# set in a session's info once it made a checkpoint: what it reads of checkpoints from then on
# may be rolled back, so it is not kept
_MADE_ONE = "havre_checkpoint_made"


class Checkpointer:
    def __init__(self, signer: Signer, policy: CheckpointPolicy | None = None) -> None:
        self.signer = signer
        self.policy = policy or CheckpointPolicy()
        # the last checkpoint read (size, time), committed when read; (0, the first entry's
        # time) while there is none. Checkpoints are only ever added, and the rule is
        # monotone: a checkpoint older than the last one can only say "due" where the last
        # would not, never the reverse. So "not due" from the kept one is the answer, and
        # "due" is confirmed by reading the table again.
        self._last: tuple[int, dt.datetime] | None = None

    def surely_not_due(self, head_seq: int, now: dt.datetime) -> bool:
        """True when the last checkpoint read says none is due (no read: False is "ask
        ``due``", which reads the table)."""
        kept = self._last
        return kept is not None and not self.policy.due(head_seq, kept[0], kept[1], now)

    def due(self, session: Session, head_seq: int, now: dt.datetime) -> bool:
        if self.surely_not_due(head_seq, now):
            return False
        last = session.execute(
            select(AuditCheckpointRow.tree_size, AuditCheckpointRow.created_at)
            .order_by(AuditCheckpointRow.number.desc())
            .limit(1)
        ).first()
        if last is not None:
            size, made = int(last[0]), as_utc(last[1])
        else:  # none yet: counted from the first entry (an older one only says "due" sooner)
            first = session.execute(
                select(AuditEntryRow.ts).order_by(AuditEntryRow.seq).limit(1)
            ).scalar_one_or_none()
            if first is None:
                return False
            size, made = 0, as_utc(first)
        if not session.info.get(_MADE_ONE):
            self._last = (size, made)
        return self.policy.due(head_seq, size, made, now)

    def create(
        self, session: Session, head_seq: int, head_hash: str, now: dt.datetime
    ) -> Checkpoint:
        """Sign the tree of ``head_seq`` entries; the caller holds the head lock."""
        frontier = tree_frontier(session, head_seq)
        last = latest_checkpoint(session)
        number = 1 if last is None else int(last.number) + 1
        unsigned = Checkpoint(
            number=number,
            tree_size=head_seq,
            root_hash=frontier.root().hex(),
            head_hash=head_hash,
            created_at=now,
            origin=hub_origin(session),
            key_name="",
            key_version=0,
            signature="",
        )
        # the key id is part of what is signed: pick the version first
        version = self.signer.active_version()
        draft = replace(unsigned, key_name=self.signer.key_name, key_version=version)
        checkpoint = replace(draft, signature=self.signer.sign(draft.message(), version).value)
        session.info[_MADE_ONE] = True
        session.add(
            AuditCheckpointRow(
                number=checkpoint.number,
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                head_hash=checkpoint.head_hash,
                created_at=checkpoint.created_at,
                origin=checkpoint.origin,
                key_name=checkpoint.key_name,
                key_version=checkpoint.key_version,
                signature=checkpoint.signature,
                frontier=canonical_text(frontier.to_hex()),
            )
        )
        session.flush()
        return checkpoint


def tree_frontier(session: Session, size: int) -> Frontier:
    """The compact tree of the first ``size`` entries, from the nearest trusted base."""
    for base in _bases(session, size):
        missing = _entry_hashes(session, base.size + 1, size)
        if len(missing) == size - base.size:
            for entry_hash in missing:
                base.append_entry_hash(bytes.fromhex(entry_hash))
            return base
    raise IntegrityError(
        f"Cannot rebuild the Merkle tree of {size} entries: entries are missing.",
        hint="run 'havre audit verify' to find the damage",
    )


def _bases(session: Session, size: int) -> Iterable[Frontier]:
    """Stored frontiers usable as a starting point, best first; each is checked against its
    signed root before use (a tampered frontier would only slow us down, not mislead us)."""
    checkpoint = session.execute(
        select(AuditCheckpointRow)
        .where(AuditCheckpointRow.tree_size <= size)
        .order_by(AuditCheckpointRow.tree_size.desc(), AuditCheckpointRow.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    if checkpoint is not None:
        frontier = _parse_frontier(int(checkpoint.tree_size), checkpoint.frontier)
        if frontier is not None and frontier.root().hex() == checkpoint.root_hash:
            yield frontier
    archive = session.execute(
        select(AuditArchiveRow)
        .where(AuditArchiveRow.removed.is_(True), AuditArchiveRow.last_seq <= size)
        .order_by(AuditArchiveRow.last_seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    if archive is not None:
        frontier = _parse_frontier(int(archive.last_seq), archive.frontier)
        if frontier is not None and frontier.root().hex() == archive.root_hash:
            yield frontier
    yield Frontier()


def _parse_frontier(size: int, text: str) -> Frontier | None:
    try:
        return Frontier.from_hex(size, json.loads(text))
    except (ValueError, TypeError):
        return None


def _entry_hashes(session: Session, first: int, last: int) -> list[str]:
    if last < first:
        return []
    rows = session.execute(
        select(AuditEntryRow.seq, AuditEntryRow.entry_hash)
        .where(AuditEntryRow.seq >= first, AuditEntryRow.seq <= last)
        .order_by(AuditEntryRow.seq)
    ).all()
    if [int(r[0]) for r in rows] != list(range(first, first + len(rows))):
        return []
    return [str(r[1]) for r in rows]
