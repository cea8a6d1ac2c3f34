"""The catalog: what the lake holds — datasets, versions, tables, row counts, the data
dictionary (column descriptions and identifier tags), coverage, and data quality. Read from
the manifests only: listing the catalog touches no record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from havre.lake.manifest import Counts, Manifest, QualityResult


@dataclass(frozen=True)
class QualitySummary:
    checks: int
    passed: int
    failed: int
    by_category: dict[str, dict[str, int]]
    failures: tuple[QualityResult, ...]

    @classmethod
    def of(cls, results: tuple[QualityResult, ...]) -> QualitySummary:
        by_category: dict[str, dict[str, int]] = {}
        for result in results:
            entry = by_category.setdefault(result.category, {"passed": 0, "failed": 0})
            entry["passed" if result.passed else "failed"] += 1
        failures = tuple(r for r in results if not r.passed)
        return cls(len(results), len(results) - len(failures), len(failures), by_category, failures)


@dataclass(frozen=True)
class CatalogEntry:
    """One data version as the catalog shows it."""

    dataset: str
    version: int
    latest: bool
    created_at: dt.datetime
    description: str
    source_kind: str
    source_name: str
    counts: Counts
    coverage_start: str | None
    coverage_end: str | None
    pseudonym_scheme: str
    manifest: Manifest = field(repr=False)

    @property
    def quality(self) -> QualitySummary:
        return QualitySummary.of(self.manifest.quality)

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        quality = self.quality
        data: dict[str, Any] = {
            "dataset": self.dataset,
            "version": self.version,
            "latest": self.latest,
            "created_at": self.created_at,
            "description": self.description,
            "source": self.source_kind,
            "source_name": self.source_name,
            "records": self.counts.model_dump(),
            "coverage": {"start": self.coverage_start, "end": self.coverage_end},
            "pseudonym_scheme": self.pseudonym_scheme,
            "tables": {t.name: t.rows for t in self.manifest.tables},
            "quality": {
                "checks": quality.checks,
                "passed": quality.passed,
                "failed": quality.failed,
                "by_category": quality.by_category,
            },
        }
        if details:
            data["dictionary"] = [
                {
                    "table": t.name,
                    "description": t.description,
                    "rows": t.rows,
                    "columns": [c.model_dump(mode="json") for c in t.columns],
                }
                for t in self.manifest.tables
            ]
            data["quality"]["results"] = [
                {**r.model_dump(mode="json"), "violating_pct": round(r.violating_pct, 3)}
                for r in self.manifest.quality
            ]
            data["quarantine"] = {
                "rows": self.manifest.quarantine.rows,
                "by_reason": self.manifest.quarantine.by_reason,
            }
            data["lineage"] = self.manifest.lineage.model_dump(mode="json")
        return data
