"""What a reader hands the pipeline: the delivery's files, and its source tables resolved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from havre.ingest.fields import Field, Kind, date_column, quarantine_value_sql


@dataclass(frozen=True)
class SourceFile:
    """One file of a delivery, hashed before anything is read from it."""

    file_id: int
    path: Path
    name: str  # relative to the delivery folder
    table: str  # the source table it holds (``ER_PRS_F``, ``Patient``...)
    sha256: str
    bytes: int
    declared_rows: int | None = None


@dataclass
class Delivery:
    kind: str
    root: Path
    files: list[SourceFile]
    sha256: str  # of the sorted (name, sha256) list: the delivery's identity
    notes: list[str] = field(default_factory=list)
    # when the source extracted it (delivery.json created_at, FHIR transactionTime):
    # nothing in it can have happened later
    extracted_at: dt.datetime | None = None

    def by_table(self) -> dict[str, list[SourceFile]]:
        tables: dict[str, list[SourceFile]] = {}
        for item in self.files:
            tables.setdefault(item.table, []).append(item)
        return tables

    def file(self, file_id: int) -> SourceFile:
        return self.files[file_id]


# Constant columns a file's records get while staged (name -> SQL), e.g. a PMSI file's year:
# files of several source tables can then be staged into one relation
ExtraColumns = Callable[[SourceFile], dict[str, str]]
# The fields of a file's own table, when files of tables with different fields are staged
# into one relation (its columns: the union of their fields, NULL where a table has none)
FieldsOf = Callable[[SourceFile], tuple[Field, ...]]


def field_union(*tables: tuple[Field, ...]) -> tuple[Field, ...]:
    """The fields of several tables, each name once (a name two tables share, such as a key,
    must be the same field in both), in order of first appearance."""
    seen: dict[str, Field] = {}
    for fields in tables:
        for f in fields:
            if seen.setdefault(f.name, f) != f:
                raise ValueError(f"{f.name}: not the same field in every table staged together")
    return tuple(seen.values())


# the hashes of a staged record's line: two (128 bits) tell exact duplicates apart in a table
# without a key; in a keyed table only records sharing a key are compared, and one will do
LINE_HASHES = ("h1", "h2")
KEYED_LINE_HASHES = ("h1",)


def line_hashes(keyed: bool) -> tuple[str, ...]:
    return KEYED_LINE_HASHES if keyed else LINE_HASHES


def line_hashes_sql(hashes: tuple[str, ...], text: str, separator: str) -> str:
    """SQL select items: the line hashes of ``text`` (``h2`` hashes it with one more byte)."""
    sql = {"h1": f"hash({text}) AS h1", "h2": f"hash({text} || {separator}) AS h2"}
    return ", ".join(sql[h] for h in hashes)


def checked_names(
    fields: tuple[Field, ...], extras: list[str], hashes: tuple[str, ...]
) -> list[str]:
    """Columns of a checked record, after ``file_id`` and ``line_no`` (``extras`` quoted)."""
    dates = [date_column(f) for f in fields if f.kind is Kind.DATE]
    return [*hashes, *[f.column for f in fields], *dates, *extras]


def padded_select(
    checked: str,
    own: tuple[Field, ...],
    fields: tuple[Field, ...],
    extra: list[str],
    hashes: tuple[str, ...] = LINE_HASHES,
) -> str:
    """SQL: a file's checked records (its ``own`` fields) with the columns of a relation
    staged from several tables (``fields``, then ``extra`` columns): NULL where it has none."""
    mine = {f.name for f in own}
    values = [
        f.column if f.name in mine else f"CAST(NULL AS VARCHAR) AS {f.column}" for f in fields
    ]
    dates = [
        date_column(f) if f.name in mine else f"CAST(NULL AS DATE) AS {date_column(f)}"
        for f in fields
        if f.kind is Kind.DATE
    ]
    listed = ", ".join(["file_id", "line_no", *hashes, *values, *dates, *extra, "problem"])
    return f"SELECT {listed} FROM ({checked}) AS o"


# Status of every record read; the reconciliation counts them.
LOADED = "loaded"
QUARANTINED = "quarantined"
OPTED_OUT = "opted_out"
DUPLICATE = "duplicate"
STATUSES = (LOADED, QUARANTINED, OPTED_OUT, DUPLICATE)


@dataclass(frozen=True)
class ResolvedTable:
    """A source table after validation: ``relation`` has one row per record read, with
    ``file_id``, ``line_no``, ``status``, ``problem`` (``reason|FIELD``) and the fields."""

    name: str
    relation: str
    fields: tuple[Field, ...]
    # SQL over the relation (alias ``r``) giving a quarantined record's offending value, when
    # the relation keeps it in a column instead of every field (``stored_select``)
    quarantine_value: str | None = None


@dataclass(frozen=True)
class StageJoin:
    """What a record refers to, resolved while it is staged (one pass over the file).

    ``clause`` joins the record (alias ``s``) to a small table of keys (persons, claims,
    stays); ``reference`` is the SQL problem that follows (unknown, quarantined parent, a date
    before birth...); ``opted_out`` says whether the record belongs to an objector;
    ``columns`` are copied from what it refers to (person, dates, position); ``named``: the
    fields a ``reference`` problem can name.
    """

    clause: str
    reference: str
    opted_out: str
    columns: dict[str, str] = field(default_factory=dict)
    named: tuple[str, ...] = ()

    def from_sql(self, records: str) -> str:
        """SQL after FROM: ``records`` (a parenthesized query, alias ``s``) joined."""
        return f"{records} AS s {self.clause}"


def _value(fields: tuple[Field, ...], problem: str, alias: str) -> str:
    """SQL: the offending value of the field a ``problem`` names (NULL when it has none)."""
    field_name = f"nullif(split_part({alias}.{problem}, '|', 2), '')"
    value = quarantine_value_sql(fields, field_name, alias)
    return f"CAST(CASE WHEN {alias}.{problem} IS NOT NULL THEN {value} END AS VARCHAR)"


def staged_select(
    inner: str, names: list[str], join: StageJoin | None, fields: tuple[Field, ...]
) -> str:
    """SQL over a checked stream ``inner`` (its columns ``names`` and ``problem``): the staged
    record with its problem (own, else from its references), ``qvalue`` (the problem's
    offending value), ``opted`` and copied columns.

    The value of a record's own problem is taken before the join, so the fields nothing
    after it reads (``stored_select`` keeps few of a large table's) are dropped before it.
    """
    own = f"SELECT *, {_value(fields, 'problem', 'c')} AS qvalue FROM ({inner}) AS c"
    kept = ", ".join(f"s.{name}" for name in ["file_id", "line_no", *names])
    if join is None:
        return f"SELECT {kept}, s.problem, s.qvalue, false AS opted FROM ({own}) AS s"
    copied = "".join(f", {expr} AS {name}" for name, expr in join.columns.items())
    joined = (
        f"SELECT {kept}, s.problem, s.qvalue, "
        f"CASE WHEN s.problem IS NULL THEN {join.reference} END AS ref, "
        f"coalesce({join.opted_out}, false) AS opted{copied} "
        f"FROM {join.from_sql(f'({own})')}"
    )
    named = tuple(f for f in fields if f.name in join.named)
    outer = ", ".join(f"r.{name}" for name in ["file_id", "line_no", *names])
    carried = "".join(f", r.{name}" for name in join.columns)
    return (
        f"SELECT {outer}, coalesce(r.problem, r.ref) AS problem, "
        f"coalesce(r.qvalue, {_value(named, 'ref', 'r')}) AS qvalue, r.opted{carried} "
        f"FROM ({joined}) AS r"
    )


def stored_select(
    staged: str,
    fields: tuple[Field, ...],
    *,
    keep: frozenset[str] | None,
    extra: list[str],
    join: StageJoin | None,
    hashes: tuple[str, ...] = LINE_HASHES,
) -> str:
    """SQL over ``staged_select``: the row a staged table stores.

    With ``keep`` (the fields the mapping reads, keys included), only those fields are
    stored, DATE fields as DATE: the other fields are read, checked and dropped — no copy of
    every value of a large table sits in the engine. A quarantined record's offending value is
    kept in ``qvalue`` (withheld for direct identifiers) whatever is dropped.
    """
    columns = []
    for f in fields:
        if keep is not None and f.name not in keep:
            continue
        typed = keep is not None and f.kind is Kind.DATE
        columns.append(f"t.{date_column(f)} AS {f.column}" if typed else f"t.{f.column}")
    copied = [f"t.{name}" for name in (join.columns if join else {})]
    listed = ", ".join(["t.file_id", "t.line_no", *(f"t.{h}" for h in hashes), *columns, *extra])
    tail = ", ".join(["t.problem", "t.qvalue", "t.opted", *copied])
    return f"SELECT {listed}, {tail} FROM ({staged}) AS t"
