"""``havre audit verify``: recompute the whole trail and name the first damage.

Checked: every archive record (numbering, contiguity, links, signature; with the files, every
archived entry), every checkpoint (numbering, signature with keys from the key store or an
outsider's public-key file, Merkle root and head hash recomputed at its size), every entry
(contiguous sequence numbers, prev links, content hashes), that each ``audit.checkpoint``
entry's checkpoint still exists, that no signed checkpoint vouches for more entries than
remain (truncation), and that ``audit_head`` points at the last entry.

Entries are read with SQLAlchemy Core in keyset batches, each in a short transaction, so
appends go on meanwhile; the tail and the head are read together in one last transaction so
they agree even under load.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from havre.audit.archive import ArchiveFile, ArchiveRecord, list_archives
from havre.audit.bulk import BulkScanner, blocks, end_read, fetch, last_seq, pages
from havre.audit.checkpoints import Checkpoint, checkpoint_root, list_checkpoints
from havre.audit.column_check import ColumnCheck, first_mismatch
from havre.audit.entry import GENESIS_HASH
from havre.audit.fastrows import DatabaseSource, FastRow
from havre.audit.merkle import Frontier
from havre.audit.models import AuditEntryRow
from havre.audit.rows import EntryRow, canonical_bytes
from havre.audit.scan import (
    ChainScanner,
    Damage,
    EntrySource,
    Finding,
    Mark,
)
from havre.audit.signing import TrustedKeys
from havre.core.errors import UsageError
from havre.core.prefetch import prefetch
from havre.db.database import Database

BATCH = 5_000  # entries per page (PostgreSQL builds larger joined pages more slowly)
CHECKPOINT_ACTION = "audit.checkpoint"


@dataclass
class VerifyReport:
    ok: bool
    entries: int
    checkpoints: int
    archives: int
    first_seq: int | None = None
    last_seq: int | None = None
    first_bad_seq: int | None = None
    damage: Damage | None = None
    message: str = "The audit trail is intact."
    checkpoint: int | None = None
    archive: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "archives": self.archives,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "first_bad_seq": self.first_bad_seq,
            "damage": None if self.damage is None else self.damage.value,
            "message": self.message,
            "checkpoint": self.checkpoint,
            "archive": self.archive,
            "seconds": round(self.seconds, 3),
            "entries_per_second": round(self.entries_per_second),
            "notes": self.notes,
        }


class Verifier:
    def __init__(self, database: Database, keys: TrustedKeys, *, batch: int = BATCH) -> None:
        self.db = database
        self.keys = keys
        self.batch = batch

    def run(self, archive_files: Sequence[Path] = ()) -> VerifyReport:
        started = time.perf_counter()
        with self.db.transaction() as session:
            checkpoints = list_checkpoints(session)
            archives = list_archives(session)
        findings: list[Finding] = []
        notes: list[str] = []
        findings += _archive_findings(archives, self.keys)
        findings += _checkpoint_findings(checkpoints, self.keys)
        removed = [a for a in archives if a.removed]
        boundary = removed[-1].last_seq if removed else 0
        files = [ArchiveFile(path) for path in archive_files]
        scanner, prefix, file_findings = self._start(removed, files, notes)
        findings += file_findings
        # a checkpoint or archive whose signature fails is reported as such; its root proves
        # nothing, so it is not held against the entries
        untrusted = {
            (f.checkpoint, f.archive) for f in findings if f.damage is Damage.BAD_SIGNATURE
        }
        marks = _marks(
            [c for c in checkpoints if (c.number, None) not in untrusted],
            [a for a in archives if (None, a.number) not in untrusted],
            from_files=bool(files),
        )
        scanner.marks = marks
        if not files:
            unchecked = sum(1 for c in checkpoints if c.tree_size <= boundary)
            if unchecked:
                notes.append(
                    f"{unchecked} checkpoint(s) cover only archived entries: their signatures "
                    "were checked, their roots need the archive files (--archive)."
                )
        head: list[tuple[int, str] | None] = []
        intact = True
        if prefix is not None:
            intact = scanner.scan(prefix.fast_batches(), prefix)
        if intact:
            intact, stored = self._scan_database(scanner, head)
            if stored is not None:
                findings.append(stored)
        if intact:
            # entries up to the last one scanned, and the checkpoints as they stand now: one
            # made while we read is named by an entry, and was committed with it
            recorded = self._checkpoint_entries(scanner.next_seq - 1)
            with self.db.transaction() as session:
                current = list_checkpoints(session)
            scanner.finding = _cross_check(scanner, checkpoints, head, recorded, current)
        if scanner.finding is not None:
            findings.append(scanner.finding)
        report = VerifyReport(
            ok=not findings,
            entries=scanner.entries,
            checkpoints=len(checkpoints),
            archives=len(archives),
            first_seq=1 if files or not boundary else boundary + 1,
            last_seq=scanner.next_seq - 1 if scanner.entries else None,
            notes=notes,
        )
        if findings:
            first = min(findings, key=lambda f: (f.seq is None, f.seq or 0))
            report.first_bad_seq = first.seq
            report.damage = first.damage
            report.message = first.message
            report.checkpoint = first.checkpoint
            report.archive = first.archive
        report.seconds = time.perf_counter() - started
        return report

    def _start(
        self, removed: list[ArchiveRecord], files: list[ArchiveFile], notes: list[str]
    ) -> tuple[ChainScanner, EntrySource | None, list[Finding]]:
        """Where the scan begins: the genesis (with the archive files, if any were removed) or
        the end of the last removed range, known by its signed hash and frontier."""
        findings: list[Finding] = []
        if files:
            files.sort(key=lambda f: f.record.first_seq)
            covered = [(f.record.first_seq, f.record.last_seq) for f in files]
            expected = [(a.first_seq, a.last_seq) for a in removed]
            if covered != expected:
                raise UsageError(
                    f"The archive files cover {covered}; the removed ranges are {expected}.",
                    hint="give every archive file of the removed ranges, in any order",
                )
            by_number = {a.number: a for a in removed}
            for item in files:
                recorded = by_number.get(item.record.number)
                if not item.record.verify_signature(self.keys):
                    findings.append(_bad_archive(item.record, f"file {item.path.name}"))
                elif recorded is None or recorded.statement() != item.record.statement():
                    findings.append(
                        Finding(
                            Damage.MODIFIED,
                            item.record.first_seq,
                            f"Archive file {item.path.name} does not match archive record "
                            f"{item.record.number} in the database.",
                            archive=item.record.number,
                        )
                    )
            source = EntrySource(_chain_files(files))
            return ChainScanner(1, GENESIS_HASH, Frontier()), source, findings
        if not removed:
            return ChainScanner(1, GENESIS_HASH, Frontier()), None, findings
        last = removed[-1]
        try:
            frontier: Frontier | None = last.frontier_tree()
        except Exception:  # a bad frontier is reported by the archive checks
            frontier = None
        notes.append(
            f"Entries 1 to {last.last_seq} are archived ({len(removed)} archive(s)); the chain "
            "resumes from the last archive's signed hash."
        )
        scanner = ChainScanner(last.last_seq + 1, last.last_hash, frontier)
        scanner.trusted_size = last.last_seq
        return scanner, None, findings

    def _scan_database(
        self, scanner: ChainScanner, head: list[tuple[int, str] | None]
    ) -> tuple[bool, Finding | None]:
        """The entries in the database: the bulk path over their stored text, checked against
        their columns (by the page reads on SQLite, by other connections on PostgreSQL); at
        the first anomaly, the reference scan over the columns from the state saved before it
        names the damage."""
        after = scanner.next_seq - 1
        until = last_seq(self.db)
        # SQLite's page reads check the columns in the same pass; PostgreSQL's server
        # processes share the check between the cores, beside the reader's
        inline = self.db.dialect == "sqlite"
        readers = 2 if inline else 1  # SQLite's page reads, the column check in them, in two
        check = None if inline else ColumnCheck(self.db, after, until, workers=2).start()
        bulk = BulkScanner(scanner, self.db)
        differs: int | None = None
        try:
            # blocks are read in a thread, a block or two ahead of the hashing
            with contextlib.closing(
                prefetch(
                    blocks(self.db, after, self.batch, head, until=until, readers=readers),
                    name="audit-verify-reader",
                )
            ) as live:
                for block in live:
                    if block.differs is not None:
                        differs = self._confirmed(block.differs, block.last or block.differs)
                    if not bulk.feed(block) or differs is not None:
                        if check is not None:
                            check.stop_after(bulk.anomaly or until)
                        break
        finally:
            mismatch = check.result() if check is not None else None
        suspect = min(
            (seq for seq in (bulk.anomaly, mismatch, differs) if seq is not None), default=None
        )
        if suspect is None and not inline and scanner.next_seq - 1 > until:  # appended since
            with self.db.connect() as connection:
                suspect = first_mismatch(connection, until, scanner.next_seq - 1)
        if suspect is None:
            return True, None
        bulk.restore(suspect)
        head.clear()
        # the driver's tuples have FastRow's shape: (seq, text, prev hash, entry hash)
        rows = cast(
            Iterator[list[FastRow]],
            pages(self.db, scanner.next_seq - 1, self.batch, head, stored=False),
        )
        with contextlib.closing(prefetch(rows, name="audit-verify-reader")) as live:
            intact = scanner.scan(live, DatabaseSource(self.db))
        found = scanner.finding
        if found is not None and found.seq is not None and found.seq <= suspect:
            return intact, None
        return intact, self._stored_text_finding(suspect)

    def _confirmed(self, seq: int, last: int) -> int | None:
        """The first entry from ``seq`` to ``last`` whose stored text is not its columns' text,
        confirmed in Python (the database found ``seq``; its text is not the reference)."""
        with self.db.connect() as connection:
            return first_mismatch(connection, seq - 1, last)

    def _stored_text_finding(self, seq: int) -> Finding | None:
        """The columns of entry ``seq`` hash right: is the text stored beside them altered?"""
        full = DatabaseSource(self.db).full(seq)
        with self.db.connect() as connection:
            stored = fetch(
                connection, select(AuditEntryRow.canonical).where(AuditEntryRow.seq == seq)
            )
            end_read(connection)
        if full is None or not stored or stored[0][0] is None:
            return None
        if canonical_bytes(full).decode("utf-8") == stored[0][0]:
            return None
        return Finding(
            Damage.MODIFIED,
            seq,
            f"Entry {seq} was modified: the canonical text stored with it no longer matches "
            "its columns and its hash.",
        )

    def _checkpoint_entries(self, until: int) -> list[tuple[int, str, str]]:
        with self.db.connect() as connection:
            rows = connection.execute(
                select(AuditEntryRow.seq, AuditEntryRow.outcome, AuditEntryRow.details)
                .where(AuditEntryRow.action == CHECKPOINT_ACTION, AuditEntryRow.seq <= until)
                .order_by(AuditEntryRow.seq)
            )
            return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _chain_files(files: list[ArchiveFile]) -> Iterator[EntryRow]:
    for item in files:
        yield from item.rows()


def _marks(
    checkpoints: list[Checkpoint], archives: list[ArchiveRecord], *, from_files: bool
) -> dict[int, list[Mark]]:
    marks: dict[int, list[Mark]] = {}
    for checkpoint in checkpoints:
        marks.setdefault(checkpoint.tree_size, []).append(
            Mark(
                checkpoint.tree_size,
                checkpoint.head_hash,
                checkpoint.root_hash,
                f"checkpoint {checkpoint.number}",
                checkpoint=checkpoint.number,
            )
        )
    for archive in archives:
        if from_files or not archive.removed:
            marks.setdefault(archive.last_seq, []).append(
                Mark(
                    archive.last_seq,
                    archive.last_hash,
                    archive.root_hash,
                    f"archive {archive.number}",
                    archive=archive.number,
                )
            )
    return marks


def _bad_archive(record: ArchiveRecord, what: str) -> Finding:
    return Finding(
        Damage.BAD_SIGNATURE,
        record.first_seq,
        f"The signature of archive {record.number} ({what}) is not valid with key {record.key_id}.",
        archive=record.number,
    )


def _archive_findings(archives: list[ArchiveRecord], keys: TrustedKeys) -> list[Finding]:
    findings: list[Finding] = []
    previous: ArchiveRecord | None = None
    for index, archive in enumerate(archives, start=1):
        if archive.number != index:
            findings.append(
                Finding(
                    Damage.DELETED,
                    previous.last_seq + 1 if previous else 1,
                    f"Archive record {index} is missing (the records jump to {archive.number}).",
                    archive=index,
                )
            )
            break
        expected_first = previous.last_seq + 1 if previous else 1
        expected_prev = previous.last_hash if previous else GENESIS_HASH
        if archive.first_seq != expected_first or archive.prev_hash != expected_prev:
            findings.append(
                Finding(
                    Damage.MODIFIED,
                    expected_first,
                    f"Archive {archive.number} does not continue archive {index - 1}.",
                    archive=archive.number,
                )
            )
        if not archive.verify_signature(keys):
            findings.append(_bad_archive(archive, "database record"))
        if previous is not None and archive.removed and not previous.removed:
            findings.append(
                Finding(
                    Damage.DELETED,
                    archive.first_seq,
                    f"Archive {archive.number} was removed while an earlier one was kept.",
                    archive=archive.number,
                )
            )
        previous = archive
    return findings


def _checkpoint_findings(checkpoints: list[Checkpoint], keys: TrustedKeys) -> list[Finding]:
    findings: list[Finding] = []
    previous: Checkpoint | None = None
    for index, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.number != index:
            findings.append(
                Finding(
                    Damage.DELETED,
                    (previous.tree_size if previous else 0) + 1,
                    f"Checkpoint {index} is missing (the checkpoints jump to {checkpoint.number}).",
                    checkpoint=index,
                )
            )
            break
        if not checkpoint.verify_signature(keys):
            known = keys.knows(checkpoint.key_id)
            findings.append(
                Finding(
                    Damage.BAD_SIGNATURE,
                    checkpoint.tree_size,
                    f"The signature of checkpoint {checkpoint.number} (tree size "
                    f"{checkpoint.tree_size}) is not valid"
                    + ("." if known else f": key {checkpoint.key_id} is not a trusted key."),
                    checkpoint=checkpoint.number,
                )
            )
        elif previous is not None and checkpoint.tree_size < previous.tree_size:
            findings.append(
                Finding(
                    Damage.DELETED,
                    checkpoint.tree_size + 1,
                    f"Checkpoint {checkpoint.number} vouches for fewer entries than checkpoint "
                    f"{previous.number}: the log was cut and regrown.",
                    checkpoint=checkpoint.number,
                )
            )
        previous = checkpoint
    return findings


def _cross_check(
    scanner: ChainScanner,
    checkpoints: list[Checkpoint],
    head: list[tuple[int, str] | None],
    checkpoint_entries: list[tuple[int, str, str]],
    current: list[Checkpoint],
) -> Finding | None:
    """After a clean pass: truncation, forgotten checkpoints, and the head row."""
    last_seq = scanner.next_seq - 1
    if checkpoints:
        widest = max(checkpoints, key=lambda c: c.tree_size)
        if widest.tree_size > last_seq:
            return Finding(
                Damage.DELETED,
                last_seq + 1,
                f"The log ends at entry {last_seq}, but checkpoint {widest.number} vouches for "
                f"{widest.tree_size} entries: entries {last_seq + 1} to {widest.tree_size} "
                "were deleted.",
                checkpoint=widest.number,
            )
    by_number = {c.number: c for c in current}
    for seq, outcome, text in checkpoint_entries:
        if outcome != "ok":
            continue
        try:
            details = json.loads(text)
            number = int(details["checkpoint"])
            size = int(details["tree_size"])
        except (ValueError, KeyError, TypeError):
            continue
        made = by_number.get(number)
        if made is None or made.tree_size != size or made.root_hash != checkpoint_root(details):
            return Finding(
                Damage.DELETED,
                size,
                f"Entry {seq} records checkpoint {number} (tree size {size}), which is no "
                "longer in the database.",
                checkpoint=number,
            )
    recorded = head[0] if head else None
    if recorded is None:
        if last_seq > 0 and head:
            return Finding(
                Damage.MODIFIED, last_seq, "The audit head row is missing: it was deleted."
            )
        return None
    head_seq, head_hash = recorded
    if head_seq > last_seq:
        return Finding(
            Damage.DELETED,
            last_seq + 1,
            f"The log ends at entry {last_seq} but the audit head says {head_seq}: the last "
            f"{head_seq - last_seq} entr{'y was' if head_seq - last_seq == 1 else 'ies were'} "
            "deleted.",
        )
    if head_seq < last_seq:
        return Finding(
            Damage.INSERTED,
            head_seq + 1,
            f"Entries {head_seq + 1} to {last_seq} lie beyond the audit head ({head_seq}): they "
            "were written into the table, not appended by Havre.",
        )
    if head_hash != scanner.prev_hash:
        return Finding(
            Damage.MODIFIED,
            head_seq,
            f"The audit head row was altered: its hash for entry {head_seq} is not the entry's.",
        )
    return None
