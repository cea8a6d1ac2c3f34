"""Steps 1 and 2: a synthetic population delivered as its sources would send it, then taken in
by a data steward — the opt-out register first, so objectors never enter the lake, then the
insurer's claims and the hospital group's FHIR export."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from havre.demo.cast import Cast
from havre.hub import Hub
from havre.synth import SynthOptions, generate

# a few dirty records (0.2 %) so that the quarantine has something to show
DIRTY_RATE = 0.002


@dataclass(frozen=True)
class PopulationFacts:
    folder: str
    persons: int
    seed: int
    rows: int
    files: int
    defects: int
    diabetics_at_end: int
    hospital_patients: int
    optout_rate: float
    dirty_rate: float
    seconds: float


@dataclass(frozen=True)
class SourceIntake:
    """One delivery ingested: its data version and every record accounted for."""

    source: str
    dataset: str
    version: int
    tables: dict[str, dict[str, int]]  # source table -> read, loaded, quarantined, ...
    total: dict[str, int]
    quarantine_by_reason: dict[str, int]
    unsupported: dict[str, int]
    lake_rows: dict[str, int]
    seconds: float
    records_per_second: float


@dataclass(frozen=True)
class OptOutFacts:
    lines: int
    added: int
    register_entries: int


@dataclass(frozen=True)
class Intake:
    optouts: OptOutFacts
    sources: list[SourceIntake] = field(default_factory=list)

    def source(self, kind: str) -> SourceIntake:
        return next(s for s in self.sources if s.source == kind)


def generate_population(folder: Path, persons: int, seed: int) -> PopulationFacts:
    started = time.perf_counter()
    manifest = generate(
        SynthOptions(persons=persons, seed=seed, out=folder, dirty_rate=DIRTY_RATE, force=True)
    )
    summary = manifest.summary()
    return PopulationFacts(
        folder=str(folder),
        persons=int(summary["persons"]),
        seed=seed,
        rows=int(summary["rows"]),
        files=len(summary["files"]),
        defects=int(summary["defects"]),
        diabetics_at_end=int(summary["diabetics_at_end"]),
        hospital_patients=int(summary["hospital_patients"]),
        optout_rate=float(summary["arguments"]["optout_rate"]),
        dirty_rate=DIRTY_RATE,
        seconds=time.perf_counter() - started,
    )


def ingest(hub: Hub, cast: Cast, folder: Path) -> Intake:
    """The data steward imports the opt-out register, then ingests both deliveries."""
    steward = cast.actor("steward")
    imported = hub.optouts.import_file(steward, folder / "optout" / "optout.csv")
    optouts = OptOutFacts(imported.lines, imported.added, hub.optouts.count_active())
    intake = Intake(optouts)
    for source in ("snds", "fhir"):
        result = hub.ingest.ingest(cast.actor("steward"), folder / source, source)
        facts: dict[str, Any] = result.to_dict()
        intake.sources.append(
            SourceIntake(
                source=source,
                dataset=result.dataset,
                version=result.version,
                tables=facts["reconciliation"]["tables"],
                total=facts["reconciliation"]["total"],
                quarantine_by_reason=dict(result.quarantine_by_reason),
                unsupported=dict(result.unsupported),
                lake_rows=dict(result.lake_rows),
                seconds=result.seconds,
                records_per_second=result.records_per_second,
            )
        )
    return intake
