"""The state of one ingest run, shared by the pipeline and the reader."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from havre.core.config import Settings
from havre.core.errors import DataValidationError
from havre.ingest.ids import MAX_LINES, RecordIds
from havre.ingest.model import Delivery, ResolvedTable
from havre.lake.engine import Engine
from havre.pseudo.scheme import PseudonymScheme

Progress = Callable[[str, int, int], None]  # (stage, done, total) — bytes or steps


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class ByteCounter:
    """Turns the byte increments of a file reader into a stage's running total."""

    def __init__(self, report: Progress, stage: str, total: int) -> None:
        self.report = report
        self.stage = stage
        self.total = total
        self.done = 0

    def __call__(self, increment: int) -> None:
        self.done += increment
        self.report(self.stage, self.done, self.total)


@dataclass
class IngestContext:
    engine: Engine
    settings: Settings
    delivery: Delivery
    source_name: str
    scheme: PseudonymScheme  # the hub pseudonym scheme (NIR or OMOP)
    today: dt.date
    progress: Progress = _quiet
    # filled by the reader
    tables: dict[str, ResolvedTable] = field(default_factory=dict)
    read_counts: dict[str, int] = field(default_factory=dict)
    file_reads: dict[int, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # lake table -> SQL (exact schema)
    # lake tables whose query is written with each join's smaller side on its right: the
    # engine builds the hash table there (``joins_as_written``) instead of trusting its guess
    joins_as_written: set[str] = field(default_factory=set)
    # the processing steps done, for the version's lineage, each with its wall seconds (since
    # the step before it, or since the run's start)
    timings: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unsupported: dict[str, int] = field(default_factory=dict)
    # per run secret: record ids in the lake cannot be traced back to source positions
    ids: RecordIds = field(default_factory=RecordIds)
    _counter: int = 0
    _mark: float = field(default_factory=time.perf_counter)

    @property
    def latest(self) -> dt.date:
        """The last day an event of the delivery can fall on: the day before it was
        extracted (an extraction at midnight holds nothing of that day), else today."""
        extracted = self.delivery.extracted_at
        if extracted is None:
            return self.today
        return min(self.today, (extracted - dt.timedelta(microseconds=1)).date())

    @property
    def today_iso(self) -> str:
        """The upper bound of dates in checks (see ``latest``)."""
        return self.latest.isoformat()

    def register(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        self.engine.register(name, data)

    def execute(self, statement: str) -> None:
        self.engine.execute(statement)

    def add_table(self, table: ResolvedTable) -> None:
        self.tables[table.name] = table

    def note_unlinked(self, unlinked: dict[str, str], what: str) -> None:
        """Records loaded without a link they named (the link is optional, what it names was
        not loaded): never silently. ``unlinked``: per table, a query counting them
        (``SELECT count(*) ...``); one statement for all, a note for each table with any."""
        if not unlinked:
            return
        tables = list(unlinked)
        counts = " UNION ALL ".join(
            f"SELECT {number} AS t, n FROM ({query}) AS q(n)"
            for number, query in enumerate(unlinked.values())
        )
        found = self.engine.sql(f"SELECT t, n FROM ({counts}) WHERE n > 0 ORDER BY t")
        for row in found.to_pylist():
            self.notes.append(
                f"{tables[row['t']]}: {row['n']} record(s) name {what} that nothing loaded from "
                "this delivery is (absent from it, quarantined, an objector's, or another "
                "person's): loaded without that link"
            )

    def add_read(self, table: str, count: int, file_id: int | None = None) -> None:
        """Records read, counted as they are read (independently of any later SQL)."""
        if count > MAX_LINES:
            name = self.delivery.file(file_id).name if file_id is not None else table
            raise DataValidationError(
                f"{name}: {count} records; a file holds at most {MAX_LINES}.",
                hint="split the file in several files of the same table",
            )
        self.read_counts[table] = self.read_counts.get(table, 0) + count
        if file_id is not None:
            self.file_reads[file_id] = self.file_reads.get(file_id, 0) + count

    @property
    def steps(self) -> list[str]:
        """The processing steps done, in order (the version's lineage)."""
        return [description for description, _ in self.timings]

    def step(self, description: str) -> None:
        """A processing step done: written to the version's lineage, and timed (what it
        took since the step before it) for the ingest's result."""
        now = time.perf_counter()
        self.timings.append((description, now - self._mark))
        self._mark = now

    def temp_name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter}"
