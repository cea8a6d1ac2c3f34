"""The database builds each entry's canonical JSON from its columns.

Verification uses it twice: to check that the text stored with each entry still equals its
columns (``bulk.first_mismatch``), and as the reference scan's text (entries stored before
the text was, and the diagnosis of a damage). Python would spend most of the time building
strings; the database does it in C. Strings are quoted with the database's JSON quoting
(SQLite ``json_quote``, PostgreSQL ``to_json``), which escapes exactly as ``json.dumps``
does, and the timestamp is written as ``isoformat`` writes it. The result is an
optimization, never the reference: a text the database builds differently is rebuilt in
Python (``rows.canonical_bytes``) before anything is called damage. Because the quoting is
real JSON quoting, the text is injective: no edit of the fields can reproduce another
entry's text.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Generator, Iterator
from queue import Empty, Full, Queue
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, String, Text, case, cast, func, literal, select, type_coerce
from sqlalchemy.engine import Connection

from havre.audit.models import AuditEntryRow
from havre.audit.rows import COLUMNS, EntryRow, canonical_bytes
from havre.db.database import Database

_T = AuditEntryRow.__table__.c
LOOKAHEAD = 256  # full rows read past a damage, to tell its kind
T = TypeVar("T")


class FastRow(NamedTuple):
    seq: int
    canonical: str | None  # None: the database could not build it (a NULL where none belongs)
    prev_hash: str
    entry_hash: str


def _sqlite_quote(column: Any) -> ColumnElement[str]:
    return func.json_quote(column, type_=String)  # json_quote(NULL) is 'null'


def _postgresql_quote(column: Any) -> ColumnElement[str]:
    return func.coalesce(cast(func.to_json(column), Text), literal("null"))


def _sqlite_ts() -> ColumnElement[str]:
    raw = type_coerce(_T.ts, String)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
    trimmed = case((func.substr(raw, 21) == "000000", func.substr(raw, 1, 19)), else_=raw)
    # the column is text on SQLite: anyone may have written anything there, so quote it
    return _sqlite_quote(func.replace(trimmed, " ", "T").concat("Z"))


def _postgresql_ts() -> ColumnElement[str]:
    # a timestamptz prints only digits and separators: quoting needs no escaping
    text = func.to_char(func.timezone("UTC", _T.ts), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return literal('"').concat(func.replace(text, ".000000Z", "Z")).concat('"')


# keys in sorted order, as canonical_json writes them; each None is the value of a field
_TEMPLATE: tuple[tuple[str, str | None], ...] = (
    ('{"action":', "action"),
    (',"actor":{"client_address":', "client_address"),
    (',"name":', "actor_name"),
    (',"roles":', None),  # actor_roles: stored as canonical JSON, spliced as is
    (',"session_id":', "session_id"),
    (',"token_id":', "token_id"),
    (',"user_id":', "actor_user_id"),
    ('},"details":', None),  # details: likewise
    (',"justification":', "justification"),
    (',"outcome":', "outcome"),
    (',"project_id":', "project_id"),
    (',"reason":', "reason"),
    (',"seq":', None),
    (',"target":{"id":', "target_id"),
    (',"kind":', "target_kind"),
    ('},"ts":', None),
)
_RAW = {',"roles":': "actor_roles", '},"details":': "details"}


def canonical_expression(dialect: str) -> ColumnElement[str]:
    """The SQL expression of ``canonical_json(record.content())`` built from the columns."""
    quote: Callable[[Any], ColumnElement[str]]
    if dialect == "sqlite":
        quote, ts = _sqlite_quote, _sqlite_ts()
    else:
        quote, ts = _postgresql_quote, _postgresql_ts()
    values: list[ColumnElement[Any]] = []
    for key, name in _TEMPLATE:
        if name is not None:
            values.append(quote(_T[name]))
        elif key == ',"seq":':
            values.append(cast(_T.seq, Text))
        elif key == '},"ts":':
            values.append(ts)
        else:
            values.append(type_coerce(_T[_RAW[key]], String))
    if dialect == "sqlite":
        # one printf allocates the text once; a chain of || copies it at every step
        fmt = "".join(key.replace("%", "%%") + "%s" for key, _ in _TEMPLATE) + "}"
        return func.printf(literal(fmt, String), *values, type_=String)
    pieces: list[ColumnElement[str]] = []
    for (key, _), value in zip(_TEMPLATE, values, strict=True):
        pieces += [literal(key, String), type_coerce(value, String)]
    pieces.append(literal("}", String))
    return functools.reduce(lambda left, right: left.concat(right), pieces)


def canonical_sql(dialect: str) -> ColumnElement[str]:
    return canonical_expression(dialect).label("canonical")


def read_full(connection: Connection, from_seq: int, limit: int) -> list[EntryRow]:
    """Full rows from ``from_seq`` on, for the diagnosis of a damage."""
    query = select(*COLUMNS).where(_T.seq >= from_seq).order_by(_T.seq).limit(limit)
    return [EntryRow._make(r) for r in connection.execute(query)]


def from_entry(row: EntryRow) -> FastRow:
    """An entry read from a file, with its canonical text built in Python."""
    try:
        text: str | None = canonical_bytes(row).decode("utf-8")
    except (TypeError, ValueError, AttributeError):
        text = None
    return FastRow(row.seq, text, row.prev_hash, row.entry_hash)


class DatabaseSource:
    """Full rows from the database, for rechecks and the diagnosis of a damage."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def full(self, seq: int) -> EntryRow | None:
        with self.db.engine.connect() as connection:
            rows = read_full(connection, seq, 1)
        return rows[0] if rows and rows[0].seq == seq else None

    def window(self, seq: int, index: int) -> list[EntryRow]:
        with self.db.engine.connect() as connection:
            return read_full(connection, seq, LOOKAHEAD + 1)


_DONE = object()


def prefetch(batches: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Iterate ``batches`` in a thread, at most ``depth`` batches ahead (bounded memory)."""
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            queue.put(error)
        finally:
            closer = getattr(batches, "close", None)
            if closer is not None:
                closer()

    worker = threading.Thread(target=produce, name="audit-verify-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
        worker.join()
