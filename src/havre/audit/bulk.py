"""Verification in bulk, over the canonical text stored with each entry.

The fast path of ``havre audit verify``; the reference remains ``scan.ChainScanner`` over the
text rebuilt from the columns. Two things run side by side:

- a reader streams (seq, stored text, prev hash, entry hash) in large keyset pages through the
  driver's own cursor, and each page is checked with list operations that run in C: contiguous
  sequence numbers, prev links, SHA-256(prev || text) equal to the stored hash, leaf hashes,
  the Merkle frontier grown level by level, the root and head hash at every checkpoint;
- a second connection checks in SQL, chunk by chunk, that every stored text still equals the
  text rebuilt from the entry's columns (``first_mismatch``), so an entry whose columns were
  edited, even with its stored text left intact, is caught. A mismatch the database reports
  is confirmed in Python (``rows.canonical_bytes``, the reference) before it counts.

Entries appended before the text was stored (NULL) are streamed with text built from their
columns, as the reference does. Any anomaly stops the fast path at the first suspect entry;
the caller then resumes the reference scan from the state saved before it, which names the
damage. Reads run outside ``Database.transaction`` (which takes SQLite's write lock) so that
verification never holds appends up.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

from havre.audit.fastrows import canonical_expression
from havre.audit.merkle import Frontier
from havre.audit.models import AuditEntryRow, AuditHeadRow
from havre.audit.rows import COLUMNS, EntryRow, canonical_bytes
from havre.audit.scan import ChainScanner
from havre.db.database import Database

_T = AuditEntryRow.__table__.c
CHECK_CHUNK = 50_000  # entries per column-check query (one short read each)

Page = list[tuple[Any, ...]]  # (seq, text, prev_hash, entry_hash)
T = TypeVar("T")


# -- reading through the driver ---------------------------------------------------------------
def _sql(connection: Connection, query: ClauseElement | str) -> str:
    if isinstance(query, str):
        return query
    # only integers are bound here: rendering them inline is safe and skips parameter styles
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


def fetch(connection: Connection, query: ClauseElement | str) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them (plain tuples: no per-row object of ours)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_sql(connection, query))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def end_read(connection: Connection) -> None:
    """End the driver's implicit read transaction (PostgreSQL; SQLite runs in autocommit)."""
    if connection.dialect.name != "sqlite":
        connection.connection.driver_connection.rollback()  # type: ignore[union-attr]


