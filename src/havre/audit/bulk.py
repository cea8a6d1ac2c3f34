"""Verification in bulk, over the canonical text stored with each entry.

The fast path of ``havre audit verify``; the reference remains ``scan.ChainScanner`` over the
text rebuilt from the columns. Two things run side by side:

- a reader streams (seq, stored text, prev hash, entry hash) in keyset pages through the
  driver's own cursor, each page as one joined string, and each page is checked with list
  operations that run in C: contiguous sequence numbers, prev links, SHA-256(prev || text)
  equal to the stored hash, leaf hashes, the Merkle frontier grown level by level, the root
  and head hash at every checkpoint;
- other connections check in SQL, chunk by chunk, that every stored text still equals the
  text rebuilt from the entry's columns (``column_check``), so an entry whose columns were
  edited, even with its stored text left intact, is caught.

Entries appended before the text was stored (NULL) are streamed with text built from their
columns, as the reference does. Any anomaly stops the fast path at the first suspect entry;
the caller then resumes the reference scan from the state saved before it, which names the
damage. Reads run outside ``Database.transaction`` (which takes SQLite's write lock) so that
verification never holds appends up.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Integer, Select, case, func, literal_column, null, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

from havre.audit.fastrows import canonical_expression, stored_text_differs
from havre.audit.merkle import Frontier
from havre.audit.models import AuditEntryRow, AuditHeadRow
from havre.audit.scan import ChainScanner
from havre.core.prefetch import prefetch
from havre.db.database import Database

_T = AuditEntryRow.__table__.c
_CONTROL = re.compile(r"[\x00-\x1f]")  # canonical JSON escapes them all: none is raw

Page = list[tuple[Any, ...]]  # (seq, text, prev_hash, entry_hash)
T = TypeVar("T")


# -- reading through the driver ---------------------------------------------------------------
def _sql(connection: Connection, query: ClauseElement | str) -> str:
    if isinstance(query, str):
        return query
    # only integers are bound here: rendering them inline is safe and skips parameter styles
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


_COMPILED: dict[tuple[str, str], str] = {}


def number(name: str) -> ColumnElement[int]:
    """A number written into a statement after it was compiled (``render``)."""
    return literal_column(f"__{name}__", Integer)


def render(
    connection: Connection,
    key: str,
    build: Callable[[str], ClauseElement | str],
    **numbers: int,
) -> str:
    """The statement ``build(dialect)`` compiled once per dialect, its ``number``s filled in.

    The statements of verification hold the canonical text's expression, and compiling one
    costs more Python time than the database spends running a page of it."""
    dialect = connection.dialect.name
    sql = _COMPILED.get((dialect, key))
    if sql is None:
        sql = _COMPILED.setdefault((dialect, key), _sql(connection, build(dialect)))
    for name, value in numbers.items():
        sql = sql.replace(f"__{name}__", str(int(value)))
    return sql


@functools.cache
def _raw_text_loader() -> type:
    from psycopg.adapt import Loader  # only PostgreSQL needs it

    class RawText(Loader):
        """Text as the bytes the server sent, not decoded into a str."""

        def load(self, data: Any) -> bytes:
            return bytes(data)

    return RawText


def fetch(
    connection: Connection, query: ClauseElement | str, *, raw_text: bool = False
) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them (plain tuples: no per-row object of ours); with
    ``raw_text``, PostgreSQL text values as UTF-8 bytes, when the connection speaks UTF-8."""
    driver = connection.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    if raw_text and connection.dialect.name != "sqlite" and driver.info.encoding == "utf-8":  # type: ignore[union-attr]
        cursor.adapters.register_loader("text", _raw_text_loader())
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


def page_query(dialect: str, *, stored: bool, bounded: bool = False) -> Select[Any]:
    """One keyset page of (seq, text, prev hash, entry hash) after ``number("after")``, at most
    ``number("limit")`` entries, and up to ``number("until")`` if ``bounded``; ``stored``: the
    stored text where there is one, else (and for the reference) the text built from the
    columns."""
    built = canonical_expression(dialect)
    text = func.coalesce(_T.canonical, built) if stored else built
    query = (
        select(_T.seq, text.label("text"), _T.prev_hash, _T.entry_hash)
        .where(_T.seq > number("after"))
        .order_by(_T.seq)
        .limit(number("limit"))
    )
    return query.where(_T.seq <= number("until")) if bounded else query


