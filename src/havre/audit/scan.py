"""One pass over a run of entries: chain, sequence, Merkle roots at marks; on the first
anomaly, a diagnosis of what was done to the log and to which entry.

How damage shows (``diagnose``):
- *deleted*: a gap in sequence numbers, or an entry whose content hashes only under a later
  sequence number (the entries after a deleted one were renumbered);
- *inserted*: an entry whose successor links over it to its predecessor (an extra link), or a
  sequence number used twice, or entries beyond the head;
- *reordered*: an entry that links to an entry after it while the entry owed this place sits
  further on (swapped links), or two neighbours whose hashes match once their timestamps are
  swapped back;
- *modified*: a content hash mismatch whose prev link is intact, or a broken link after an
  entry that was edited and re-hashed on its own.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from havre.audit.fastrows import LOOKAHEAD, FastRow, from_entry
from havre.audit.merkle import Frontier
from havre.audit.rows import EntryRow, canonical_bytes


class Damage(StrEnum):
    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class Finding:
    damage: Damage
    seq: int | None
    message: str
    checkpoint: int | None = None
    archive: int | None = None


@dataclass(frozen=True)
class Mark:
    """A promise about the log at ``size`` entries: its head hash and Merkle root."""

    size: int
    head_hash: str
    root_hash: str | None
    label: str
    checkpoint: int | None = None
    archive: int | None = None


def hash_row(
    row: EntryRow, *, prev: str | None = None, seq: int | None = None, ts: object = None
) -> str | None:
    """The chain hash of a row, optionally as if it had another prev/seq/ts (None: unreadable)."""
    try:
        canonical = canonical_bytes(row, seq=seq, ts=ts)
        return hashlib.sha256(bytes.fromhex(prev or row.prev_hash) + canonical).hexdigest()
    except (TypeError, ValueError, AttributeError):
        return None


class RowSource(Protocol):
    """Where the scanner finds full rows when the fast path is not enough."""

    def full(self, seq: int) -> EntryRow | None: ...

    def window(self, seq: int, index: int) -> list[EntryRow]:
        """Full rows from the one at ``index`` of the current batch (seq ``seq``) on."""
        ...


BATCH = 1000


class EntrySource:
    """Full rows from an iterator (archive files, exports): canonical text built in Python."""

    def __init__(self, rows: Iterable[EntryRow]) -> None:
        self._rows = iter(rows)
        self._batch: list[EntryRow] = []
        self._before: EntryRow | None = None

    def fast_batches(self) -> Iterator[list[FastRow]]:
        while True:
            if self._batch:
                self._before = self._batch[-1]
            self._batch = list(itertools.islice(self._rows, BATCH))
            if not self._batch:
                return
            yield [from_entry(row) for row in self._batch]

    def full(self, seq: int) -> EntryRow | None:
        candidate: EntryRow
        for candidate in reversed(self._batch):
            if candidate.seq == seq:
                return candidate
        before = self._before
        if before is not None and before.seq == seq:
            return before
        return None

    def window(self, seq: int, index: int) -> list[EntryRow]:
        return [*self._batch[index:], *itertools.islice(self._rows, LOOKAHEAD)]


def scan_entries(scanner: ChainScanner, rows: Iterable[EntryRow]) -> bool:
    source = EntrySource(rows)
    return scanner.scan(source.fast_batches(), source)


@dataclass
class ChainScanner:
    """Feeds on entries in order from ``next_seq``, after an entry hashed ``prev_hash``."""

    next_seq: int
    prev_hash: str
    frontier: Frontier | None = None
    marks: dict[int, list[Mark]] = field(default_factory=dict)
    entries: int = 0
    finding: Finding | None = None
    trusted_size: int = 0
    before_prev: str | None = None

    def scan(self, batches: Iterable[Sequence[FastRow]], source: RowSource) -> bool:
        """Consume batches of rows in order; False (with ``finding``) at the first damage.

        The hot loop: one chain hash, one leaf hash and amortized one node hash per entry,
        the Merkle frontier grown inline (see ``Frontier.append``).
        """
        if self.finding is not None:
            return False
        sha = hashlib.sha256
        expected = self.next_seq
        prev = self.prev_hash
        prev_bytes = bytes.fromhex(prev)
        before_prev = self.before_prev
        frontier = self.frontier
        nodes = frontier.nodes if frontier is not None else []
        size = frontier.size if frontier is not None else 0
        marks = self.marks
        count = 0
        for batch in batches:
            for index, row in enumerate(batch):
                if row[0] != expected or row[2] != prev:
                    self._save(expected, prev, before_prev, count, size)
                    return self._stop(row, index, source)
                canonical = row[1]
                digest = sha(prev_bytes + canonical.encode()).digest() if canonical else b""
                entry_hash = digest.hex()
                if entry_hash != row[3]:
                    # the database's text is an optimization; the reference is Python's
                    full = source.full(row[0])
                    entry_hash = "" if full is None else (hash_row(full) or "")
                    if entry_hash != row[3]:
                        self._save(expected, prev, before_prev, count, size)
                        return self._stop(row, index, source)
                    digest = bytes.fromhex(entry_hash)
                if frontier is not None:
                    node = sha(b"\x00" + digest).digest()
                    carry = size
                    while carry & 1:
                        node = sha(b"\x01" + nodes.pop() + node).digest()
                        carry >>= 1
                    nodes.append(node)
                    size += 1
                before_prev, prev, prev_bytes = prev, entry_hash, digest
                expected += 1
                count += 1
                if expected - 1 in marks:
                    self._save(expected, prev, before_prev, count, size)
                    count = 0
                    finding = self.check_marks(marks[expected - 1], entry_hash)
                    if finding is not None:
                        self.finding = finding
                        return False
        self._save(expected, prev, before_prev, count, size)
        return True

    def _save(
        self, expected: int, prev: str, before_prev: str | None, count: int, size: int
    ) -> None:
        self.next_seq, self.prev_hash, self.before_prev = expected, prev, before_prev
        self.entries += count
        if self.frontier is not None:
            self.frontier.size = size

    def _stop(self, row: FastRow, index: int, source: RowSource) -> bool:
        window = source.window(row[0], index)
        last = source.full(self.next_seq - 1) if self.entries else None
        self.finding = diagnose(window, self.next_seq, self.prev_hash, self.before_prev, last)
        return False

    def check_marks(self, marks: list[Mark], head_hash: str) -> Finding | None:
        for mark in marks:
            root = self.frontier.root().hex() if self.frontier is not None else None
            if head_hash != mark.head_hash or (
                mark.root_hash is not None and root is not None and root != mark.root_hash
            ):
                first = self.trusted_size + 1
                return Finding(
                    Damage.MODIFIED,
                    first,
                    f"The log was rewritten between entries {first} and {mark.size}: its chain "
                    f"holds together but no longer matches {mark.label}, signed when the log "
                    f"had {mark.size} entries (hashes recomputed after editing, inserting or "
                    "deleting entries).",
                    checkpoint=mark.checkpoint,
                    archive=mark.archive,
                )
            self.trusted_size = max(self.trusted_size, mark.size)
        return None


def diagnose(
    window: list[EntryRow],
    expected: int,
    prev: str,
    before_prev: str | None,
    last: EntryRow | None,
) -> Finding:
    """Name what happened at the first entry that does not fit (``window[0]``)."""
    row = window[0]
    following = window[1] if len(window) > 1 else None
    if row.seq > expected:
        missing = (
            f"entry {expected} is"
            if row.seq == expected + 1
            else f"entries {expected} to {row.seq - 1} are"
        )
        return Finding(
            Damage.DELETED, expected, f"{missing.capitalize()} missing (gap before {row.seq})."
        )
    if row.seq < expected:
        return Finding(
            Damage.INSERTED, row.seq, f"Sequence number {row.seq} is used by more than one entry."
        )
    self_hash = hash_row(row)
    if row.prev_hash == prev:
        if following is not None and following.seq == expected + 1:
            swapped_here = hash_row(row, ts=following.ts) == row.entry_hash
            swapped_next = hash_row(following, ts=row.ts) == following.entry_hash
            if swapped_here and swapped_next and row.ts != following.ts:
                return Finding(
                    Damage.REORDERED,
                    expected,
                    f"Entries {expected} and {expected + 1} have had their timestamps swapped.",
                )
        return Finding(
            Damage.MODIFIED,
            expected,
            f"Entry {expected} was modified: its content no longer matches its hash.",
        )
    if before_prev is not None and row.prev_hash == before_prev and last is not None:
        return Finding(
            Damage.INSERTED,
            expected - 1,
            f"Entry {expected - 1} was inserted: entry {expected} links over it to entry "
            f"{expected - 2}.",
        )
    later_hashes = {other.entry_hash for other in window[1:]}
    owed_here = next((i for i, other in enumerate(window[1:], 1) if other.prev_hash == prev), None)
    if owed_here is not None and row.prev_hash in later_hashes:
        return Finding(
            Damage.REORDERED,
            expected,
            f"Entry {expected} is out of order: it links to an entry after it, and the entry "
            f"that belongs here sits {owed_here} place(s) further on.",
        )
    if owed_here == 1:
        return Finding(
            Damage.INSERTED,
            expected,
            f"Entry {expected} was inserted: entry {expected + 1} links over it to entry "
            f"{expected - 1}.",
        )
    for shift in range(1, LOOKAHEAD + 1):
        if hash_row(row, seq=row.seq + shift) == row.entry_hash:
            what = "entry" if shift == 1 else f"{shift} entries"
            return Finding(
                Damage.DELETED,
                expected,
                f"{what.capitalize()} from {expected} on were deleted and the entries after "
                "renumbered.",
            )
    if self_hash == row.entry_hash and last is not None:
        return Finding(
            Damage.MODIFIED,
            expected - 1,
            f"Entry {expected - 1} was modified and re-hashed: entry {expected} no longer "
            "links to it.",
        )
    return Finding(
        Damage.MODIFIED,
        expected,
        f"Entry {expected} was modified: its link to the previous entry is broken.",
    )