def begin_snapshot(connection: Connection) -> None:
    """One read transaction for several statements (PostgreSQL: REPEATABLE READ)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if connection.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # deferred: a read snapshot, no write lock
        else:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    finally:
        cursor.close()


def end_snapshot(connection: Connection) -> None:
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        driver.execute("COMMIT")  # type: ignore[union-attr]
    else:
        driver.rollback()  # type: ignore[union-attr]


def page_query(
    dialect: str, after: int, limit: int, *, stored: bool, until: int | None = None
) -> Select[Any]:
    """One keyset page of (seq, text, prev hash, entry hash); ``stored``: the stored text where
    there is one, else (and for the reference) the text built from the columns."""
    built = canonical_expression(dialect)
    text = func.coalesce(_T.canonical, built) if stored else built
    query = (
        select(_T.seq, text.label("text"), _T.prev_hash, _T.entry_hash)
        .where(_T.seq > after)
        .order_by(_T.seq)
        .limit(limit)
    )
    return query if until is None else query.where(_T.seq <= until)


def block_query(connection: Connection, after: int, limit: int) -> str:
    """A page as one row: count, first and last seq, the lengths of the hashes, and the texts
    and hashes each joined into one string, so the driver makes a few objects per page, not
    five per entry. Texts are joined with a newline, which canonical JSON never holds raw
    (it escapes control characters): an entry whose stored text holds one splits the page
    wrong and fails its hash. Rows are joined in the order the ordered subquery yields them
    (what both databases do; an ORDER BY inside the aggregates would sort the page thrice);
    a page joined in any other order would fail its hashes and be read row by row, never
    pass."""
    inner = _sql(connection, page_query(connection.dialect.name, after, limit, stored=True))
    if connection.dialect.name == "sqlite":
        texts = "CAST(group_concat(text, char(10)) AS BLOB)"
        prevs, hashes = "group_concat(prev_hash, '')", "group_concat(entry_hash, '')"
    else:
        texts = "string_agg(text, chr(10))"
        prevs, hashes = "string_agg(prev_hash, '')", "string_agg(entry_hash, '')"
    return (
        "SELECT count(*), min(seq), max(seq), "
        "min(length(prev_hash)), max(length(prev_hash)), "
        "min(length(entry_hash)), max(length(entry_hash)), "
        f"{texts}, {prevs}, {hashes} FROM ({inner}) AS page"
    )


class Block(NamedTuple):
    """One page of entries, joined (see ``block_query``)."""

    size: int
    first: int | None
    last: int | None
    prev_lengths: tuple[int | None, int | None]
    hash_lengths: tuple[int | None, int | None]
    texts: bytes | None
    prev_hashes: str | None
    entry_hashes: str | None

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Block:
        count, first, last, pmin, pmax, emin, emax, texts, prevs, hashes = row
        if isinstance(texts, str):
            texts = texts.encode("utf-8")
        elif isinstance(texts, memoryview):
            texts = bytes(texts)
        return cls(int(count), first, last, (pmin, pmax), (emin, emax), texts, prevs, hashes)


def _read(
    database: Database,
    after: int,
    batch: int,
    head: list[tuple[int, str] | None],
    read: Callable[[Connection, int], tuple[T, int, int]],
) -> Iterator[T]:
    """Pages after ``after``, each in its own short read; the tail and the head row in one
    last read transaction, so they agree even while appends go on. ``read`` returns a page,
    how many entries it holds and its last seq."""
    with database.engine.connect() as connection:
        last = after
        while True:
            page, count, page_last = read(connection, last)
            end_read(connection)
            if count < batch:
                break
            yield page
            last = page_last
        begin_snapshot(connection)
        try:
            rest: list[T] = []
            while True:
                page, count, page_last = read(connection, last)
                if not count:
                    break
                rest.append(page)
                last = page_last
            found = fetch(
                connection,
                select(AuditHeadRow.seq, AuditHeadRow.entry_hash).where(AuditHeadRow.id == 1),
            )
        finally:
            end_snapshot(connection)
        head.append((int(found[0][0]), str(found[0][1])) if found else None)
        yield from rest


def pages(
    database: Database,
    after: int,
    batch: int,
    head: list[tuple[int, str] | None],
    *,
    stored: bool = True,
) -> Iterator[Page]:
    """Entries after ``after``, a list of (seq, text, prev hash, entry hash) per page."""

    def read(connection: Connection, last: int) -> tuple[Page, int, int]:
        page = fetch(connection, page_query(connection.dialect.name, last, batch, stored=stored))
        return page, len(page), page[-1][0] if page else last

    return _read(database, after, batch, head, read)


def blocks(
    database: Database, after: int, batch: int, head: list[tuple[int, str] | None]
) -> Iterator[Block]:
    """Entries after ``after`` with their stored text, one ``Block`` per page."""

    def read(connection: Connection, last: int) -> tuple[Block, int, int]:
        block = Block.of(fetch(connection, block_query(connection, last, batch))[0])
        return block, block.size, block.last if block.last is not None else last

    return _read(database, after, batch, head, read)


def last_seq(database: Database) -> int:
    with database.engine.connect() as connection:
        rows = fetch(connection, select(func.max(_T.seq)))
        end_read(connection)
    return int(rows[0][0] or 0)


# -- stored text against the columns ----------------------------------------------------------
def first_mismatch(connection: Connection, after: int, until: int) -> int | None:
    """The first entry in (after, until] whose stored text is not the text of its columns."""
    dialect = connection.dialect.name
    # spelled out: SQLAlchemy's is_distinct_from loses literal_binds on SQLite
    distinct = _T.canonical.op("IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM")(
        canonical_expression(dialect)
    )
    while after < until:
        query = select(func.min(_T.seq)).where(
            _T.seq > after, _T.seq <= until, _T.canonical.is_not(None), distinct
        )
        found = fetch(connection, query)[0][0]
        end_read(connection)
        if found is None:
            return None
        if not _same_in_python(connection, int(found)):
            return int(found)
        after = int(found)  # the database's text differs from Python's; Python is the reference
    return None


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

    On PostgreSQL each worker is a server process of its own, so two share the text building
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
            with self.db.engine.connect() as connection:
                while (chunk := self._take()) is not None:
                    found = first_mismatch(connection, *chunk)
                    if found is not None:
                        with self._lock:
                            self._found.append(found)
                            self._limit = min(self._limit, found)
        except BaseException as error:  # raised in the caller's thread
            self._errors.append(error)


# -- the scan ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    next_seq: int
    prev_hash: str
    before_prev: str | None
    frontier: Frontier | None
    trusted_size: int
    entries: int


@dataclass
class BulkScanner:
    """Advances a ``ChainScanner``'s state a block at a time; stops at the first anomaly."""

    scanner: ChainScanner
    database: Database
    anomaly: int | None = None  # the first suspect sequence number
    snapshots: list[Snapshot] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sizes = sorted(self.scanner.marks)
        self._next_mark = 0

    def feed(self, block: Block) -> bool:
        """Check one block; False (and ``anomaly``) when something in it does not fit."""
        if self.anomaly is not None:
            return False
        if not block.size:
            return True
        state = self.scanner
        self._save()
        first, count = state.next_seq, block.size
        texts, prevs, hashes = block.texts, block.prev_hashes, block.entry_hashes
        if (
            block.first != first
            or block.last != first + count - 1  # unique and ordered: first and last suffice
            or block.prev_lengths != (64, 64)
            or block.hash_lengths != (64, 64)
            or texts is None
            or prevs is None
            or hashes is None
            # every prev link at once: the hashes are 64 characters each
            or prevs[:64] != state.prev_hash
            or prevs[64:] != hashes[:-64]
        ):
            return self._stop(block)
        pieces = texts.split(b"\n")
        try:
            stored = bytes.fromhex(hashes)
            chained = bytes.fromhex(state.prev_hash) + stored[:-32]
        except ValueError:
            return self._stop(block)
        if len(pieces) != count or stored.hex() != hashes:  # lower-case hex, as hexdigest
            return self._stop(block)
        sha = hashlib.sha256
        digests = [
            sha(chained[at : at + 32] + text).digest()
            for at, text in zip(range(0, 32 * count, 32), pieces, strict=True)
        ]
        if b"".join(digests) != stored:
            return self._stop(block)
        frontier = state.frontier
        leaves = [sha(b"\x00" + d).digest() for d in digests] if frontier is not None else []
        done = 0
        sizes = self._sizes
        while self._next_mark < len(sizes) and sizes[self._next_mark] < first + count:
            size = sizes[self._next_mark]
            self._next_mark += 1
            if size < first:
                continue
            cut = size - first + 1
            if frontier is not None:
                frontier.extend(leaves[done:cut])
            done = cut
            head_hash = hashes[(cut - 1) * 64 : cut * 64]
            if state.check_marks(state.marks[size], head_hash) is not None:
                self.anomaly = size
                return False
        if frontier is not None:
            frontier.extend(leaves[done:])
        state.next_seq = first + count
        state.before_prev = hashes[-128:-64] if count > 1 else state.prev_hash
        state.prev_hash = hashes[-64:]
        state.entries += count
        return True

    def restore(self, seq: int) -> None:
        """Put the scanner back where it stood before the block holding ``seq``."""
        state = self.scanner
        before = [s for s in self.snapshots if s.next_seq <= seq]
        snapshot = before[-1] if before else self.snapshots[0]
        state.next_seq, state.prev_hash = snapshot.next_seq, snapshot.prev_hash
        state.before_prev = snapshot.before_prev
        state.frontier = None if snapshot.frontier is None else snapshot.frontier.copy()
        state.trusted_size, state.entries = snapshot.trusted_size, snapshot.entries
        state.finding = None

    def _save(self) -> None:
        state = self.scanner
        frontier = None if state.frontier is None else state.frontier.copy()
        self.snapshots.append(
            Snapshot(
                state.next_seq,
                state.prev_hash,
                state.before_prev,
                frontier,
                state.trusted_size,
                state.entries,
            )
        )

    def _stop(self, block: Block) -> bool:
        """Name the first entry of the block that does not fit, reading it row by row."""
        expected, prev = self.scanner.next_seq, self.scanner.prev_hash
        until = block.last if block.last is not None else expected
        with self.database.engine.connect() as connection:
            query = page_query(
                connection.dialect.name, expected - 1, max(block.size, 1), stored=True
            )
            rows = fetch(connection, query.where(_T.seq <= max(until, expected)))
            end_read(connection)
        for seq, text, prev_hash, entry_hash in rows:
            if seq != expected or prev_hash != prev:
                break
            try:
                digest = hashlib.sha256(bytes.fromhex(prev) + text.encode()).hexdigest()
            except (TypeError, ValueError, AttributeError):
                break
            if digest != entry_hash or "\n" in text:
                break
            expected, prev = expected + 1, entry_hash
        self.anomaly = expected
        return False
