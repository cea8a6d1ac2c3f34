"""What a reader hands the pipeline: the delivery's files, and its source tables resolved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from havre.ingest.fields import Field


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


@dataclass(frozen=True)
class StageJoin:
    """What a record refers to, resolved while it is staged (one pass over the file).

    ``clause`` joins the record (alias ``s``) to a small table of keys (persons, claims,
    stays); ``reference`` is the SQL problem that follows (unknown, quarantined parent, a date
    before birth...); ``opted_out`` says whether the record belongs to an objector;
    ``columns`` are copied from what it refers to (person, dates, position).
    """

    clause: str
    reference: str
    opted_out: str
    columns: dict[str, str] = field(default_factory=dict)


def staged_select(inner: str, names: list[str], join: StageJoin | None) -> str:
    """SQL over a checked stream ``inner`` (its columns ``names`` and ``problem``): the staged
    record with its problem (own, else from its references), ``opted`` and copied columns."""
    kept = ", ".join(f"s.{name}" for name in ["file_id", "line_no", *names])
    if join is None:
        return f"SELECT {kept}, s.problem, false AS opted FROM ({inner}) AS s"
    copied = "".join(f", {expr} AS {name}" for name, expr in join.columns.items())
    return (
        f"SELECT {kept}, coalesce(s.problem, CASE WHEN s.problem IS NULL THEN {join.reference} "
        f"END) AS problem, coalesce({join.opted_out}, false) AS opted{copied} "
        f"FROM ({inner}) AS s {join.clause}"
    )
