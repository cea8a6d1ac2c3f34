"""Archiving old entries to a signed file, and (on request) removing them from the database.

Only entries older than the retention (``audit_retention_days``, at least a year) may be
archived. The range is checked as a chain before it is written; the file is written and
synced before the record is committed. With ``remove``, the entries are deleted in the same
transaction that records the archive (the triggers allow deleting exactly the ranges of a
removed archive record, nothing else) and the ``audit.archive`` entry says so: removal is
an audited, verifiable step, and the chain after the range verifies from the archive's
signed last hash and Merkle frontier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from havre.audit.archive import ArchiveRecord, list_archives
from havre.audit.checkpoints import hub_origin, tree_frontier
from havre.audit.entry import GENESIS_HASH
from havre.audit.models import AuditArchiveRow, AuditEntryRow
from havre.audit.rows import read_batches, to_dict
from havre.audit.scan import ChainScanner, scan_entries
from havre.audit.signing import Signer
from havre.core.canonical import canonical_text
from havre.core.errors import IntegrityError, PermissionDenied, StateError, UsageError

BATCH = 5000


def archivable_until(session: Session, first: int, before: dt.datetime) -> int | None:
    """The last seq of the run from ``first`` whose entries are all older than ``before``."""
    newer = session.execute(
        select(func.min(AuditEntryRow.seq)).where(
            AuditEntryRow.seq >= first, AuditEntryRow.ts >= before
        )
    ).scalar()
    top = session.execute(select(func.max(AuditEntryRow.seq))).scalar()
    if top is None:
        return None
    last = int(newer) - 1 if newer is not None else int(top)
    return last if last >= first else None


def write_archive(
    session: Session,
    signer: Signer,
    directory: Path,
    before: dt.datetime,
    now: dt.datetime,
    *,
    remove: bool,
) -> ArchiveRecord:
    """Archive every not yet archived entry older than ``before``; the caller holds the head
    lock and audits the action."""
    archives = list_archives(session)
    previous = archives[-1] if archives else None
    if remove and any(not a.removed for a in archives):
        raise StateError(
            "Earlier archives kept their entries in the database; a later one cannot remove "
            "its range (the database would hold a hole).",
            hint="archive without --remove",
        )
    first = previous.last_seq + 1 if previous else 1
    last = archivable_until(session, first, before)
    if last is None:
        raise StateError(
            f"No entry older than {before.date().isoformat()} is left to archive "
            f"(archived so far: up to entry {first - 1})."
        )
    number = previous.number + 1 if previous else 1
    prev_hash = previous.last_hash if previous else GENESIS_HASH
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"audit-archive-{number:05d}-{first}-{last}.jsonl"
    if final.exists():
        raise StateError(f"{final} already exists.", hint="move it away or choose --out")
    temporary = final.with_suffix(".jsonl.part")
    scanner = ChainScanner(first, prev_hash)
    digest = hashlib.sha256()
    try:
        with temporary.open("wb") as handle:
            connection = session.connection()
            for rows in read_batches(connection, first - 1, BATCH, until_seq=last):
                if not scan_entries(scanner, rows):
                    assert scanner.finding is not None
                    raise IntegrityError(
                        "Refusing to archive a damaged range: " + scanner.finding.message,
                        hint="run 'havre audit verify'",
                    )
                for row in rows:
                    line = json.dumps(to_dict(row), ensure_ascii=False, separators=(",", ":"))
                    data = (line + "\n").encode("utf-8")
                    digest.update(data)
                    handle.write(data)
            if scanner.next_seq != last + 1:
                raise IntegrityError(f"Entries {scanner.next_seq} to {last} are missing.")
            frontier = tree_frontier(session, last)
            version = signer.active_version()
            unsigned = ArchiveRecord(
                number=number,
                first_seq=first,
                last_seq=last,
                entry_count=last - first + 1,
                prev_hash=prev_hash,
                last_hash=scanner.prev_hash,
                root_hash=frontier.root().hex(),
                frontier=tuple(frontier.to_hex()),
                removed=remove,
                created_at=now,
                origin=hub_origin(session),
                key_name=signer.key_name,
                key_version=version,
                signature="",
                file_name=final.name,
            )
            signature = signer.sign(unsigned.message(), version).value
            trailer = json.dumps(
                {"archive": unsigned.statement(), "signature": signature},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            data = (trailer + "\n").encode("utf-8")
            digest.update(data)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        record = ArchiveRecord(
            **{**unsigned.__dict__, "signature": signature, "file_sha256": digest.hexdigest()}
        )
        _record(session, record)
        if remove:
            _remove(session, first, last)
    except BaseException:
        temporary.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    return record


def _record(session: Session, record: ArchiveRecord) -> None:
    session.add(
        AuditArchiveRow(
            number=record.number,
            first_seq=record.first_seq,
            last_seq=record.last_seq,
            entry_count=record.entry_count,
            prev_hash=record.prev_hash,
            last_hash=record.last_hash,
            root_hash=record.root_hash,
            frontier=canonical_text(list(record.frontier)),
            file_name=record.file_name,
            file_sha256=record.file_sha256,
            removed=record.removed,
            created_at=record.created_at,
            origin=record.origin,
            key_name=record.key_name,
            key_version=record.key_version,
            signature=record.signature,
        )
    )
    session.flush()


def _remove(session: Session, first: int, last: int) -> None:
    try:
        session.execute(
            delete(AuditEntryRow).where(AuditEntryRow.seq >= first, AuditEntryRow.seq <= last)
        )
    except DBAPIError as exc:
        if "permission denied" in str(exc.orig).lower():
            raise PermissionDenied(
                "This database role may not delete audit entries (it may only insert and read "
                "them).",
                hint="run 'havre audit archive --remove' with the database owner's URL "
                "(HAVRE_DATABASE_URL), or archive without --remove",
            ) from None
        raise


def check_before(before: dt.datetime, now: dt.datetime, retention_days: int) -> None:
    oldest_allowed = now - dt.timedelta(days=retention_days)
    if before > oldest_allowed:
        raise UsageError(
            f"Entries are kept online for {retention_days} days: --before may be at most "
            f"{oldest_allowed.date().isoformat()}.",
            hint="HAVRE_AUDIT_RETENTION_DAYS sets the retention (at least 366 days)",
        )
