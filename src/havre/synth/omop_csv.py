"""OMOP CSV lines (RFC 4180, ``,``-separated) from a table's rows, and the OMOP share of dirty
records: only defects the OMOP reader can tell (docs/sources.md), one per record.

A record other records hang on (a person, a visit with diagnoses, a place) is at most
duplicated; records of opted-out persons are never spoiled; ``unknown_person`` records carry
a ``person_id`` the warehouse never gave. Dates out of range are before the person's year of
birth, before 1900, or a century late (a year typed ``21xx``): the reader knows no date of
extraction for an OMOP delivery, only the day it runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import defects as d
from havre.synth.arrays import Array
from havre.synth.calendar import day
from havre.synth.csvtext import as_text
from havre.synth.fhir import iso
from havre.synth.omop import (
    DATE,
    FLOAT,
    INTEGER,
    SOURCE_NAME,
    VARCHAR,
    OmopRows,
    cdm_columns,
    source_person_ids,
)
from havre.synth.options import MAX_PERSONS

KINDS = (
    d.BAD_DATE,
    d.DATE_OUT_OF_RANGE,
    d.DUPLICATE,
    d.MISSING_REQUIRED,
    d.WRONG_TYPE,
    d.INVALID_UTF8,
    d.TRUNCATED_LINE,
    d.UNKNOWN_PERSON,
)
CENTURY_DAYS = 36_525
EARLIEST = day(dt.date(1900, 1, 1))
_NEEDS_QUOTES = r'[,"\n\r]'


@dataclass
class Written:
    """A table's lines for one chunk (no header) and what they hold."""

    data: bytes
    rows: int
    optout_rows: int
    defects: d.Defects


def cdm_source(released: dt.date) -> bytes:
    """``cdm_source.csv``: what the export is and when it was made (the reader skips it)."""
    values = {
        "cdm_source_name": "Groupe hospitalier - entrepôt de données de santé (synthétique)",
        "cdm_source_abbreviation": SOURCE_NAME,
        "cdm_holder": "Groupe hospitalier",
        "source_description": "Synthetic data made by havre synth; no real person.",
        "source_release_date": released.isoformat(),
        "cdm_release_date": released.isoformat(),
        "cdm_version": "v5.4",
        "cdm_version_concept_id": "0",
        "vocabulary_version": "none",
    }
    names = [column.name for column in cdm_columns("cdm_source")]
    table = pa.table({name: pa.array([values.get(name)], pa.string()) for name in names})
    data, _, _ = _lines(table)
    return (",".join(names) + "\n").encode() + data


def text_table(rows: OmopRows) -> pa.Table:
    """Every column of the table as CSV text, in specification order (absent: null)."""
    size = len(rows)
    unknown = set(rows.columns) - {column.name for column in cdm_columns(rows.table)}
    if unknown:
        raise KeyError(f"{rows.table} has no column(s) {sorted(unknown)}")
    out = {}
    for column in cdm_columns(rows.table):
        value = rows.columns.get(column.name)
        out[column.name] = (
            pa.nulls(size, pa.string()) if value is None else as_text(value).cast(pa.string())
        )
    return pa.table(out)


def _roles(rows: OmopRows) -> dict[str, list[str]]:
    """The filled columns a defect may touch, by what they are."""
    columns = cdm_columns(rows.table)
    filled = [c for c in columns if c.name in rows.columns]
    key = f"{rows.table}_id"
    return {
        "dates": [c.name for c in filled if c.datatype == DATE],
        "required": [c.name for c in filled if c.required],
        "numeric": [
            c.name
            for c in filled
            if c.datatype in (INTEGER, FLOAT) and c.name not in (key, "person_id")
        ],
        "text": [c.name for c in filled if c.datatype == VARCHAR],
    }


def applicable(rows: OmopRows) -> list[str]:
    roles = _roles(rows)
    kinds = {d.DUPLICATE, d.TRUNCATED_LINE}
    if roles["required"]:
        kinds.add(d.MISSING_REQUIRED)
    if roles["dates"]:
        kinds |= {d.BAD_DATE, d.DATE_OUT_OF_RANGE}
    if roles["numeric"]:
        kinds.add(d.WRONG_TYPE)
    if roles["text"]:
        kinds.add(d.INVALID_UTF8)
    if "person_id" in rows.columns:
        kinds.add(d.UNKNOWN_PERSON)
    return [kind for kind in KINDS if kind in kinds]


def dates_out_of_range(rng: np.random.Generator, dates: pa.Array, birth_year: Array) -> pa.Array:
    """Before the year of birth (the reader's birth is 1 January of it), before 1900, or
    a century after the real date."""
    size = len(dates)
    real = np.asarray(pc.cast(pc.cast(dates, pa.date32()), pa.int32()).to_numpy(), np.int64)
    born = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    choice = rng.integers(0, 3, size)
    before_birth = np.where(
        born > EARLIEST + 400,
        born - rng.integers(1, 400, size),
        EARLIEST - rng.integers(1, 4000, size),
    )
    ancient = EARLIEST - rng.integers(1, 40_000, size)
    late = real + CENTURY_DAYS + rng.integers(0, 365, size)
    return iso(np.select([choice == 0, choice == 1], [before_birth, ancient], late))


