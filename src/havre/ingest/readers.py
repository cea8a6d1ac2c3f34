"""Source readers register here; the pipeline asks for one by source kind.

A hub adds its own source by registering a factory: ``register_reader("mysource", MyReader)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from havre.core.errors import UsageError
from havre.ingest.context import IngestContext, Progress
from havre.ingest.model import Delivery
from havre.pseudo.scheme import SchemeId


class SourceReader(Protocol):
    kind: str
    scheme_id: SchemeId  # how this source's persons get their hub pseudonym
    optout_scheme_id: SchemeId  # how its persons are looked up in the opt-out register
    needs_source_name: bool  # True when pseudonyms are scoped by the source's name

    def inspect(self, path: Path, progress: Progress) -> Delivery:
        """Find and hash the delivery's files; refuse (``DataValidationError``) what is not
        the declared source, each file's first bytes included (``header_positions``,
        ``parquet_columns``, ``sniff_text``) before hashing. Reads no record and starts no
        engine."""

    def load(self, ctx: IngestContext) -> None:
        """Stage, check and resolve every record; register ``ctx.tables`` (one per source
        table) and ``ctx.outputs`` (one SQL query per lake table)."""


_READERS: dict[str, Callable[[], SourceReader]] = {}
_BUILT_IN = ("havre.ingest.snds.reader", "havre.ingest.fhir.reader", "havre.ingest.omop.reader")


def register_reader(kind: str, factory: Callable[[], SourceReader]) -> None:
    _READERS[kind] = factory


def _load_built_in() -> None:
    for module in _BUILT_IN:
        importlib.import_module(module)


def reader_kinds() -> list[str]:
    _load_built_in()
    return sorted(_READERS)


def reader_for(kind: str) -> SourceReader:
    _load_built_in()
    factory = _READERS.get(kind)
    if factory is None:
        raise UsageError(f"Unknown source '{kind}'.", hint=f"one of: {', '.join(sorted(_READERS))}")
    return factory()
