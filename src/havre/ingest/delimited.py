"""Staging delimited text files (SNDS ``;`` files, OMOP CSV) into a checked table.

Each file streams through the engine once: lines are decoded, split, trimmed and checked in a
single statement, appended to ``chk_<table>`` with their file and line number. Identifiers
stay in the engine's memory (and its spill files under the hub's ``tmp``) only for the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from havre.core.errors import DataValidationError, EngineError
from havre.ingest.context import ByteCounter, IngestContext
from havre.ingest.fields import (
    KIND,
    Field,
    Kind,
    dates_sql,
    problem_sql,
    quote,
    value_sql,
)
from havre.ingest.line_format import LineFormat, line_format
from havre.ingest.model import (
    ExtraColumns,
    FieldsOf,
    SourceFile,
    StageJoin,
    checked_names,
    line_hashes,
    line_hashes_sql,
    padded_select,
    staged_select,
    stored_select,
)
from havre.lake.engine import Lines, sql_literal
from havre.lake.textfiles import check_header, line_sql, read_header, uses_crlf

# one field of an RFC 4180 line, matched with the comma before it (the line is given one
# more at its start): quoted (with "" inside) or bare. Every match takes at least its comma:
# an empty match at the line's start would make the engine step over the next character, and
# a line whose first field is empty lose its second.
_CSV_FIELD = r',("(?:[^"]|"")*"|[^,]*)'


@dataclass(frozen=True)
class DelimitedFormat:
    delimiter: str
    quoted: bool = False  # RFC 4180 quoting (OMOP exports); SNDS files have none
    strict_header: bool = True  # columns exactly as specified, in order (SNDS)


def _parts_sql(fmt: DelimitedFormat) -> str:
    split = f"string_split(line, '{fmt.delimiter}')"
    if fmt.quoted:
        # only a line with a quote needs the field pattern (~20x the cost of a split); any
        # other splits alike at every delimiter
        fields = f"regexp_extract_all(',' || line, '{_CSV_FIELD}', 1)"
        return f"CASE WHEN line LIKE '%\"%' THEN {fields} ELSE {split} END"
    return split


def _part_sql(fmt: DelimitedFormat, index: int) -> str:
    part = f"parts[{index + 1}]"
    if not fmt.quoted:
        return part
    return (
        f"CASE WHEN {part} LIKE '\"%\"' AND length({part}) >= 2 "
        f"THEN replace(substr({part}, 2, length({part}) - 2), '\"\"', '\"') ELSE {part} END"
    )


def header_positions(
    path: Path, fields: tuple[Field, ...], fmt: DelimitedFormat
) -> tuple[dict[str, int], int]:
    """Where each field is in a file's lines, and how many fields a line must have, from its
    first line. What that line tells — binary, empty, not UTF-8, not its table's header — is
    refused here: readers call it when a delivery is inspected, so such a file fails before
    any file is hashed or record read, on either engine, and staging calls it again for the
    positions."""
    header = read_header(path)
    names = [name.strip().strip('"').strip() for name in header.split(fmt.delimiter)]
    if fmt.strict_header:
        check_header(path, header, [f.name for f in fields], fmt.delimiter)
        return {f.name: i for i, f in enumerate(fields)}, len(fields)
    lowered = [n.lower() for n in names]
    if len(names) == 1 and fmt.delimiter not in header:
        check_header(path, header, [f.name for f in fields], fmt.delimiter)
    positions = {f.name: lowered.index(f.name.lower()) for f in fields if f.name.lower() in lowered}
    missing = [
        f.name for f in fields if f.required and f.default is None and f.name not in positions
    ]
    if missing:
        raise DataValidationError(
            f"{path.name}: required column(s) {', '.join(missing)} missing from the header.",
            hint="the file does not have the columns of its table",
        )
    return positions, len(names)


def stage_delimited(
    ctx: IngestContext,
    table: str,
    files: list[SourceFile],
    fields: tuple[Field, ...],
    fmt: DelimitedFormat,
    *,
    extra_columns: ExtraColumns | None = None,
    join: StageJoin | None = None,
    keep: frozenset[str] | None = None,
    fields_of: FieldsOf | None = None,
    keyed: bool = False,
) -> str:
    """Stage and check every file of a table; return the relation ``chk_<table>``.

    Columns: ``file_id``, ``line_no``, ``h1``/``h2`` (two 64-bit hashes of the line, for exact
    duplicates; ``h1`` alone when the table is ``keyed``: see ``flag_duplicates``), the fields
    (VARCHAR, NULL when empty; only ``keep`` with dates typed, see ``stored_select``),
    ``extra_columns`` (constant per file, e.g. the year of a PMSI file), ``problem``
    (``reason|FIELD`` or NULL), ``qvalue`` (its offending value), ``opted`` and, with a
    ``join``, the columns it copies.

    All the files are read by one statement, each as a stream of its lines: the engine's
    threads take the line batches in turn (reading the next while others check theirs), and
    a ``join`` builds its lookup table once, not once per file or block. ``fields_of``: the
    files hold several tables that refer to the same parent (``fields`` is the union of
    theirs, see ``field_union``): each file is checked against its own table's fields, and
    the one lookup table serves them all.
    """
    relation = f"chk_{table}"
    hashes = line_hashes(keyed)
    # files laid out alike (a table's yearly files) are checked by one branch over the union
    # of their lines: the engine plans the checks once, not once per file (~0.3 s of fixed
    # cost for the PMSI's ten yearly files a table)
    groups: dict[tuple[Any, ...], list[tuple[SourceFile, dict[str, str]]]] = {}
    constants: list[str] = []
    for number, source in enumerate(files):
        extra = extra_columns(source) if extra_columns else {}
        named = [quote(name) for name in extra]
        if number and named != constants:  # one relation: the same columns
            raise ValueError(f"{source.name}: extra columns {named}, not {constants}")
        constants = named
        own = fields if fields_of is None else fields_of(source)
        positions, expected = header_positions(source.path, own, fmt)
        layout = (own, tuple(positions.items()), expected, uses_crlf(source.path))
        groups.setdefault(layout, []).append((source, extra))
    registered: list[tuple[SourceFile, Lines]] = []
    try:
        selects = []
        for (own, placed, expected, crlf), members in groups.items():
            positions = dict(placed)
            shape = _shape(own, positions, expected, fmt, crlf)
            shaped = []
            for source, _ in members:
                counter = ByteCounter(ctx.progress, f"reading {source.name}", source.bytes)
                numbered = ctx.engine.register_lines(
                    f"lines_{source.file_id}",
                    source.path,
                    crlf=crlf,
                    progress=counter,
                    shape=shape.pattern,
                )
                registered.append((source, numbered))
                shaped.append(numbered.shaped)
            given = all(shaped)  # each file's lines say whether they match, or none do
            lines = " UNION ALL ".join(
                f"SELECT {source.file_id} AS file_id, line_no, raw"
                f"{', shape_ok' if given else ''} FROM lines_{source.file_id}"
                for source, _ in members
            )
            extra = {name: _per_file(name, members) for name in members[0][1]}
            select = _select(
                ctx, f"({lines})", own, fmt, positions, expected, crlf, extra, hashes, shape, given
            )
            if own != fields:
                select = padded_select(select, own, fields, constants, hashes)
            selects.append(select)
        names = checked_names(fields, constants, hashes)
        stored = stored_select(
            staged_select(" UNION ALL ".join(selects), names, join, fields),
            fields,
            keep=keep,
            extra=[f"t.{name}" for name in constants],
            join=join,
            hashes=hashes,
        )
        with ctx.engine.joins_as_written():
            ctx.execute(f"CREATE TEMP TABLE {relation} AS {stored}")
        counts = [(source, numbered.count()) for source, numbered in registered]
    except EngineError:
        failed = [f for f in (numbered.failure() for _, numbered in registered) if f]
        if failed:
            raise failed[0] from None  # a file, not the engine, failed
        raise
    finally:
        for source, _ in registered:
            ctx.engine.unregister(f"lines_{source.file_id}")
    for source, count in counts:
        read = max(count - 1, 0)
        ctx.add_read(source.table, read, source.file_id)
        if source.declared_rows is not None and source.declared_rows != read:
            raise DataValidationError(
                f"{source.name}: {read} data lines read, the delivery declares "
                f"{source.declared_rows}.",
                hint="the file was truncated or altered after the delivery was made",
            )
    return relation


def _per_file(name: str, members: list[tuple[SourceFile, dict[str, str]]]) -> str:
    """SQL: an extra column's value in a branch reading several files (``file_id``)."""
    values = {source.file_id: extra[name] for source, extra in members}
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    cases = " ".join(f"WHEN {file_id} THEN {value}" for file_id, value in values.items())
    return f"CASE file_id {cases} END"


