"""Archive files: a signed copy of a contiguous range of entries.

One JSON line per entry (its content and both hashes, as ``havre audit export`` writes
them), then a last line ``{"archive": statement, "signature": hex}``. The statement names the
range, the hash before its first entry and of its last one, and the Merkle frontier at its
end, so that the entries after it still verify (chain and tree) once the range has been
removed from the database, and the file alone proves what the range held.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit.merkle import Frontier
from havre.audit.models import AuditArchiveRow
from havre.audit.rows import EntryRow, from_dict
from havre.audit.scan import ChainScanner, scan_entries
from havre.audit.signing import TrustedKeys, key_id
from havre.core.canonical import canonical_json
from havre.core.clock import as_utc, isoformat
from havre.core.errors import IntegrityError, UsageError

ARCHIVE_FORMAT = "havre-audit-archive/1"


@dataclass(frozen=True)
class ArchiveRecord:
    number: int
    first_seq: int
    last_seq: int
    entry_count: int
    prev_hash: str
    last_hash: str
    root_hash: str
    frontier: tuple[str, ...]
    removed: bool
    created_at: dt.datetime
    origin: str
    key_name: str
    key_version: int
    signature: str
    file_name: str = ""
    file_sha256: str = ""

    @property
    def key_id(self) -> str:
        return key_id(self.key_name, self.key_version)

    def statement(self) -> dict[str, Any]:
        return {
            "format": ARCHIVE_FORMAT,
            "origin": self.origin,
            "number": self.number,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "entry_count": self.entry_count,
            "prev_hash": self.prev_hash,
            "last_hash": self.last_hash,
            "root_hash": self.root_hash,
            "frontier": list(self.frontier),
            "removed": self.removed,
            "time": isoformat(self.created_at),
            "key": self.key_id,
        }

    def message(self) -> bytes:
        return canonical_json(self.statement())

    def verify_signature(self, keys: TrustedKeys) -> bool:
        return keys.verify(self.key_id, self.message(), self.signature)

    def frontier_tree(self) -> Frontier:
        """The Merkle frontier at ``last_seq``; raises when it does not fold to the root."""
        try:
            frontier = Frontier.from_hex(self.last_seq, self.frontier)
        except (UsageError, ValueError):
            frontier = None
        if frontier is None or frontier.root().hex() != self.root_hash:
            raise IntegrityError(
                f"Archive {self.number}'s Merkle frontier does not match its root."
            )
        return frontier

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.statement(),
            "signature": self.signature,
            "file_name": self.file_name,
            "file_sha256": self.file_sha256,
        }

    @classmethod
    def from_statement(cls, data: dict[str, Any], signature: str) -> ArchiveRecord:
        try:
            if data["format"] != ARCHIVE_FORMAT:
                raise ValueError(f"format {data['format']!r}")
            name, _, version = str(data["key"]).rpartition("@")
            return cls(
                number=int(data["number"]),
                first_seq=int(data["first_seq"]),
                last_seq=int(data["last_seq"]),
                entry_count=int(data["entry_count"]),
                prev_hash=str(data["prev_hash"]),
                last_hash=str(data["last_hash"]),
                root_hash=str(data["root_hash"]),
                frontier=tuple(str(x) for x in data["frontier"]),
                removed=bool(data["removed"]),
                created_at=dt.datetime.fromisoformat(str(data["time"])),
                origin=str(data["origin"]),
                key_name=name,
                key_version=int(version),
                signature=signature,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"An archive statement is malformed ({exc}).") from None

    @classmethod
    def from_row(cls, row: AuditArchiveRow) -> ArchiveRecord:
        return cls(
            number=int(row.number),
            first_seq=int(row.first_seq),
            last_seq=int(row.last_seq),
            entry_count=int(row.entry_count),
            prev_hash=row.prev_hash,
            last_hash=row.last_hash,
            root_hash=row.root_hash,
            frontier=tuple(_json_list(row.frontier)),
            removed=bool(row.removed),
            created_at=as_utc(row.created_at),
            origin=row.origin,
            key_name=row.key_name,
            key_version=int(row.key_version),
            signature=row.signature,
            file_name=row.file_name,
            file_sha256=row.file_sha256,
        )


def _json_list(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(x) for x in value] if isinstance(value, list) else []


def list_archives(session: Session) -> list[ArchiveRecord]:
    rows = session.execute(select(AuditArchiveRow).order_by(AuditArchiveRow.number)).scalars()
    return [ArchiveRecord.from_row(row) for row in rows]


class ArchiveFile:
    """An archive file on disk: its signed trailer, and its entries streamed line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise UsageError(f"Archive file {path} does not exist.")
        self.record = self._trailer()

    def _trailer(self) -> ArchiveRecord:
        with self.path.open("rb") as handle:
            handle.seek(0, 2)
            end = handle.tell()
            handle.seek(max(0, end - 65536))
            tail = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            trailer = json.loads(tail)
            record = ArchiveRecord.from_statement(trailer["archive"], str(trailer["signature"]))
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f"{self.path} is not a Havre audit archive (its last line is not a signed "
                "archive statement)."
            ) from None
        return record

    def rows(self) -> Iterator[EntryRow]:
        with self.path.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                data = json.loads(line)
                if "archive" in data and "signature" in data:
                    return
                try:
                    yield from_dict(data)
                except (KeyError, TypeError, ValueError):
                    raise UsageError(f"{self.path} line {number} is not an audit entry.") from None


@dataclass
class ArchiveCheck:
    ok: bool
    number: int
    first_seq: int
    last_seq: int
    entries: int
    checks: dict[str, bool]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_archive_file(path: Path, keys: TrustedKeys) -> ArchiveCheck:
    """An archive file on its own: signature, chain from its signed first link to its signed
    last hash, entry count, and (for the first archive) the signed Merkle frontier."""
    item = ArchiveFile(path)
    record = item.record
    frontier = Frontier() if record.first_seq == 1 else None
    scanner = ChainScanner(record.first_seq, record.prev_hash, frontier)
    scan_entries(scanner, item.rows())
    checks = {
        "signature": record.verify_signature(keys),
        "chain": scanner.finding is None,
        "range": scanner.next_seq == record.last_seq + 1,
        "entry_count": scanner.entries == record.entry_count,
        "last_hash": scanner.prev_hash == record.last_hash,
    }
    if frontier is not None:
        checks["merkle_frontier"] = frontier.to_hex() == list(record.frontier)
    ok = all(checks.values())
    if ok:
        message = (
            f"Archive {record.number}: entries {record.first_seq} to {record.last_seq} verify, "
            f"signed with {record.key_id}."
        )
    elif scanner.finding is not None:
        message = f"Archive {record.number}: {scanner.finding.message}"
    else:
        failed = ", ".join(name for name, good in checks.items() if not good)
        message = f"Archive {record.number} does not hold: {failed}."
    return ArchiveCheck(
        ok, record.number, record.first_seq, record.last_seq, scanner.entries, checks, message
    )
