"""What an ingest reports: the version made (or found), reconciliation, quarantine summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from havre.lake.manifest import Counts, Reconciliation


@dataclass(frozen=True)
class IngestResult:
    dataset: str
    version: int
    created: bool  # False: the same delivery was ingested before, nothing new was made
    source_kind: str
    source_name: str
    delivery_sha256: str
    reconciliation: Reconciliation
    quarantine_by_reason: dict[str, int]
    unsupported: dict[str, int] = field(default_factory=dict)
    lake_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    # (step, wall seconds): where the run's time went, in the order of the steps
    timings: tuple[tuple[str, float], ...] = ()

    @property
    def total(self) -> Counts:
        return self.reconciliation.total

    @property
    def records_per_second(self) -> float:
        """Records read per second of this run: 0 when nothing new was made (the delivery was
        recognized by its content hash and no record was read; the counts are its version's)."""
        if not self.created or self.seconds <= 0:
            return 0.0
        return self.total.read / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "created": self.created,
            "source": self.source_kind,
            "source_name": self.source_name,
            "delivery_sha256": self.delivery_sha256,
            "reconciliation": {
                "tables": {k: v.model_dump() for k, v in self.reconciliation.tables.items()},
                "total": self.reconciliation.total.model_dump(),
            },
            "quarantine_by_reason": dict(self.quarantine_by_reason),
            "unsupported": dict(self.unsupported),
            "lake_rows": dict(self.lake_rows),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "notes": list(self.notes),
            "timings": [
                {"step": step, "seconds": round(seconds, 3)} for step, seconds in self.timings
            ],
        }