def _shape(
    fields: tuple[Field, ...],
    positions: dict[str, int],
    expected: int,
    fmt: DelimitedFormat,
    crlf: bool,
) -> LineFormat:
    """The whole-line format of the table's lines, line end included (the reader matches
    each line with it, see ``line_format``). In a quoted format it matches only lines without
    a quote, which split as unquoted ones; a line quoting a field runs every check."""
    end = "\r\n" if crlf else "\n"
    quote = '"' if fmt.quoted else ""
    return line_format(fields, positions, expected, fmt.delimiter, end, quote)


def _select(
    ctx: IngestContext,
    lines: str,
    fields: tuple[Field, ...],
    fmt: DelimitedFormat,
    positions: dict[str, int],
    expected: int,
    crlf: bool,
    extra: dict[str, str],
    hashes: tuple[str, ...],
    shape: LineFormat | None,
    shaped: bool = False,
) -> str:
    """SQL: the checked records of the lines of files laid out alike (``lines``: a relation
    of ``file_id``, ``line_no``, ``raw``). ``shape``: their ``line_format`` (``_shape``);
    lines matching it skip the checks it covers (same problems); without it every line runs
    every check. ``shaped``: ``lines`` also has ``shape_ok``, whether each line matches it
    (``Lines.shaped``), else it is matched here."""
    end = 2 if crlf else 1
    last = expected - 1
    values = []
    for f in fields:
        if f.name not in positions:
            part = "CAST(NULL AS VARCHAR)"
        elif fmt.quoted:
            part = _part_sql(fmt, positions[f.name])
        elif positions[f.name] == last:
            # unquoted lines are split with their line end, which ends the last field: only
            # that field is trimmed, not every line copied without it
            part = f"left(parts[{last + 1}], -{end})"
        else:
            part = f"parts[{positions[f.name] + 1}]"
        value = value_sql(f, part)
        if shape is not None and f.kind is Kind.NIR and KIND in shape.covered.get(f.name, ()):
            # a line that matched its format holds a NIR with no space or lower case to clean
            clean = value_sql(f, part, well_formed=True)
            value = f"CASE WHEN line_ok THEN {clean} ELSE {value} END"
        values.append(f"{value} AS {f.column}")
    constants = [f"{expr} AS {quote(name)}" for name, expr in extra.items()]
    given = ", shape_ok" if shaped else ""
    if fmt.quoted:
        # a quoted field left open (a line cut inside quotes) counts as a truncated line
        odd_quotes = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1"
        decoded = (
            f"SELECT file_id, line_no, raw{given}, {line_sql(crlf)} AS line FROM {lines} AS l "
            "WHERE line_no > 1"
        )
        n_fields = f"CASE WHEN {odd_quotes} THEN -1 ELSE array_length(parts) END"
        blank = "coalesce(line = '', false)"
    else:
        decoded = (
            f"SELECT file_id, line_no, raw{given}, try(decode(raw)) AS line FROM {lines} AS l "
            "WHERE line_no > 1"
        )
        n_fields = "array_length(parts)"
        blank = f"octet_length(raw) <= {end}"
    line_ok, matched = "false", None
    if shape is not None:
        # the reader's match holds for a line that is UTF-8; the engine's needs one (NULL).
        # A quoted format's lines are decoded without their line end
        pattern = shape.body if fmt.quoted else shape.pattern
        line_ok = (
            "(shape_ok AND line IS NOT NULL)"
            if shaped
            else f"regexp_full_match(line, {sql_literal(pattern)})"
        )
        matched = ("line_ok", shape.covered)
    hash_items = line_hashes_sql(hashes, "raw", r"'\x1F'::BLOB")
    staged = f"""
        SELECT file_id, line_no,
               line IS NOT NULL AS utf8_ok, {blank} AS blank, {n_fields} AS n_fields,
               line_ok, {hash_items},
               {", ".join(values + constants)}
        FROM (SELECT file_id, line_no, raw, line, {_parts_sql(fmt)} AS parts,
                     {line_ok} AS line_ok
              FROM ({decoded}))
    """
    dated = ", ".join(["*", *dates_sql(fields)])
    problem = problem_sql(
        fields, ctx.today_iso, expected_fields=expected, typed=True, matched=matched
    )
    names = ", ".join(checked_names(fields, [quote(n) for n in extra], hashes))
    return (
        f"SELECT file_id, line_no, {names}, {problem} AS problem "
        f"FROM (SELECT {dated} FROM ({staged}))"
    )