def page_sql(
    connection: Connection, after: int, limit: int, *, stored: bool, until: int | None = None
) -> str:
    key = f"page-{'stored' if stored else 'built'}{'' if until is None else '-until'}"
    build = functools.partial(page_query, stored=stored, bounded=until is not None)
    bounds = {} if until is None else {"until": until}
    return render(connection, key, build, after=after, limit=limit, **bounds)


def block_query(connection: Connection, after: int, limit: int, until: int | None = None) -> str:
    """A page as one row: its count, its first and last seq, and its fields joined by
    newlines, so the driver makes a few objects per page, not four per entry.

    Canonical JSON holds no raw control character (it escapes them) and a hex hash none
    either, so a newline inside a field shows as a page that does not split into its
    entries, and fails; a NULL field is left out by the aggregate, and fails likewise. Rows
    are joined in the order the ordered subquery yields them (what both databases do; an
    ORDER BY inside an aggregate would sort the page again); a page joined in any other
    order would fail its hashes and be read row by row, never pass.

    PostgreSQL joins each entry's prev hash, entry hash and text into one string (it spends
    far more building two large strings side by side than one). SQLite joins the prev
    hashes, the entry hashes and the texts into three (the hashes then need no splitting),
    and checks each stored text against its columns in the same pass (``column_check``
    does it on connections of its own for PostgreSQL): the least seq whose stored text is
    not the text of its columns, by the database's reckoning, comes last."""

    def build(dialect: str) -> str:
        inner = page_query(dialect, stored=True, bounded=until is not None)
        if dialect == "sqlite":
            differs = case((stored_text_differs(dialect), _T.seq), else_=null())
            inner = inner.add_columns(differs.label("differs"))
            sql = _sql(connection, inner)
            joined = ", ".join(
                f"CAST(group_concat({name}, char(10)) AS BLOB)"
                for name in ("prev_hash", "entry_hash", "text")
            )
            return (
                f"SELECT count(*), min(seq), max(seq), {joined}, min(differs) FROM ({sql}) AS page"
            )
        fields = " || chr(10) || ".join(
            f"coalesce({name}, '')" for name in ("prev_hash", "entry_hash", "text")
        )
        return (
            f"SELECT count(*), min(seq), max(seq), string_agg({fields}, chr(10)) "
            f"FROM ({_sql(connection, inner)}) AS page"
        )

    key, bounds = ("block", {}) if until is None else ("block-until", {"until": until})
    return render(connection, key, build, after=after, limit=limit, **bounds)


class Block(NamedTuple):
    """One page of entries (see ``block_query``): the prev hashes and the entry hashes each
    joined by newlines, the texts one by one; ``whole`` when every control character of the
    page was a separator where one belongs (else the page is read again row by row)."""

    size: int
    first: int | None
    last: int | None
    prevs: bytes
    hashes: bytes
    texts: list[bytes]
    whole: bool
    differs: int | None = None  # SQLite: the first stored text not equal to its columns' text
    joined: bytes | None = None  # PostgreSQL: the page as one string, until ``unpacked``

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Block:
        if len(row) == 4:  # PostgreSQL: split by the hashing thread, as it always was
            count, first, last, joined = row
            return cls(int(count), first, last, b"", b"", [], True, joined=_bytes(joined))
        count, first, last, prevs, hashes, texts, differs = row
        split = _split(texts, count) if count else []
        return cls(
            int(count),
            first,
            last,
            _bytes(prevs),
            _bytes(hashes),
            split or [],
            split is not None,
            None if differs is None else int(differs),
        )

    def unpacked(self) -> Block:
        """The page with its fields apart (PostgreSQL's one string split)."""
        if self.joined is None:
            return self
        parts = _split(self.joined, 3 * self.size) if self.size else []
        fields = parts or []
        return self._replace(
            prevs=b"\n".join(fields[0::3]),
            hashes=b"\n".join(fields[1::3]),
            texts=fields[2::3],
            whole=parts is not None,
            joined=None,
        )


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return b"" if value is None else bytes(value)


