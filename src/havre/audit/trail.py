"""``AuditTrail``: the audit room's service — checkpoints, verification, proofs, search,
export, archives and public keys. Reading the trail is itself audited (it names people)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from havre.audit.actions import AuditAction
from havre.audit.archive import ArchiveFile, ArchiveRecord, list_archives
from havre.audit.archiver import check_before, write_archive
from havre.audit.checkpoints import (
    Checkpoint,
    Checkpointer,
    CheckpointPolicy,
    checkpoint_details,
    list_checkpoints,
)
from havre.audit.entry import AuditRecord, Target
from havre.audit.hygiene import PatientDataInAudit, check_details
from havre.audit.log import AuditLog
from havre.audit.merkle import Frontier, MerkleTree, leaf_hash
from havre.audit.models import AuditEntryRow
from havre.audit.proofs import consistency_document, inclusion_document
from havre.audit.query import AuditQuery, export_lines, search, seq_range
from havre.audit.rows import COLUMNS, EntryRow, read_batches
from havre.audit.scope import audited
from havre.audit.signing import Signer, TrustedKeys, require_keys
from havre.audit.verify import Verifier, VerifyReport
from havre.core.actor import Actor
from havre.core.config import Settings
from havre.core.errors import NotFoundError, PermissionDenied, StateError, UsageError
from havre.db.database import Database
from havre.keys import KeyStore

READERS = frozenset({"auditor", "admin"})
KEEPERS = frozenset({"admin"})


def audit_checkpointer(keys: KeyStore, settings: Settings) -> Checkpointer:
    """The checkpoint rule of a hub, from its settings."""
    policy = CheckpointPolicy(settings.audit_checkpoint_every, settings.audit_checkpoint_minutes)
    return Checkpointer(Signer(keys), policy)


@dataclass(frozen=True)
class ExportRange:
    first_seq: int
    last_seq: int

    @property
    def entries(self) -> int:
        return self.last_seq - self.first_seq + 1


class AuditTrail:
    def __init__(
        self, database: Database, log: AuditLog, keys: KeyStore, settings: Settings
    ) -> None:
        self.db = database
        self.log = log
        self.keys = keys
        self.settings = settings
        self.signer = Signer(keys)

    # -- keys and verification -------------------------------------------------------------
    def trusted_keys(self, public_key_file: Path | None = None) -> TrustedKeys:
        if public_key_file is not None:
            return require_keys(TrustedKeys.from_file(public_key_file))
        return require_keys(self.signer.trusted_keys())

    def public_keys(self) -> dict[str, Any]:
        return self.signer.trusted_keys().to_document()

    def verify(
        self, *, archive_files: Sequence[Path] = (), public_key_file: Path | None = None
    ) -> VerifyReport:
        return Verifier(self.db, self.trusted_keys(public_key_file)).run(archive_files)

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint(self, actor: Actor) -> Checkpoint:
        with audited(
            self.db, self.log, actor, AuditAction.CHECKPOINT, Target("audit_checkpoint")
        ) as scope:
            _require(actor, READERS | KEEPERS, "sign a checkpoint")
            made = self.log.checkpoint(scope.session)
            scope.target = Target("audit_checkpoint", str(made.number))
            scope.details = checkpoint_details(made, automatic=False)
        return made

    def checkpoints(self) -> list[Checkpoint]:
        with self.db.transaction() as session:
            return list_checkpoints(session)

    def archives(self) -> list[ArchiveRecord]:
        with self.db.transaction() as session:
            return list_archives(session)

    # -- proofs -----------------------------------------------------------------------------
    def inclusion_proof(
        self,
        actor: Actor,
        seq: int,
        *,
        checkpoint_number: int | None = None,
        archive_files: Sequence[Path] = (),
    ) -> dict[str, Any]:
        if not (actor.is_operator or actor.roles & READERS):
            with audited(
                self.db, self.log, actor, AuditAction.PROOF, Target("audit_entry", str(seq))
            ):
                _require(actor, READERS, "read audit entries")
        checkpoint = self._checkpoint_covering(seq, checkpoint_number)
        row = self._entry(seq, archive_files)
        tree = self._tree(checkpoint.tree_size, archive_files)
        if tree.root().hex() != checkpoint.root_hash:
            raise StateError(
                f"The log no longer matches checkpoint {checkpoint.number}.",
                hint="run 'havre audit verify'",
            )
        document = inclusion_document(row, tree.inclusion_path(seq - 1), checkpoint)
        # the entry is handed out only once its reading is on record
        with audited(
            self.db, self.log, actor, AuditAction.PROOF, Target("audit_entry", str(seq))
        ) as scope:
            scope.details = {"checkpoint": checkpoint.number, "tree_size": checkpoint.tree_size}
        return document

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        checkpoints = self.checkpoints()
        if not checkpoints:
            raise StateError("No checkpoint yet.", hint="run 'havre audit checkpoint'")
        if new_size is None:
            new = checkpoints[-1]
        else:
            matching = [c for c in checkpoints if c.tree_size == new_size]
            if not matching:
                raise NotFoundError(
                    f"No checkpoint has tree size {new_size}.",
                    hint="'havre audit checkpoints' lists them",
                )
            new = matching[-1]
        if not 1 <= old_size <= new.tree_size:
            raise UsageError(
                f"The old size must be between 1 and {new.tree_size} (the new checkpoint's size)."
            )
        tree = self._tree(new.tree_size, ())
        old = next((c for c in reversed(checkpoints) if c.tree_size == old_size), None)
        return consistency_document(
            old_size, tree.root(old_size), tree.consistency_proof(old_size), new, old
        )

    def _checkpoint_covering(self, seq: int, number: int | None) -> Checkpoint:
        checkpoints = self.checkpoints()
        if number is not None:
            chosen = next((c for c in checkpoints if c.number == number), None)
            if chosen is None:
                raise NotFoundError(f"No checkpoint number {number}.")
            if chosen.tree_size < seq:
                raise UsageError(
                    f"Checkpoint {number} covers entries 1 to {chosen.tree_size}, not {seq}."
                )
            return chosen
        covering = [c for c in checkpoints if c.tree_size >= seq]
        if not covering:
            with self.db.transaction() as session:
                size = self.log.size(session)
            if seq > size:
                raise NotFoundError(f"No audit entry {seq}: the log holds {size} entries.")
            raise StateError(
                f"Entry {seq} is newer than the latest checkpoint.",
                hint="run 'havre audit checkpoint' first",
            )
        return covering[-1]

    def _entry(self, seq: int, archive_files: Sequence[Path]) -> EntryRow:
        if seq < 1:
            raise UsageError("Sequence numbers start at 1.")
        with self.db.connect() as connection:
            found = connection.execute(select(*COLUMNS).where(AuditEntryRow.seq == seq)).first()
        if found is not None:
            return EntryRow._make(found)
        for path in archive_files:
            for row in ArchiveFile(path).rows():
                if row.seq == seq:
                    return row
        raise NotFoundError(
            f"No audit entry {seq}.",
            hint="archived entries need their archive file (--archive)",
        )

    def _tree(self, size: int, archive_files: Sequence[Path]) -> MerkleTree:
        """Leaves 1..size: from archive files and the database, or past the removed prefix."""
        leaves: list[bytes] = []
        prefix: Frontier | None = None
        removed = [a for a in self.archives() if a.removed]
        after = 0
        if removed:
            files = sorted(
                (ArchiveFile(p) for p in archive_files), key=lambda f: f.record.first_seq
            )
            if files:
                for item in files:
                    leaves.extend(leaf_hash(bytes.fromhex(r.entry_hash)) for r in item.rows())
                after = files[-1].record.last_seq
            else:
                prefix = removed[-1].frontier_tree()
                after = removed[-1].last_seq
            if after != removed[-1].last_seq:
                raise UsageError("The archive files do not cover every removed range.")
        with self.db.connect() as connection:
            for rows in read_batches(connection, after, 5000, until_seq=size):
                leaves.extend(leaf_hash(bytes.fromhex(r.entry_hash)) for r in rows)
        tree = MerkleTree(leaves, prefix)
        if tree.size < size:
            raise StateError(f"The log holds {tree.size} entries, fewer than {size}.")
        return tree

    # -- search and export ------------------------------------------------------------------
    def search(self, actor: Actor, query: AuditQuery) -> list[AuditRecord]:
        with audited(self.db, self.log, actor, AuditAction.SEARCH, Target("audit_log")) as scope:
            _require(actor, READERS, "search the audit trail")
            found = search(scope.session, query)
            scope.details = {"filters": _safe_filters(query), "results": len(found)}
        return found

    def export(
        self, actor: Actor, since: dt.datetime | None, until: dt.datetime | None
    ) -> tuple[ExportRange | None, Iterator[str]]:
        """Audit the export (range and count), then stream its lines in short transactions."""
        with audited(self.db, self.log, actor, AuditAction.EXPORT, Target("audit_log")) as scope:
            _require(actor, READERS, "export the audit trail")
            found = seq_range(scope.session.connection(), since, until)
            window = None if found is None else ExportRange(*found)
            scope.details = {
                "since": since,
                "until": until,
                "first_seq": None if window is None else window.first_seq,
                "last_seq": None if window is None else window.last_seq,
            }
        if window is None:
            return None, iter(())
        return window, self._export_lines(window)

    def _export_lines(self, window: ExportRange) -> Iterator[str]:
        with self.db.connect() as connection:
            yield from export_lines(connection, window.first_seq, window.last_seq)

    # -- retention --------------------------------------------------------------------------
    def archive(
        self, actor: Actor, before: dt.datetime, directory: Path, *, remove: bool = False
    ) -> ArchiveRecord:
        now = self.log.clock.now()
        with audited(
            self.db, self.log, actor, AuditAction.ARCHIVE, Target("audit_archive")
        ) as scope:
            _require(actor, KEEPERS, "archive the audit trail")
            check_before(before, now, self.settings.audit_retention_days)
            self.log.lock_head(scope.session)
            record = write_archive(
                scope.session, self.signer, directory, before, now, remove=remove
            )
            scope.target = Target("audit_archive", str(record.number))
            scope.details = {
                "archive": record.number,
                "first_seq": record.first_seq,
                "last_seq": record.last_seq,
                "entries": record.entry_count,
                "removed": record.removed,
                "file_sha256": record.file_sha256,
            }
        return record


def _require(actor: Actor, allowed: frozenset[str], what: str) -> None:
    """The trail names people: only those who watch the hub read it."""
    if actor.is_operator or actor.roles & allowed:
        return
    raise PermissionDenied(
        f"Only {', '.join(sorted(allowed))} (or the local operator) may {what}.",
        hint="ask an auditor",
    )


def _safe_filters(query: AuditQuery) -> dict[str, Any]:
    filters = query.filters()
    try:
        check_details({"filters": filters})
    except PatientDataInAudit:
        return {name: "withheld" for name in filters}
    return filters
