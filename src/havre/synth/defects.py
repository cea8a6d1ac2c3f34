"""Dirty records: realistic defects put into a share of the records, each listed.

A defective record carries exactly one defect. Rules that keep ingestion's counts
unambiguous (docs/sources.md): no defect in a record of an opted-out person; a record that
other records depend on (a pharmacy claim line and its drugs, a stay and its diagnoses, the
beneficiary row of a person with events) can only be *duplicated*, never spoiled;
``unknown_person`` records carry a NIR that belongs to nobody.

Field defects are made on Arrow columns; ``invalid_utf8`` and ``truncated_line`` are made on
the bytes of the written lines, since no Arrow string can hold them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import tables, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import NEVER, day
from havre.synth.nir import UNKNOWN_ORDER_MIN, format_nir, nir_key, nir_number

BAD_DATE = "bad_date"
DATE_OUT_OF_RANGE = "date_out_of_range"
UNKNOWN_CODE = "unknown_code"
BAD_NIR_KEY = "bad_nir_key"
DUPLICATE = "duplicate"
MISSING_REQUIRED = "missing_required"
WRONG_TYPE = "wrong_type"
INVALID_UTF8 = "invalid_utf8"
TRUNCATED_LINE = "truncated_line"
UNKNOWN_PERSON = "unknown_person"
MALFORMED_JSON = "malformed_json"
KINDS = (
    BAD_DATE,
    DATE_OUT_OF_RANGE,
    UNKNOWN_CODE,
    BAD_NIR_KEY,
    DUPLICATE,
    MISSING_REQUIRED,
    WRONG_TYPE,
    INVALID_UTF8,
    TRUNCATED_LINE,
    UNKNOWN_PERSON,
    MALFORMED_JSON,
)
TEXT_ONLY = frozenset({BAD_DATE, WRONG_TYPE, INVALID_UTF8, TRUNCATED_LINE, MALFORMED_JSON})
"""Defects a typed Parquet column cannot hold."""

UNKNOWN_CODES = {
    "icd10": vocab.UNKNOWN_ICD10,
    "atc": vocab.UNKNOWN_ATC,
    "nabm": vocab.UNKNOWN_NABM,
    "prs_nat": vocab.UNKNOWN_PRS_NAT,
    "loinc": vocab.UNKNOWN_LOINC,
}
EARLIEST_VALID = day(dt.date(1900, 1, 1))


@dataclass
class Defects:
    """Defects of one file part: row (0-based, in the part as written), kind, field."""

    row: Array
    kind: Array  # str
    field: Array  # str, "" when the whole record is concerned

    @classmethod
    def none(cls) -> Defects:
        return cls(np.empty(0, np.int64), np.empty(0, "<U20"), np.empty(0, "<U40"))

    def __len__(self) -> int:
        return len(self.row)


def applicable(spec: tables.TableSpec, event: bool, text: bool) -> list[str]:
    kinds = [DUPLICATE, MISSING_REQUIRED]
    if spec.dates:
        kinds += [BAD_DATE, DATE_OUT_OF_RANGE]
    if spec.codes:
        kinds.append(UNKNOWN_CODE)
    if spec.nir:
        kinds.append(BAD_NIR_KEY)
        if event:
            kinds.append(UNKNOWN_PERSON)
    if spec.numeric:
        kinds.append(WRONG_TYPE)
    kinds += [INVALID_UTF8, TRUNCATED_LINE]
    return [kind for kind in KINDS if kind in kinds and (text or kind not in TEXT_ONLY)]


def choose(
    rng: np.random.Generator,
    rate: float,
    clean_only: Array,
    spoilable: Array,
    kinds: list[str],
) -> tuple[Array, Array]:
    """Rows that get a defect, and which kind each gets. ``clean_only`` rows (opted-out
    persons) get none; rows that are not ``spoilable`` can only be duplicated."""
    n = len(spoilable)
    if rate <= 0 or n == 0:
        return np.empty(0, np.int64), np.empty(0, "<U20")
    picked = np.flatnonzero(~clean_only & (rng.random(n) < rate))
    options = np.array(kinds)
    kind = options[rng.integers(0, len(options), len(picked))]
    kind = np.where(spoilable[picked], kind, DUPLICATE)
    return picked, kind


def unknown_nirs(rng: np.random.Generator, size: int, places: Array) -> pa.Array:
    """NIRs with a valid key whose order (990..999) no person is ever given."""
    sex = rng.integers(1, 3, size)
    year = rng.integers(1930, 2020, size)
    month = rng.integers(1, 13, size)
    place = places[rng.integers(0, len(places), size)]
    order = rng.integers(UNKNOWN_ORDER_MIN, 1000, size)
    key = nir_key(nir_number(sex, year, month, place, order))
    text = pc.utf8_lpad(pc.cast(pa.array(place), pa.string()), 5, "0")
    return format_nir(sex, year, month, text, order, key)


def _replace(column: pa.Array | pa.ChunkedArray, rows: Array, values: pa.Array) -> pa.Array:
    """``column`` with the given (sorted) rows replaced by ``values``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(column, pa.array(mask), values.cast(column.type))