def _split(joined: Any, fields: int) -> list[bytes] | None:
    """``fields`` fields joined by newlines, or None if the string holds any other control
    character, or more or fewer fields (numpy counts them without a Python loop, and
    without the GIL)."""
    if joined is None:
        return None
    data = _bytes(joined)
    if np.count_nonzero(np.frombuffer(data, dtype=np.uint8) < 32) != fields - 1:
        return None
    parts = data.split(b"\n")
    return parts if len(parts) == fields else None


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
    with database.connect() as connection:
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
        page = fetch(connection, page_sql(connection, last, batch, stored=stored))
        return page, len(page), page[-1][0] if page else last

    return _read(database, after, batch, head, read)


def blocks(
    database: Database,
    after: int,
    batch: int,
    head: list[tuple[int, str] | None],
    *,
    until: int | None = None,
    readers: int = 1,
) -> Iterator[Block]:
    """Entries after ``after`` with their stored text, one ``Block`` per page.

    With ``readers`` > 1, the pages up to ``until`` (the last seq when verification began)
    are read by as many threads, each on its own connection, page ``i`` by thread ``i mod
    readers``, and handed on in order; the rest as with one reader. Pages up to ``until``
    are then cut by seq range: a page from which entries were deleted holds fewer, and fails
    its first or last seq."""

    def read(connection: Connection, last: int) -> tuple[Block, int, int]:
        block = Block.of(fetch(connection, block_query(connection, last, batch), raw_text=True)[0])
        return block, block.size, block.last if block.last is not None else last

    if readers < 2 or until is None or until <= after:
        return _read(database, after, batch, head, read)
    return _in_parallel(database, after, until, batch, head, read, readers)


def _in_parallel(
    database: Database,
    after: int,
    until: int,
    batch: int,
    head: list[tuple[int, str] | None],
    read: Callable[[Connection, int], tuple[Block, int, int]],
    readers: int,
) -> Iterator[Block]:
    starts = range(after, until, batch)

    def share(first: int) -> Iterator[Block]:
        with database.connect() as connection:
            for start in starts[first::readers]:
                query = block_query(connection, start, batch, min(start + batch, until))
                block = Block.of(fetch(connection, query, raw_text=True)[0])
                end_read(connection)
                yield block

    count = min(readers, len(starts))
    streams = [prefetch(share(n), name=f"audit-verify-reader-{n}") for n in range(count)]
    try:
        for index in range(len(starts)):
            yield next(streams[index % count])
    finally:
        for stream in streams:
            stream.close()
    yield from _read(database, until, batch, head, read)


def last_seq(database: Database) -> int:
    with database.connect() as connection:
        rows = fetch(connection, select(func.max(_T.seq)))
        end_read(connection)
    return int(rows[0][0] or 0)


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
        block = block.unpacked()
        first, count = state.next_seq, block.size
        if (
            block.first != first
            or block.last != first + count - 1  # unique and ordered: first and last suffice
            or not block.whole
        ):
            return self._stop(block)
        sha = hashlib.sha256
        digest = bytes.fromhex(state.prev_hash)
        digests: list[bytes] = []
        append = digests.append
        for text in block.texts:
            digest = sha(digest + text).digest()
            append(digest)
        # every stored hash at once, as hexdigest writes it (lower case), one per line; then
        # every prev link at once: each is the stored hash of the entry before
        if binascii.hexlify(b"".join(digests), b"\n", 32) != block.hashes:
            return self._stop(block)
        links = state.prev_hash.encode("ascii")
        if count > 1:
            links += b"\n" + block.hashes[:-65]
        if block.prevs != links:
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
            if state.check_marks(state.marks[size], digests[cut - 1].hex()) is not None:
                self.anomaly = size
                return False
        if frontier is not None:
            frontier.extend(leaves[done:])
        state.next_seq = first + count
        state.before_prev = digests[-2].hex() if count > 1 else state.prev_hash
        state.prev_hash = digests[-1].hex()
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
        with self.database.connect() as connection:
            size, until = max(block.size, 1), max(until, expected)
            query = page_sql(connection, expected - 1, size, stored=True, until=until)
            rows = fetch(connection, query)
            end_read(connection)
        for seq, text, prev_hash, entry_hash in rows:
            if seq != expected or prev_hash != prev:
                break
            try:
                digest = hashlib.sha256(bytes.fromhex(prev) + text.encode()).hexdigest()
            except (TypeError, ValueError, AttributeError):
                break
            if digest != entry_hash or _CONTROL.search(text):
                break
            expected, prev = expected + 1, entry_hash
        self.anomaly = expected
        return False
