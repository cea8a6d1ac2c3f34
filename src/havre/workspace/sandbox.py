"""The sandbox: a fresh in-memory DuckDB holding one workspace version, then locked.

Tables are loaded (decrypted by pyarrow, copied into DuckDB's own storage) before anything
else; then the database is locked: no file or network access, no extension loading, no
replacement scans of Python objects, no setting changes, no spilling to disk (a spill file
would be plaintext). Each query runs on its own cursor with a timer that interrupts it and a
cap on the rows fetched; a query stopped by a limit leaves the database usable.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from havre.core.errors import EngineError, PermissionDenied, UsageError
from havre.workspace.screen import QueryRefused

BATCH_ROWS = 8192
LOAD_NAME = "__havre_load"


class QueryStopped(EngineError, PermissionDenied):
    """A limit of the sandbox (time, memory) stopped the query. An engine error to the caller,
    and a refusal in the audit log: the sandbox declined to run it further."""


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    memory_limit: str  # for queries, on top of what the tables take
    threads: int
    max_rows: int


@dataclass(frozen=True)
class RawResult:
    table: pa.Table
    truncated: bool
    seconds: float


def memory_bytes(size: str) -> int:
    """``2GB``, ``512MiB``... in bytes (the forms Settings accepts)."""
    text = size.strip().upper()
    units = {"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
    units.update({"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1})
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text))


class Watchdog:
    """One thread that interrupts the queries running past their deadline. Starting a timer
    thread per query cost more than the rest of a warm query's sandbox work."""

    IDLE_SECONDS = 60.0

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: dict[int, tuple[float, Callable[[], object]]] = {}
        self._numbers = itertools.count()
        self._wake_at = 0.0
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, seconds: float, interrupt: Callable[[], object]) -> int:
        """Call ``interrupt`` in ``seconds`` unless ``release`` comes first."""
        deadline = time.monotonic() + seconds
        with self._condition:
            number = next(self._numbers)
            self._pending[number] = (deadline, interrupt)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="havre-sandbox-watchdog", daemon=True
                )
                self._thread.start()
            elif deadline < self._wake_at:
                self._condition.notify()
            return number

    def release(self, number: int) -> None:
        with self._condition:
            self._pending.pop(number, None)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._pending.clear()
            self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while not self._closed:
                now = time.monotonic()
                for number, (deadline, interrupt) in list(self._pending.items()):
                    if deadline <= now:
                        del self._pending[number]
                        # under the lock: a released query is never interrupted
                        with contextlib.suppress(duckdb.Error):
                            interrupt()
                deadlines = [deadline for deadline, _ in self._pending.values()]
                self._wake_at = min(deadlines, default=now + self.IDLE_SECONDS)
                self._condition.wait(max(0.0, self._wake_at - now))


class SandboxDatabase:
    """One workspace version, loaded and locked. Safe to query from several threads."""

    def __init__(self, tables: Iterable[tuple[str, pa.RecordBatchReader]], limits: Limits) -> None:
        self.limits = limits
        self._cursor_lock = threading.Lock()
        # cursors of finished queries, reused (a new one costs ~0.3 ms); one that met an
        # error or an interrupt is closed instead
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._watchdog = Watchdog()
        self.connection = duckdb.connect(
            ":memory:",
            config={
                "threads": limits.threads,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "python_enable_replacements": False,
                "temp_directory": "",
                "allow_community_extensions": False,
            },
        )
        self.tables: list[str] = []
        try:
            for name, reader in tables:
                self.connection.register(LOAD_NAME, reader)
                self.connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM {LOAD_NAME}')
                self.connection.unregister(LOAD_NAME)
                self.tables.append(name)
            self.table_bytes = self._used_bytes()
            budget = self.table_bytes + memory_bytes(limits.memory_limit)
            self.connection.execute(f"SET memory_limit = '{budget}B'")
            # from here on the database cannot reach anything but its own tables
            self.connection.execute("SET enable_external_access = false")
            self.connection.execute("SET lock_configuration = true")
        except BaseException:
            self.connection.close()
            raise

    def _used_bytes(self) -> int:
        rows = self.connection.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
        return int(rows[0][0] or 0)

    def run(self, sql: str, *, max_rows: int, quote_errors: bool) -> RawResult:
        """Run one screened query; at most ``max_rows`` rows come back (``truncated`` says
        whether there were more). ``quote_errors``: whether the engine's message may be shown
        (its conversion errors can quote values, which aggregate-only permits must not see)."""
        with self._cursor_lock:
            cursor = self._idle.pop() if self._idle else self.connection.cursor()
        reusable = False
        started = time.perf_counter()
        watch = self._watchdog.watch(self.limits.timeout_seconds, cursor.interrupt)
        try:
            reader = cursor.sql(sql).to_arrow_reader(BATCH_ROWS)
            batches: list[pa.RecordBatch] = []
            rows = 0
            truncated = False
            for batch in reader:
                if rows + batch.num_rows > max_rows:
                    batches.append(batch.slice(0, max_rows - rows))
                    truncated = True
                    break
                batches.append(batch)
                rows += batch.num_rows
            table = pa.Table.from_batches(batches, schema=reader.schema)
            reader.close()
            reusable = True
        except duckdb.InterruptException:
            raise QueryStopped(
                f"The query was stopped after {self.limits.timeout_seconds:g} s, the time "
                "limit of a workspace query.",
                hint="filter earlier, avoid cross joins, or aggregate before joining",
            ) from None
        except duckdb.OutOfMemoryException:
            raise QueryStopped(
                f"The query needed more than {self.limits.memory_limit} of memory, the limit of "
                "a workspace query.",
                hint="aggregate before joining, or select fewer columns",
            ) from None
        except duckdb.PermissionException as exc:
            raise QueryRefused(f"The sandbox refused the query: {exc}") from None
        except duckdb.Error as exc:
            raise _engine_message(exc, quote_errors) from None
        finally:
            self._watchdog.release(watch)  # after this, the watchdog never interrupts it
            if reusable:
                with self._cursor_lock:
                    self._idle.append(cursor)
            else:
                cursor.close()
        return RawResult(table, truncated, time.perf_counter() - started)

    def schema(self) -> dict[str, dict[str, str]]:
        """Table → column → SQL type, for the aggregate analysis."""
        rows = self.connection.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall()
        schema: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            schema.setdefault(str(table).lower(), {})[str(column).lower()] = str(data_type)
        return schema

    def close(self) -> None:
        self._watchdog.close()
        with self._cursor_lock:
            idle, self._idle = self._idle, []
        for cursor in idle:
            cursor.close()
        self.connection.close()


SAFE_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


def _engine_message(error: duckdb.Error, quote: bool) -> UsageError:
    # parser, binder and catalog errors name the query's own words; others may quote data
    if quote or isinstance(error, SAFE_ERRORS):
        return UsageError(f"The query failed: {str(error).splitlines()[0][:500]}")
    return UsageError(
        f"The query failed while running ({type(error).__name__}); the engine's message is "
        "withheld because it can quote values and this permit gives aggregate results only.",
        hint="check casts and functions on the columns involved",
    )
