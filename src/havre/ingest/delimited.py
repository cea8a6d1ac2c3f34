"""Staging delimited text files (SNDS ``;`` files, OMOP CSV) into a checked table.

Each file streams through the engine once: lines are decoded, split, trimmed and checked in a
single statement, appended to ``chk_<table>`` with their file and line number. Identifiers
stay in the engine's memory (and its spill files under the hub's ``tmp``) only for the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from havre.core.errors import DataValidationError
from havre.ingest.context import ByteCounter, IngestContext
from havre.ingest.fields import Field, problem_sql, quote, value_sql
from havre.ingest.model import SourceFile, StageJoin, staged_select
from havre.lake.textfiles import LineReader, check_header, line_sql, read_header, uses_crlf

# one field of an RFC 4180 line: quoted (with "" inside) or bare
_CSV_FIELD = r'(?:^|,)("(?:[^"]|"")*"|[^,]*)'


@dataclass(frozen=True)
class DelimitedFormat:
    delimiter: str
    quoted: bool = False  # RFC 4180 quoting (OMOP exports); SNDS files have none
    strict_header: bool = True  # columns exactly as specified, in order (SNDS)


def _parts_sql(fmt: DelimitedFormat) -> str:
    if fmt.quoted:
        return f"regexp_extract_all(line, '{_CSV_FIELD}', 1)"
    return f"string_split(line, '{fmt.delimiter}')"


def _part_sql(fmt: DelimitedFormat, index: int) -> str:
    part = f"parts[{index + 1}]"
    if not fmt.quoted:
        return part
    return (
        f"CASE WHEN {part} LIKE '\"%\"' AND length({part}) >= 2 "
        f"THEN replace(substr({part}, 2, length({part}) - 2), '\"\"', '\"') ELSE {part} END"
    )


def header_positions(
    source: SourceFile, header: str, fields: tuple[Field, ...], fmt: DelimitedFormat
) -> tuple[dict[str, int], int]:
    """Where each field is in a file's lines, and how many fields a line must have."""
    names = [name.strip().strip('"').strip() for name in header.split(fmt.delimiter)]
    if fmt.strict_header:
        check_header(source.path, header, [f.name for f in fields], fmt.delimiter)
        return {f.name: i for i, f in enumerate(fields)}, len(fields)
    lowered = [n.lower() for n in names]
    if len(names) == 1 and fmt.delimiter not in header:
        check_header(source.path, header, [f.name for f in fields], fmt.delimiter)
    positions = {f.name: lowered.index(f.name.lower()) for f in fields if f.name.lower() in lowered}
    missing = [
        f.name for f in fields if f.required and f.default is None and f.name not in positions
    ]
    if missing:
        raise DataValidationError(
            f"{source.name}: required column(s) {', '.join(missing)} missing from the header.",
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
    extra_columns: dict[str, str] | None = None,
    join: StageJoin | None = None,
) -> str:
    """Stage and check every file of a table; return the relation ``chk_<table>``.

    Columns: ``file_id``, ``line_no``, ``h1``/``h2`` (two 64-bit hashes of the line, for exact
    duplicates), each field (VARCHAR, NULL when empty), ``extra_columns`` (constant per table,
    e.g. the year of a PMSI table), ``problem`` (``reason|FIELD`` or NULL), ``opted`` and,
    with a ``join``, the columns it copies.
    """
    relation = f"chk_{table}"
    extra = extra_columns or {}
    first = True
    for source in files:
        header = read_header(source.path)
        positions, expected = header_positions(source, header, fields, fmt)
        counter = ByteCounter(ctx.progress, f"reading {source.name}", source.bytes)
        crlf = uses_crlf(source.path)
        reader = LineReader(source.path, progress=counter, crlf=crlf)
        lines = f"lines_{source.file_id}"
        values = [
            f"{value_sql(f, _part_sql(fmt, positions[f.name]))} AS {f.column}"
            if f.name in positions
            else f"{value_sql(f, 'CAST(NULL AS VARCHAR)')} AS {f.column}"
            for f in fields
        ]
        constants = [f"{expr} AS {quote(name)}" for name, expr in extra.items()]
        # a quoted field left open (a line cut inside quotes) counts as a truncated line
        odd_quotes = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1"
        n_fields = (
            f"CASE WHEN {odd_quotes} THEN -1 ELSE len(parts) END" if fmt.quoted else "len(parts)"
        )
        staged = f"""
            SELECT {source.file_id} AS file_id, line_no,
                   line IS NOT NULL AS utf8_ok,
                   coalesce(line = '', false) AS blank,
                   {n_fields} AS n_fields,
                   hash(line) AS h1, hash(line || chr(31)) AS h2,
                   {", ".join(values + constants)}
            FROM (
                SELECT line_no, line, {_parts_sql(fmt)} AS parts
                FROM (SELECT line_no, {line_sql(crlf)} AS line FROM {lines} WHERE line_no > 1)
            )
        """
        names = ["h1", "h2", *[f.column for f in fields], *(quote(n) for n in extra)]
        checked = (
            f"SELECT file_id, line_no, {', '.join(names)}, "
            f"{problem_sql(fields, ctx.today_iso, expected_fields=expected)} AS problem "
            f"FROM ({staged})"
        )
        select = staged_select(checked, names, join)
        for block in reader.blocks():
            ctx.register(lines, block)
            verb = "CREATE TEMP TABLE {} AS" if first else "INSERT INTO {}"
            ctx.execute(f"{verb.format(relation)} {select}")
            ctx.engine.connection.unregister(lines)
            ctx.engine.forget(block)
            first = False
        read = max(reader.lines - 1, 0)
        ctx.add_read(table, read, source.file_id)
        if source.declared_rows is not None and source.declared_rows != read:
            raise DataValidationError(
                f"{source.name}: {read} data lines read, the delivery declares "
                f"{source.declared_rows}.",
                hint="the file was truncated or altered after the delivery was made",
            )
    return relation
