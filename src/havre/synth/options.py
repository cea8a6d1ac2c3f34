"""What a synthetic delivery is asked to be: ``SynthOptions`` and its checks."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from havre.core.errors import UsageError

SCALES = {"small": 1_000, "medium": 100_000, "large": 1_000_000}
FORMATS = ("snds", "fhir", "omop")
DEFAULT_FORMATS = ("snds", "fhir")
FILE_FORMATS = ("csv", "parquet")
MAX_PERSONS = 20_000_000
"""Beyond this the NIR's 989 orders per (sex, year, month, place) can run out in big cities."""
EARLIEST_START = dt.date(1990, 1, 1)
LATEST_END = dt.date(2100, 12, 31)
DEFAULT_START = dt.date(2015, 1, 1)
DEFAULT_END = dt.date(2024, 12, 31)


@dataclass(frozen=True)
class SynthOptions:
    """Arguments of ``havre synth``. The same options give byte-identical files."""

    persons: int
    seed: int
    out: Path
    start: dt.date = DEFAULT_START
    end: dt.date = DEFAULT_END
    formats: tuple[str, ...] = DEFAULT_FORMATS
    optout_rate: float = 0.01
    dirty_rate: float = 0.0
    file_format: str = "csv"
    force: bool = False
    workers: int = field(default=0, compare=False)
    """Processes generating chunks (0: one per CPU, at most 2). Never changes the output."""

    @classmethod
    def for_scale(cls, scale: str, **values: Any) -> SynthOptions:
        if scale not in SCALES:
            raise UsageError(f"unknown scale {scale!r}", hint=f"use one of {', '.join(SCALES)}")
        return cls(persons=SCALES[scale], **values)

    def validated(self) -> SynthOptions:
        """These options with normalised values; raises ``UsageError`` on a bad argument."""
        if isinstance(self.persons, bool) or not isinstance(self.persons, int):
            raise UsageError(f"--persons must be a whole number, got {self.persons!r}")
        if self.persons <= 0:
            raise UsageError(
                f"--persons must be at least 1, got {self.persons}",
                hint="or use --scale small|medium|large",
            )
        if self.persons > MAX_PERSONS:
            raise UsageError(f"--persons is limited to {MAX_PERSONS:,}, got {self.persons:,}")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed must be between 0 and 2**63-1, got {self.seed}")
        if self.end <= self.start:
            raise UsageError(
                f"--end {self.end} is not after --start {self.start}",
                hint="give an end date later than the start date",
            )
        if self.start < EARLIEST_START or self.end > LATEST_END:
            raise UsageError(
                f"the period {self.start}..{self.end} is outside {EARLIEST_START}..{LATEST_END}"
            )
        formats = _formats(self.formats)
        if self.file_format not in FILE_FORMATS:
            raise UsageError(
                f"unknown file format {self.file_format!r}",
                hint=f"use one of {', '.join(FILE_FORMATS)}",
            )
        for name, rate, ceiling in (
            ("--optout-rate", self.optout_rate, 0.5),
            ("--dirty-rate", self.dirty_rate, 0.5),
        ):
            if not 0.0 <= rate <= ceiling:
                raise UsageError(f"{name} must be between 0 and {ceiling}, got {rate}")
        if self.workers < 0:
            raise UsageError(f"workers must be 0 (automatic) or more, got {self.workers}")
        return replace(self, formats=formats, out=Path(self.out))

    @property
    def process_count(self) -> int:
        return self.workers or max(1, min(2, os.cpu_count() or 1))

    def arguments(self) -> dict[str, Any]:
        """The arguments as written in the manifest (no path: moving a delivery keeps it)."""
        values = asdict(self)
        for name in ("out", "force", "workers"):
            values.pop(name)
        values["start"] = self.start.isoformat()
        values["end"] = self.end.isoformat()
        values["formats"] = list(self.formats)
        return values


def _formats(values: Iterable[str]) -> tuple[str, ...]:
    wanted = [value.strip().lower() for value in values if value.strip()]
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown:
        raise UsageError(
            f"unknown format(s) {', '.join(unknown)}", hint=f"use {', '.join(FORMATS)}"
        )
    if not wanted:
        raise UsageError("no format asked for", hint=f"use --formats {','.join(DEFAULT_FORMATS)}")
    return tuple(name for name in FORMATS if name in wanted)


def parse_formats(text: str) -> tuple[str, ...]:
    return _formats(text.split(","))
