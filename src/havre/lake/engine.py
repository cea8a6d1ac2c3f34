"""Query engines for the data paths.

Transformations are written once, as SQL in DuckDB's dialect over named relations, and run by
an ``Engine``: DuckDB (embedded, the default) or Spark (``HAVRE_ENGINE=spark``), which
transpiles the same SQL with sqlglot. Keep pipeline SQL to the portable subset: standard
SELECT/JOIN/GROUP BY/window functions, CASE, CAST/TRY_CAST, COALESCE, regexp_matches,
strptime/strftime, sha256/unhex, string functions. No DuckDB-only syntax (no ``COLUMNS(*)``,
list comprehensions, macros, ``SELECT * EXCLUDE``), so the Spark engine runs it unchanged.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import pyarrow as pa

from havre.core.config import Settings
from havre.core.errors import DataValidationError, EngineError
from havre.lake.textfiles import LineReader, ProgressCallback

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from havre.keys.base import KeyStore

BATCH_ROWS = 122_880
# prctl(2) options: the process's transparent huge pages, off (1) or as the system sets them
PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42  # read by the tests


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (the same on both engines' dialects)."""
    return "'" + text.replace("'", "''") + "'"


class Lines(Protocol):
    """A delivered text file registered as numbered lines (``register_lines``)."""

    def count(self) -> int:
        """How many lines the file has (its header included), once a statement read them."""

    def failure(self) -> DataValidationError | None:
        """Why reading the file failed, if it did (an engine error then stands for it)."""

    @property
    def shaped(self) -> bool:
        """Whether the relation has ``shape_ok``: the line matches the ``shape`` it was
        registered with (``register_lines``); else the statement matches it itself."""


class Engine(Protocol):
    name: str

    def register(self, name: str, data: pa.Table | pa.RecordBatchReader | ds.Dataset) -> None:
        """Make Arrow data queryable under ``name``."""

    def register_lines(
        self,
        name: str,
        path: Path,
        *,
        crlf: bool,
        progress: ProgressCallback | None = None,
        shape: str | None = None,
    ) -> Lines:
        """A delivered text file as the relation ``name`` (``line_no`` from 1, ``raw``: each
        line's bytes with its line end; see ``havre.lake.textfiles``). ``shape``: a line
        pattern the engine may match as it reads (``Lines.shaped``)."""

    def register_parquet_rows(self, name: str, path: Path) -> None:
        """A delivered Parquet file as the relation ``name``: its columns and
        ``file_row_number`` (0 for its first row)."""

    def unregister(self, name: str) -> None:
        """Forget what ``register``, ``register_lines`` or ``register_parquet_rows`` made
        queryable under ``name``."""

    def scalar(self, query: str) -> Any:
        """The first value of a query's first row (None without a row)."""

    def sql(self, query: str) -> pa.Table:
        """Run a query (DuckDB dialect) and return the whole result."""

    def batches(self, query: str, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Run a query and stream its result."""

    def execute(self, statement: str) -> None:
        """Run a statement that returns nothing (CREATE TEMP TABLE ... AS ...)."""

    def joins_as_written(self) -> contextlib.AbstractContextManager[None]:
        """Within the block, a join's hash table is built on its right side, as written."""

    def close(self) -> None: ...


def duckdb_config(
    settings: Settings, *, memory_limit: str | None = None, temp_directory: Path | None = None
) -> dict[str, Any]:
    temp = temp_directory or settings.home / "tmp" / "duckdb"
    temp.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        "memory_limit": memory_limit or settings.duckdb_memory_limit,
        "threads": settings.duckdb_threads,
        "temp_directory": str(temp),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "preserve_insertion_order": False,
    }


def huge_pages_off(settings: Settings) -> bool:
    """Turn transparent huge pages off for this process (Linux ``PR_SET_THP_DISABLE``) unless
    ``transparent_huge_pages = "system"``; True if this call turned them off.

    Arrow's allocator (mimalloc) reserves its arena with ``MADV_HUGEPAGE``: the kernel backs
    it with 2 MB pages, each zeroed (and compacted for) at its first touch, and splits them as
    the allocator gives parts back. An ingest of 100,000 persons spent 0.6-2.7 CPU-s less in
    the kernel with them off (docs/ingest.md, Performance). The setting holds for the whole
    process and the processes it starts."""
    if settings.transparent_huge_pages == "system" or not sys.platform.startswith("linux"):
        return False
    return bool(ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0)