@dataclass
class FieldEdits:
    """The picked records of a table (``rows``, sorted, with their ``kinds``) as their fields
    are spoiled: ``columns`` changed in place, ``fields`` the field each record lost."""

    rng: np.random.Generator
    columns: dict[str, pa.Array | pa.ChunkedArray]
    rows: Array
    kinds: Array
    fields: Array

    def edit(self, kind: str, pick_from: list[str], make: Callable[[str, Array], pa.Array]) -> None:
        """Each record of ``kind`` gets one field of ``pick_from``, drawn at random, replaced
        by what ``make(field, rows)`` gives."""
        chosen = np.flatnonzero(self.kinds == kind)
        if not chosen.size or not pick_from:
            return
        target = np.array(pick_from)[self.rng.integers(0, len(pick_from), chosen.size)]
        for name in pick_from:
            subset = chosen[target == name]
            if not subset.size:
                continue
            self.fields[subset] = name
            self.columns[name] = _replace(
                self.columns[name], self.rows[subset], make(name, self.rows[subset])
            )


def _as_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if column.type == pa.string() else pc.cast(column, pa.string())


def bad_dates(rng: np.random.Generator, iso: pa.Array) -> pa.Array:
    """Malformed or impossible dates made from real ones (``YYYY-MM-DD``)."""
    year = pc.utf8_slice_codeunits(iso, 0, 4)
    month = pc.utf8_slice_codeunits(iso, 5, 7)
    dd = pc.utf8_slice_codeunits(iso, 8, 10)
    variants = [
        pc.binary_join_element_wise(dd, month, year, "/"),  # 31/12/2019
        pc.binary_join_element_wise(year, pa.scalar("02"), pa.scalar("30"), "-"),  # 2019-02-30
        pc.binary_join_element_wise(year, pa.scalar("13"), dd, "-"),  # 2019-13-31
        pc.binary_join_element_wise(year, month, dd, ""),  # 20191231
    ]
    choice = rng.integers(0, len(variants), len(iso))
    out = variants[0]
    for index, variant in enumerate(variants[1:], start=1):
        out = pc.if_else(pa.array(choice == index), variant, out)
    return out


def dates_out_of_range(rng: np.random.Generator, birth: Array, end: int) -> Array:
    """Days before birth, after the delivery's end, or before 1900."""
    size = len(birth)
    choice = rng.integers(0, 3, size)
    before_birth = np.where(
        birth > EARLIEST_VALID + 400,
        birth - rng.integers(30, 400, size),
        EARLIEST_VALID - rng.integers(1, 4000, size),
    )
    after_end = end + rng.integers(1, 400, size)
    ancient = EARLIEST_VALID - rng.integers(1, 40_000, size)
    return np.select([choice == 0, choice == 1], [before_birth, after_end], ancient)


def wrong_types(rng: np.random.Generator, text: pa.Array) -> pa.Array:
    """Letters where a number belongs: ``25.5O``, ``3 boites``, ``N/A``."""
    suffix = pa.array(np.array(["O", " boites", "EUR", "x"])[rng.integers(0, 4, len(text))])
    joined = pc.binary_join_element_wise(text, suffix, "")
    return pc.if_else(pa.array(rng.random(len(text)) < 0.15), pa.scalar("N/A"), joined)


def wrong_keys(rng: np.random.Generator, nir: pa.Array) -> pa.Array:
    """The same NIR with a key that does not match."""
    key = pc.cast(pc.utf8_slice_codeunits(nir, 13, 15), pa.int64()).to_numpy()
    wrong = (key - 1 + rng.integers(1, 97, len(key))) % 97 + 1
    text = pc.utf8_lpad(pc.cast(pa.array(wrong), pa.string()), 2, "0")
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(nir, 0, 13), text, "")


@dataclass(frozen=True)
class Context:
    """What field defects need beyond the table itself."""

    birth: Array  # chunk-local person -> birth day
    end: int
    places: Array  # NIR place numbers for unknown persons


