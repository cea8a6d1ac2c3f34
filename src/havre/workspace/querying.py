"""Queries in a project's sandbox: who may, what may run, what may come back.

Order of a query: justification, permit (``require_access``: named, active, unexpired), the
workspace built under that permit version, screening of the SQL, the aggregate analysis for
aggregate-only permits, the run (loaded workspace from the cache, time/memory/row limits),
the threshold. Refusals are audited ``denied`` with the SQL's hash.

A query that runs has two audit entries (docs/workspace.md, "What the audit log keeps of a
query"): its start (``workspace.query_start``: who, why, which SQL, permit and workspace
version), written on the database's writing thread while the query runs, and its outcome
(``workspace.query``: the shape of the result, or the error). The result is handed back only
once the start entry is committed and the permit is checked again: a permit suspended while
the query ran releases nothing. In the steady state the outcome entry is then written on the
writing thread, after the result is on its way (with the checkpoint, when one is due);
otherwise (the permit is not kept at the counter: the governance changed meanwhile) it is
committed first, in a transaction that checks the permit once more, as any failure is.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pyarrow as pa

from havre.audit import AuditScope, audited
from havre.audit.log import PendingEntry
from havre.core.actor import Actor
from havre.core.errors import (
    AuthenticationError,
    HavreError,
    KeyStoreError,
    PermissionDenied,
    StateError,
)
from havre.core.hashing import sha256_text
from havre.db import changes
from havre.disclosure.policy import aggregate_threshold
from havre.governance.projects import AccessLevel, Permit, workspace_key_name
from havre.keys.parquet import ParquetCrypto
from havre.workspace import reference, registry
from havre.workspace.actions import WorkspaceAction
from havre.workspace.aggregate import PERSONS_COLUMN, plan_aggregate
from havre.workspace.base import WorkspaceBase, workspace_target
from havre.workspace.cache import Entry
from havre.workspace.journal import QueryJournal
from havre.workspace.models import WorkspaceVersionRow
from havre.workspace.results import QueryResult
from havre.workspace.sandbox import Limits, QueryStopped, SandboxDatabase
from havre.workspace.screen import QueryRefused

ACTION = WorkspaceAction.QUERY
STARTED = WorkspaceAction.QUERY_START
log = logging.getLogger(__name__)
# refusals after which a project's loaded workspace must not stay in memory
ACCESS_ENDED = (PermissionDenied, AuthenticationError, StateError)


def sandbox_tables(permit: Permit) -> set[str]:
    """What a query may name: the permitted tables and the public reference tables."""
    return {t.name for t in permit.tables} | set(reference.REFERENCE_TABLES)


class QueryingMixin(WorkspaceBase):
    def query(
        self, actor: Actor, project_id: str, sql: str, *, max_rows: int | None = None
    ) -> QueryResult:
        """Run one researcher query in the project's sandbox (see the module docstring)."""
        digest = sha256_text(sql)
        details: dict[str, Any] = {"sql_sha256": digest, "sql_chars": len(sql)}
        self._require_justification(actor, ACTION, project_id)
        try:
            result = self._run(actor, project_id, sql, digest, max_rows, details)
        except Exception as error:
            self._failed(actor, ACTION, project_id, details, error)
            raise
        outcome = {
            **details,
            "rows": result.table.num_rows,
            "columns": result.table.num_columns,
            "truncated": result.truncated,
            "suppressed_rows": result.suppressed_rows,
            "rules": list(result.rules_fired),
            "cold": result.cold_load_seconds is not None,
            "seconds": round(result.seconds, 3),
        }
        if self._still_allowed(actor, project_id):
            self.db.background.submit(lambda: self._write_outcome(actor, project_id, outcome))
        else:
            self._complete(actor, project_id, outcome)
        return result

    def _start(self, actor: Actor, project_id: str, details: dict[str, Any]) -> Future[None]:
        """The start entry of an admitted query, written on the database's writing thread
        (``havre.db.background``) while the query runs."""
        entry = _entry(actor, STARTED, project_id, dict(details))
        return self.db.background.submit(lambda: self.audit.write(self.db, entry))

    def _still_allowed(self, actor: Actor, project_id: str) -> bool:
        """The permit checked again from what was read at the counter as it stands now,
        reading nothing else; False when that cannot tell (the completion then reads and
        checks it in its own transaction)."""
        try:
            counter = changes.counter_now(self.db)
            return self.permits.kept_access(actor, project_id, counter) is not None
        except HavreError:
            return False

    def _write_outcome(self, actor: Actor, project_id: str, details: dict[str, Any]) -> None:
        """The outcome entry of a query whose result was handed back (on the writing thread).
        Should it fail, the start entry stands for the query: the error is logged."""
        try:
            self.audit.write(self.db, _entry(actor, ACTION, project_id, details))
        except Exception:
            log.exception("the outcome entry of a query in project %s was not written", project_id)

    def _complete(self, actor: Actor, project_id: str, details: dict[str, Any]) -> None:
        """The completion of a query whose permit is no longer kept at the counter (the
        governance changed while it ran): access read and checked again under the write lock,
        the entry committed, or nothing is handed back."""
        with self._recording(actor, ACTION, project_id) as scope:
            scope.details = details

    def _failed(
        self,
        actor: Actor,
        action: WorkspaceAction,
        project_id: str,
        details: dict[str, Any],
        error: BaseException,
    ) -> None:
        """A use that failed: the loaded workspace goes when access ended; the failure is
        audited."""
        if _ends_access(error):
            self.cache.evict(project_id)
        self._record_failure(actor, action, project_id, details, error)

    @contextlib.contextmanager
    def _recording(
        self, actor: Actor, action: WorkspaceAction, project_id: str
    ) -> Iterator[AuditScope]:
        """The audited scope of a completed use; access is checked again inside it, and the
        loaded workspace goes if it ended meanwhile."""
        try:
            with audited(
                self.db,
                self.audit,
                actor,
                action,
                workspace_target(project_id),
                justification_required=True,
                project_id=project_id,
            ) as scope:
                session = scope.session
                counter = changes.counter(session)
                self.permits.require_access(actor, project_id, session=session, counter=counter)
                yield scope
        except ACCESS_ENDED:
            self.cache.evict(project_id)
            raise

    def _admit(
        self, actor: Actor, project_id: str, sql: str, details: dict[str, Any]
    ) -> tuple[Permit, WorkspaceVersionRow]:
        """The permit in force and the usable workspace version, and the query screened
        against what the sandbox holds (the permitted tables and the reference tables)."""
        counter = changes.counter_now(self.db)  # one statement when nothing changed
        permit = self.permits.require_access(actor, project_id, counter=counter)
        details.update(permit_version=permit.version, access_level=permit.access_level.value)
        row = self._usable(project_id, permit, self._current_version(project_id, counter))
        details["workspace_version"] = row.version
        self.screener.screen(sql, sandbox_tables(permit))
        return permit, row

    def _current_version(self, project_id: str, counter: int) -> WorkspaceVersionRow | None:
        """The registry's current version, as read at ``counter`` (``havre.db.changes``)."""
        kept = self._versions.get(counter, project_id)
        if kept is not None:
            return kept[0]
        with self.db.reading() as session:
            row = registry.current(session, project_id)
        self._versions.put(counter, project_id, (row,))
        return row

    def _loaded(
        self, project_id: str, permit: Permit, row: WorkspaceVersionRow
    ) -> tuple[Entry, bool]:
        """The loaded workspace of the admitted version (loaded now if it was not; the bool
        says so), cached by project, workspace version and permit version."""
        return self.cache.get(
            (project_id, row.version, permit.version), lambda: self._load(project_id, row)
        )

    def _run(
        self,
        actor: Actor,
        project_id: str,
        sql: str,
        digest: str,
        max_rows: int | None,
        details: dict[str, Any],
    ) -> QueryResult:
        permit, row = self._admit(actor, project_id, sql, details)
        cap = self.settings.query_max_rows
        if max_rows is not None:
            cap = max(1, min(max_rows, cap))
        entry, loaded = self._loaded(project_id, permit, row)
        aggregate_only = permit.access_level is AccessLevel.AGGREGATE_ONLY
        run_sql = sql
        if aggregate_only:
            run_sql = plan_aggregate(sql, entry.frozen_schema).sql
            self.screener.screen(run_sql, sandbox_tables(permit))
        started = self._start(actor, project_id, details)
        try:
            raw = entry.database.run(run_sql, max_rows=cap, quote_errors=not aggregate_only)
            self.journal(project_id).record(sql, digest)
        finally:
            started.result()  # committed before anything is handed back (or its error raised)
        table, suppressed, threshold = raw.table, 0, None
        rules: tuple[str, ...] = ()
        if aggregate_only:
            threshold = aggregate_threshold(self.settings, permit.dataset, permit.project_id)
            table, suppressed = apply_threshold(raw.table, threshold)
            rules = ("threshold",) if suppressed else ()
        return QueryResult(
            table=table,
            project_id=project_id,
            workspace_version=row.version,
            access_level=permit.access_level.value,
            sql_sha256=digest,
            truncated=raw.truncated,
            max_rows=cap,
            suppressed_rows=suppressed,
            threshold=threshold,
            rules_fired=rules,
            seconds=raw.seconds,
            cold_load_seconds=entry.load_seconds if loaded else None,
        )

    @staticmethod
    def _usable(
        project_id: str, permit: Permit, row: WorkspaceVersionRow | None
    ) -> WorkspaceVersionRow:
        if row is None:
            raise StateError(
                f"Project {project_id} has no workspace yet.",
                hint="build it: havre workspace build --project " + project_id,
            )
        if row.permit_version != permit.version:
            raise StateError(
                f"The workspace of project {project_id} was built under permit "
                f"v{row.permit_version}; the permit in force is v{permit.version}.",
                hint="refresh the workspace: havre workspace refresh --project " + project_id,
            )
        return row

    def _load(self, project_id: str, row: WorkspaceVersionRow) -> SandboxDatabase:
        label = f"{project_id}@v{row.version}"
        if not self._key_readable(project_id):
            # read from the keyring file, not a cache: another process may have closed it
            raise KeyStoreError(
                f"The key of workspace {label} was destroyed: it can no longer be read.",
                hint="the project was closed; its workspace can only be purged",
            )
        manifest = self.files.read_manifest(row.path, row.manifest_sha256, label)
        crypto = ParquetCrypto(self.keys)
        limits = Limits(
            timeout_seconds=self.settings.query_timeout_seconds,
            memory_limit=self.settings.query_memory_limit,
            threads=self.settings.duckdb_threads,
            max_rows=self.settings.query_max_rows,
        )
        try:
            readers = []
            for table in manifest.tables:
                handle = self.files.open_file(row.path, table.file, crypto, label)
                readers.append(
                    (
                        table.name,
                        pa.RecordBatchReader.from_batches(
                            handle.schema_arrow, handle.iter_batches(batch_size=1 << 16)
                        ),
                    )
                )
            return SandboxDatabase([*readers, *reference.readers()], limits)
        finally:
            crypto.clear_cache()

    def journal(self, project_id: str) -> QueryJournal:
        folder = self.files.project_dir(project_id) / "journal"
        return QueryJournal(folder, self.keys, workspace_key_name(project_id))

    def loaded(self) -> list[tuple[str, int, int]]:
        """What the cache holds now: (project, workspace version, permit version)."""
        return self.cache.keys()


def apply_threshold(table: pa.Table, threshold: int) -> tuple[pa.Table, int]:
    """Rows standing for fewer than ``threshold`` persons (or an unknown number) are withheld;
    the persons column the analysis added is dropped. Returns the table and how many rows
    were withheld."""
    # compared in NumPy (a NULL count is NaN there, never kept): right after a query, on a
    # result of a few rows, Arrow's compute kernels took ~0.3 ms, their code cold in the caches
    persons = table.column(PERSONS_COLUMN).to_numpy(zero_copy_only=False)
    keep = persons >= threshold
    rest = table.drop_columns([PERSONS_COLUMN])
    if keep.all():
        return rest, 0
    kept = rest.filter(pa.array(keep))
    return kept, table.num_rows - kept.num_rows


def _ends_access(error: BaseException) -> bool:
    """A refusal of the person or the permit (not of the query itself)."""
    return isinstance(error, ACCESS_ENDED) and not isinstance(error, QueryRefused | QueryStopped)


def _entry(
    actor: Actor, action: WorkspaceAction, project_id: str, details: dict[str, Any]
) -> PendingEntry:
    """An audit entry about a project's workspace."""
    return PendingEntry(
        actor, action, workspace_target(project_id), details=details, project_id=project_id
    )