class DuckDBEngine:
    """The embedded engine. One in-memory database per engine; spills to the hub's tmp."""

    name = "duckdb"

    def __init__(
        self,
        settings: Settings,
        *,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
    ) -> None:
        self.settings = settings
        huge_pages_off(settings)
        self.connection = duckdb.connect(
            ":memory:",
            config=duckdb_config(
                settings, memory_limit=memory_limit, temp_directory=temp_directory
            ),
        )
        self._keep: dict[str, Any] = {}  # registered objects must outlive their queries
        self._views: set[str] = set()  # names register_parquet_rows gave to views

    def register(self, name: str, data: pa.Table | pa.RecordBatchReader | ds.Dataset) -> None:
        self._keep[name.lower()] = data
        self.connection.register(name, data)

    def register_lines(
        self,
        name: str,
        path: Path,
        *,
        crlf: bool,
        progress: ProgressCallback | None = None,
        shape: str | None = None,
    ) -> Lines:
        """The file streamed through ``LineReader``: the engine's threads take its batches in
        turn, so it is read while earlier batches are checked, in the memory of a few chunks.
        With a ``shape``, the reader matches it (``shape_ok``)."""
        reader = LineReader(path, progress=progress, crlf=crlf, shape=shape)
        self.register(name, reader.reader())
        return _StreamedLines(reader)

    def register_parquet_rows(self, name: str, path: Path) -> None:
        self.execute(
            f'CREATE TEMP VIEW "{name}" AS '
            f"SELECT * FROM read_parquet({sql_literal(str(path))}, file_row_number = true)"
        )
        self._views.add(name.lower())

    def unregister(self, name: str) -> None:
        if name.lower() in self._views:
            self._views.discard(name.lower())
            self.execute(f'DROP VIEW "{name}"')
            return
        self.connection.unregister(name)
        self._keep.pop(name.lower(), None)

    def sql(self, query: str) -> pa.Table:
        try:
            return self.connection.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {exc}") from exc

    def batches(self, query: str, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        try:
            return self.connection.sql(query).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {exc}") from exc

    def execute(self, statement: str) -> None:
        try:
            self.connection.execute(statement)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {exc}") from exc

    @contextlib.contextmanager
    def joins_as_written(self) -> Iterator[None]:
        """Within the block, a hash join builds its table on its right side, as written.

        The engine cannot tell how many rows a stream holds (it guesses one), so on its own it
        builds the hash table on a streamed file — millions of rows — rather than on the small
        table the file is joined to. Statements joining a stream to a lookup run in here.
        """
        self.execute("SET disabled_optimizers = 'build_side_probe_side'")
        try:
            yield
        finally:
            self.execute("RESET disabled_optimizers")

    def scalar(self, query: str) -> Any:
        rows = self.connection.sql(query).fetchall()
        return rows[0][0] if rows else None

    def close(self) -> None:
        self.connection.close()
        self._keep.clear()


class _StreamedLines:
    """``Lines`` of a file a ``LineReader`` streams: counted as they are read."""

    def __init__(self, reader: LineReader) -> None:
        self._reader = reader

    def count(self) -> int:
        return self._reader.lines

    def failure(self) -> DataValidationError | None:
        return self._reader.error

    @property
    def shaped(self) -> bool:
        return self._reader.shape is not None


def open_engine(settings: Settings, *, keys: KeyStore | None = None, **kwargs: Any) -> Engine:
    """The engine the settings name (``HAVRE_ENGINE``).

    ``keys``: the key store of the encrypted lake files the engine will read. DuckDB reads them
    through the decrypting ``pyarrow.dataset`` objects it is given; Spark reads the files
    itself and takes the data keys they need from the store.
    """
    if settings.engine == "spark":
        from havre.lake.spark import SparkEngine

        spark: Engine = SparkEngine(settings, keys=keys)
        return spark
    return DuckDBEngine(settings, **kwargs)


def parquet_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.parquet"))
