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

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection

from havre.audit.models import AuditEntryRow
from havre.audit.rows import COLUMNS, EntryRow, canonical_bytes
from havre.db.database import Database

_T = AuditEntryRow.__table__.c
LOOKAHEAD = 256  # full rows read past a damage, to tell its kind


class FastRow(NamedTuple):
    seq: int
    canonical: str | None  # None: the database could not build it (a NULL where none belongs)
    prev_hash: str
    entry_hash: str


def _sqlite_quote(column: Any) -> ColumnElement[str]:
    return func.json_quote(column, type_=String)  # json_quote(NULL) is 'null'


Pieces = list[str | ColumnElement[str]]  # literal text and SQL values, in order


def _postgresql_quote(column: Any) -> Pieces:
    return [func.coalesce(cast(func.to_json(column), Text), literal("null"))]


def _postgresql_escape(column: Any) -> Pieces:
    """``to_json`` for strings without control characters: the backslash, then the quote."""
    escaped = func.replace(func.replace(column, "\\", "\\\\"), '"', '\\"')
    if not column.nullable:
        return ['"', escaped, '"']
    return [func.coalesce(literal('"', String).concat(escaped).concat('"'), literal("null"))]


def _sqlite_ts() -> ColumnElement[str]:
    raw = _ts_text()
    trimmed = case((func.substr(raw, 21) == "000000", func.substr(raw, 1, 19)), else_=raw)
    # the column is text on SQLite: anyone may have written anything there, so quote it
    return _sqlite_quote(func.replace(trimmed, " ", "T").concat("Z"))


def _postgresql_ts() -> Pieces:
    # a timestamptz prints only digits and separators: quoting needs no escaping. The era
    # is printed too and dropped when it is AD: a year BC prints the same digits, and an
    # entry moved there must not read as its original
    text = func.to_char(func.timezone("UTC", _T.ts), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"AD')
    trimmed = func.replace(func.replace(text, ".000000ZAD", "Z"), "ZAD", "Z")
    return ['"', trimmed, '"']


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
    if dialect == "sqlite":
        return _sqlite_text(_sqlite_ts())
    return _postgresql_text(_postgresql_quote, _postgresql_ts())


def comparison_expression(dialect: str) -> ColumnElement[str]:
    """A cheaper build of the same text, only to compare with the stored text.

    It equals ``canonical_expression`` for every entry whose strings hold no control
    character and whose timestamp has a fraction of a second; elsewhere it differs, and the
    comparison falls back to ``canonical_expression`` (``stored_text_differs``). PostgreSQL
    escapes only the quote and the backslash (``to_json`` costs most of the time there), and
    both databases write the timestamp without trimming a zero fraction. Like the exact text
    it is injective: a string ends at the first quote not escaped by a backslash, so the
    columns of a stored text are found in one way only.
    """
    if dialect == "sqlite":
        return _sqlite_text(_sqlite_quote(func.replace(_ts_text(), " ", "T").concat("Z")))
    return _postgresql_text(_postgresql_escape, _postgresql_ts())


def stored_text_differs(dialect: str) -> ColumnElement[bool]:
    """True where an entry's stored text is not the text of its columns (NULL: not stored).

    The cheap text is compared first and the exact one only where the cheap one differs (a
    CASE keeps that order; a WHERE's conjuncts may be reordered by the planner). A stored
    text equal to the cheap text but not to the exact one holds a raw control character: the
    page reader refuses those (``bulk.BulkScanner.feed``), so nothing laxer passes here.
    """
    # spelled out: SQLAlchemy's is_distinct_from loses literal_binds on SQLite
    same, differs = (
        ("IS", "IS NOT") if dialect == "sqlite" else ("IS NOT DISTINCT FROM", "IS DISTINCT FROM")
    )
    stored = _T.canonical
    check = case(
        (stored.op(same, is_comparison=True)(comparison_expression(dialect)), false()),
        else_=stored.op(differs, is_comparison=True)(canonical_expression(dialect)),
    )
    return and_(stored.is_not(None), check)


def _ts_text() -> ColumnElement[str]:
    return type_coerce(_T.ts, String)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)


def _sqlite_text(ts: ColumnElement[str]) -> ColumnElement[str]:
    values: list[ColumnElement[Any]] = []
    for key, name in _TEMPLATE:
        if name is not None:
            values.append(_sqlite_quote(_T[name]))
        elif key == ',"seq":':
            values.append(cast(_T.seq, Text))
        elif key == '},"ts":':
            values.append(ts)
        else:
            values.append(type_coerce(_T[_RAW[key]], String))
    # one printf allocates the text once; a chain of || copies it at every step
    fmt = "".join(key.replace("%", "%%") + "%s" for key, _ in _TEMPLATE) + "}"
    return func.printf(literal(fmt, String), *values, type_=String)


def _postgresql_text(quote: Callable[[Any], Pieces], ts: Pieces) -> ColumnElement[str]:
    pieces: Pieces = []
    for key, name in _TEMPLATE:
        pieces.append(key)
        if name is not None:
            pieces += quote(_T[name])
        elif key == ',"seq":':
            pieces.append(cast(_T.seq, Text))
        elif key == '},"ts":':
            pieces += ts
        else:
            pieces.append(type_coerce(_T[_RAW[key]], String))
    pieces.append("}")
    merged: Pieces = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece  # one literal for a key and the quote beside it
        else:
            merged.append(piece)
    return _balanced(
        [literal(p, String) if isinstance(p, str) else type_coerce(p, String) for p in merged]
    )


def _balanced(pieces: list[ColumnElement[str]]) -> ColumnElement[str]:
    """``a || b || c || d`` as ``(a || b) || (c || d)``: each byte is copied log2(n) times,
    not once per later piece."""
    if len(pieces) == 1:
        return pieces[0]
    middle = len(pieces) // 2
    # a custom operator: SQLAlchemy would flatten its own || (it treats it as associative)
    concat = _balanced(pieces[:middle]).op("||", return_type=String)
    return concat(_balanced(pieces[middle:]))


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
        with self.db.connect() as connection:
            rows = read_full(connection, seq, 1)
        return rows[0] if rows and rows[0].seq == seq else None

    def window(self, seq: int, index: int) -> list[EntryRow]:
        with self.db.connect() as connection:
            return read_full(connection, seq, LOOKAHEAD + 1)
