"""The quarantine, for data stewards: what each ingest rejected, record by record.

Each data version keeps the records its ingest rejected (file, line, field, reason, and the
offending value unless the field is a direct identifier), encrypted under a key of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from havre.audit import AuditLog, Target, audited
from havre.core.actor import Actor
from havre.core.errors import UsageError
from havre.db import Database
from havre.ingest.access import require_steward
from havre.ingest.actions import IngestAction
from havre.ingest.reasons import DESCRIPTION, Reason
from havre.lake.store import Lake

if TYPE_CHECKING:
    import pyarrow.dataset as ds

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class QuarantineSummary:
    dataset: str
    version: int
    source: str
    created_at: str
    records: int
    by_reason: dict[str, int]
    by_table: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class QuarantinePage:
    dataset: str
    version: int
    total: int  # records matching the filters
    offset: int
    records: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Quarantine:
    def __init__(self, db: Database, audit: AuditLog, lake: Lake) -> None:
        self.db = db
        self.audit = audit
        self.lake = lake

    def summaries(self, actor: Actor, dataset: str | None = None) -> list[QuarantineSummary]:
        """One line per data version: how many records its ingest rejected, and why."""
        target = Target("quarantine", dataset)
        with audited(self.db, self.audit, actor, IngestAction.QUARANTINE_LIST, target) as scope:
            require_steward(actor, "read the quarantine")
            out = []
            for info in self.lake.versions(dataset):
                manifest = self.lake.open(info.dataset, info.version).manifest
                by_table = {
                    name: counts.quarantined
                    for name, counts in manifest.reconciliation.tables.items()
                    if counts.quarantined
                }
                out.append(
                    QuarantineSummary(
                        dataset=info.dataset,
                        version=info.version,
                        source=info.source_kind,
                        created_at=manifest.created_at,
                        records=manifest.quarantine.rows,
                        by_reason=dict(manifest.quarantine.by_reason),
                        by_table=by_table,
                    )
                )
            scope.details = {"versions": len(out)}
            return out

    def records(
        self,
        actor: Actor,
        dataset: str,
        version: int | None = None,
        *,
        reason: str | None = None,
        table: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> QuarantinePage:
        """The rejected records of a version (the latest by default), filtered and paged."""
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise UsageError(f"--limit must be 1..{MAX_LIMIT} and --offset at least 0.")
        if reason is not None and reason not in {r.value for r in Reason}:
            raise UsageError(
                f"Unknown reason '{reason}'.", hint=f"one of: {', '.join(r.value for r in Reason)}"
            )
        target = Target("quarantine", dataset)
        with audited(self.db, self.audit, actor, IngestAction.QUARANTINE_SHOW, target) as scope:
            require_steward(actor, "read the quarantine")
            opened = self.lake.open(dataset, version)
            data = opened.quarantine()
            condition: ds.Expression | None = None
            if reason is not None:
                condition = pc.field("reason") == reason
            if table is not None:
                by_table = pc.field("source_table") == table
                condition = by_table if condition is None else condition & by_table
            rows = data.to_table(filter=condition) if condition is not None else data.to_table()
            page = rows.slice(offset, limit).to_pylist()
            for row in page:
                row["description"] = DESCRIPTION.get(Reason(row["reason"]), "")
            scope.target = Target("quarantine", opened.info.label)
            scope.details = {
                "version": opened.info.version,
                "shown": len(page),
                "total": rows.num_rows,
            }
            return QuarantinePage(dataset, opened.info.version, rows.num_rows, offset, page)