def _quoted(column: pa.Array) -> pa.Array:
    """RFC 4180: a value holding a comma, a quote or a line break goes between quotes."""
    needs = pc.match_substring_regex(column, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return column
    inner = pc.replace_substring(column, '"', '""')
    wrapped = pc.binary_join_element_wise(pa.scalar('"'), inner, pa.scalar('"'), "")
    return pc.if_else(needs, wrapped, column)


def _lines(table: pa.Table) -> tuple[bytes, Array, Array]:
    """The table as CSV lines (no header), each line's start, and each field's length."""
    if table.num_rows == 0:
        return b"", np.empty(0, np.int64), np.empty((0, table.num_columns), np.int64)
    columns = [_quoted(table.column(name).combine_chunks()) for name in table.column_names]
    joined = pc.binary_join_element_wise(
        *columns, pa.scalar(","), null_handling="replace", null_replacement=""
    )
    lines = pc.binary_join_element_wise(joined, pa.scalar(""), "\n").cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    widths = np.column_stack(
        [pc.fill_null(pc.binary_length(c), 0).to_numpy().astype(np.int64) for c in columns]
    )
    return data, offsets[:-1] - offsets[0], widths


def _field_start(starts: Array, widths: Array, rows: Array, field: int) -> Array:
    return np.asarray(starts[rows] + widths[rows, :field].sum(axis=1) + field, dtype=np.int64)


def part(
    rng: np.random.Generator,
    rows: OmopRows,
    rate: float,
    optout: Array,
    birth: Array,
    seed: int,
) -> Written:
    """The CSV lines of a table's rows, a share ``rate`` of them spoiled, each defect listed."""
    has_person = rows.person >= 0
    clean_only = np.zeros(len(rows), dtype=bool)
    clean_only[has_person] = optout[rows.person[has_person]]
    picked, kinds = d.choose(rng, rate, clean_only, rows.leaf, applicable(rows))
    order = np.argsort(picked, kind="stable")
    picked, kinds = picked[order], kinds[order]
    table = text_table(rows)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        name: table.column(name).combine_chunks() for name in table.column_names
    }
    fields = np.full(len(picked), "", dtype="<U40")
    roles = _roles(rows)
    edit = d.FieldEdits(rng, columns, picked, kinds, fields).edit

    def current(name: str, at: Array) -> pa.Array:
        return columns[name].take(pa.array(at))

    birth_year = birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    edit(d.BAD_DATE, roles["dates"], lambda n, r: d.bad_dates(rng, current(n, r)))
    edit(
        d.DATE_OUT_OF_RANGE,
        roles["dates"],
        lambda n, r: dates_out_of_range(rng, current(n, r), birth_year[rows.person[r]]),
    )
    edit(
        d.UNKNOWN_PERSON,
        ["person_id"],
        lambda n, r: pc.cast(
            pa.array(source_person_ids(seed, MAX_PERSONS + rng.integers(0, 2**30, len(r)))),
            pa.string(),
        ),
    )
    edit(d.MISSING_REQUIRED, roles["required"], lambda n, r: pa.nulls(len(r), pa.string()))
    edit(d.WRONG_TYPE, roles["numeric"], lambda n, r: d.wrong_types(rng, current(n, r)))

    out = pa.table(columns)
    size = out.num_rows
    duplicated = picked[kinds == d.DUPLICATE]
    if duplicated.size:
        out = pa.concat_tables([out, out.take(pa.array(duplicated))])
    final_rows = picked.copy()
    final_rows[kinds == d.DUPLICATE] = size + np.arange(duplicated.size)

    data, starts, widths = _lines(out)
    names = out.column_names
    invalid = picked[kinds == d.INVALID_UTF8]
    text_field = roles["text"][0] if roles["text"] else names[0]
    fields[kinds == d.INVALID_UTF8] = text_field
    truncated = picked[kinds == d.TRUNCATED_LINE]
    # a truncated line keeps its first half of fields, without the separator that follows
    cut_from = _field_start(starts, widths, truncated, len(names) // 2) - 1
    cut_to = _field_start(starts, widths, truncated, len(names) - 1) + widths[truncated, -1]
    insert_at = _field_start(starts, widths, invalid, names.index(text_field))
    data = d.rewrite(data, insert_at, cut_from, cut_to)

    keep = np.argsort(final_rows, kind="stable")
    found = d.Defects(final_rows[keep], kinds[keep].astype("<U20"), fields[keep])
    return Written(data, out.num_rows, int(clean_only.sum()), found)