def spoil_table(
    rng: np.random.Generator,
    spec: tables.TableSpec,
    table: pa.Table,
    person: Array,
    rows: Array,
    kinds: Array,
    context: Context,
    text: bool,
) -> tuple[pa.Table, Defects, dict[str, Array]]:
    """Apply field defects and duplicates. Returns the table (duplicates appended), the
    defects, and the rows whose bytes must be spoiled after writing (by kind)."""
    order = np.argsort(rows, kind="stable")
    rows, kinds = rows[order], kinds[order]
    fields = np.full(len(rows), "", dtype="<U40")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        name: table.column(name) for name in table.column_names
    }
    edit = FieldEdits(rng, columns, rows, kinds, fields).edit

    if text:
        for name in spec.dates:
            columns[name] = _as_text(columns[name])
    edit(
        BAD_DATE,
        list(spec.dates),
        lambda name, r: bad_dates(rng, _as_text(columns[name]).take(pa.array(r))),
    )
    edit(
        DATE_OUT_OF_RANGE,
        list(spec.dates),
        lambda name, r: _dates(dates_out_of_range(rng, context.birth[person[r]], context.end)),
    )
    edit(
        UNKNOWN_CODE,
        [name for name, _ in spec.codes],
        lambda name, r: pa.array(
            np.array(UNKNOWN_CODES[dict(spec.codes)[name]])[
                rng.integers(0, len(UNKNOWN_CODES[dict(spec.codes)[name]]), len(r))
            ]
        ),
    )
    edit(
        BAD_NIR_KEY,
        [spec.nir] if spec.nir else [],
        lambda name, r: wrong_keys(rng, _as_text(columns[name]).take(pa.array(r))),
    )
    edit(
        UNKNOWN_PERSON,
        [spec.nir] if spec.nir else [],
        lambda name, r: unknown_nirs(rng, len(r), context.places),
    )
    edit(
        MISSING_REQUIRED, list(spec.required), lambda name, r: pa.nulls(len(r), columns[name].type)
    )
    if text:
        for name in spec.numeric:
            if (kinds == WRONG_TYPE).any():
                columns[name] = _as_text(columns[name])
    edit(
        WRONG_TYPE,
        spec.numeric,
        lambda name, r: wrong_types(rng, _as_text(columns[name]).take(pa.array(r))),
    )

    out = pa.table(columns)
    duplicated = rows[kinds == DUPLICATE]
    if duplicated.size:
        out = pa.concat_tables([out, out.take(pa.array(duplicated))])
    n = table.num_rows
    final_rows = rows.copy()
    final_rows[kinds == DUPLICATE] = n + np.arange(duplicated.size)
    later = {kind: rows[kinds == kind] for kind in (INVALID_UTF8, TRUNCATED_LINE)}
    text_field = _text_field(spec)
    fields[kinds == INVALID_UTF8] = text_field
    defects = Defects(final_rows, kinds.astype("<U20"), fields)
    keep = np.argsort(defects.row, kind="stable")
    return out, Defects(defects.row[keep], defects.kind[keep], defects.field[keep]), later


def _dates(days: Array) -> pa.Array:
    clipped = np.clip(days, -(2**31) + 1, NEVER - 1).astype(np.int32)
    return pa.array(clipped, pa.int32()).cast(pa.date32())


def _text_field(spec: tables.TableSpec) -> str:
    """The field that gets a non-UTF-8 byte: a code, else the NIR, else the first text."""
    if spec.codes:
        return spec.codes[0][0]
    if spec.nir:
        return spec.nir
    return next(name for name, kind in spec.columns if kind == tables.STRING)


def rewrite(data: bytes, insert_at: Array, cut_from: Array, cut_to: Array) -> bytes:
    """``data`` with a Latin-1 ``é`` (0xE9, never valid alone in UTF-8) inserted before each
    ``insert_at`` offset and the bytes of each [cut_from, cut_to) range removed."""
    if not len(insert_at) and not len(cut_from):
        return data
    raw = np.frombuffer(data, dtype=np.uint8)
    change = np.zeros(len(raw) + 1, dtype=np.int64)
    np.add.at(change, cut_from.astype(np.int64), 1)
    np.add.at(change, cut_to.astype(np.int64), -1)
    keep = np.cumsum(change)[:-1] == 0
    positions = insert_at.astype(np.int64)
    return bytes(np.insert(raw, positions, 0xE9)[np.insert(keep, positions, True)].tobytes())


def spoil_bytes(data: bytes, rows: dict[str, Array], spec: tables.TableSpec) -> bytes:
    """Insert a Latin-1 byte into a field of some lines and cut others short.

    ``data`` holds whole ``;``-separated lines without a header; rows are 0-based lines."""
    invalid = rows.get(INVALID_UTF8, np.empty(0, np.int64)).astype(np.int64)
    truncated = rows.get(TRUNCATED_LINE, np.empty(0, np.int64)).astype(np.int64)
    if not len(invalid) and not len(truncated):
        return data
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate([[0], ends[:-1] + 1])
    separators = np.flatnonzero(raw == ord(";"))

    def field_start(lines: Array, field: int) -> Array:
        if field == 0:
            return np.asarray(starts[lines])
        first = np.searchsorted(separators, starts[lines])
        return np.asarray(separators[first + field - 1] + 1)

    names = spec.column_names
    # A truncated line keeps its first half of fields, without the separator that follows.
    cut_from = field_start(truncated, len(names) // 2) - 1
    insert_at = field_start(invalid, names.index(_text_field(spec)))
    return rewrite(data, insert_at, cut_from, ends[truncated])
