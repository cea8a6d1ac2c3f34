"""The column check: every stored canonical text must still be the text of its entry's columns.

The hash chain vouches for the stored text; searches and exports read the columns. An entry
whose columns were edited with its stored text left intact still hashes right, and only this
check sees it. The database compares, chunk by chunk, on connections of its own
(``fastrows.stored_text_differs``: a cheap text first, the exact one where they differ); a
mismatch it reports is confirmed in Python (``rows.canonical_bytes``, the reference) before
it counts.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from havre.audit.bulk import end_read, fetch, number, render
from havre.audit.fastrows import stored_text_differs
from havre.audit.models import AuditEntryRow
from havre.audit.rows import COLUMNS, EntryRow, canonical_bytes
from havre.db.database import Database

_T = AuditEntryRow.__table__.c
CHECK_CHUNK = 20_000  # entries per query: short reads, and workers that finish together


def first_mismatch(connection: Connection, after: int, until: int) -> int | None:
    """The first entry in (after, until] whose stored text is not the text of its columns."""
    while after < until:
        query = render(connection, "first-mismatch", _first_mismatch, after=after, until=until)
        found = fetch(connection, query)[0][0]
        end_read(connection)
        if found is None:
            return None
        if not _same_in_python(connection, int(found)):
            return int(found)
        after = int(found)  # the database's text differs from Python's; Python is the reference
    return None


def _first_mismatch(dialect: str) -> Select[Any]:
    return select(func.min(_T.seq)).where(
        _T.seq > number("after"), _T.seq <= number("until"), stored_text_differs(dialect)
    )


def _same_in_python(connection: Connection, seq: int) -> bool:
    rows = fetch(connection, select(*COLUMNS, _T.canonical).where(_T.seq == seq))
    end_read(connection)
    if not rows:
        return True  # gone meanwhile: the scan reports that
    *columns, stored = rows[0]
    try:
        return bool(canonical_bytes(EntryRow._make(columns)).decode("utf-8") == stored)
    except (TypeError, ValueError, AttributeError):
        return False


class ColumnCheck:
    """``first_mismatch`` over a range in chunks, on ``workers`` threads (a connection each).

    On PostgreSQL each worker is a server process of its own, so two share the comparison
    between the cores; on SQLite one worker already runs beside the hashing thread."""

    def __init__(
        self,
        database: Database,
        after: int,
        until: int,
        *,
        chunk: int = CHECK_CHUNK,
        workers: int = 1,
    ) -> None:
        self.db = database
        self.after, self.until, self.chunk = after, until, chunk
        self._limit = until
        self._found: list[int] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._next = after
        self._threads = [
            threading.Thread(target=self._run, name=f"audit-verify-columns-{n}", daemon=True)
            for n in range(max(1, workers))
        ]

    def start(self) -> ColumnCheck:
        for thread in self._threads:
            thread.start()
        return self

    def stop_after(self, seq: int) -> None:
        """Nothing past ``seq`` matters any more (an earlier anomaly was found there)."""
        with self._lock:
            self._limit = min(self._limit, seq)

    def result(self) -> int | None:
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]
        # chunks are handed out in order and none below a mismatch is skipped: the least
        # mismatch found is the first one
        return min(self._found, default=None)

    def _take(self) -> tuple[int, int] | None:
        with self._lock:
            low = self._next
            if low >= min(self.until, self._limit):
                return None
            self._next = min(low + self.chunk, self.until)
            return low, self._next

    def _run(self) -> None:
        try:
            with self.db.connect() as connection:
                while (chunk := self._take()) is not None:
                    found = first_mismatch(connection, *chunk)
                    if found is not None:
                        with self._lock:
                            self._found.append(found)
                        self.stop_after(found)
        except BaseException as error:  # raised in the caller's thread
            self._errors.append(error)
