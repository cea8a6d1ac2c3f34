"""Staging Parquet source files (``havre synth --file-format parquet``) like text files.

Columns are read as text so the same checks apply. A record is numbered as its line would be
in the CSV form of the same table (first row = line 2, after the header), so a defect has the
same number whichever format the source chose.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from havre.core.errors import DataValidationError
from havre.ingest.context import IngestContext
from havre.ingest.fields import (
    Field,
    dates_sql,
    problem_sql,
    quote,
    value_sql,
)
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


def parquet_columns(path: Path, fields: tuple[Field, ...]) -> dict[str, str]:
    """A Parquet file's column names by their upper-case form, all ``fields`` among them: its
    footer alone is read, so a file that is not Parquet, or not its table's, is refused when
    the delivery is inspected (and again where it is staged)."""
    try:
        schema = pq.read_schema(path)
    except Exception:  # pyarrow raises several types for a file that is not Parquet
        raise DataValidationError(
            f"{path.name}: is not a readable Parquet file.",
            hint="check the delivery: this file is not what its name says",
        ) from None
    present = {name.upper(): name for name in schema.names}
    missing = [f.name for f in fields if f.name.upper() not in present]
    if missing:
        raise DataValidationError(
            f"{path.name}: column(s) {', '.join(missing)} missing.",
            hint="the file does not have the columns of its table",
        )
    return present


def stage_parquet(
    ctx: IngestContext,
    table: str,
    files: list[SourceFile],
    fields: tuple[Field, ...],
    *,
    extra_columns: ExtraColumns | None = None,
    join: StageJoin | None = None,
    keep: frozenset[str] | None = None,
    fields_of: FieldsOf | None = None,
    keyed: bool = False,
) -> str:
    """Stage and check every file of a table: ``chk_<table>`` as ``stage_delimited`` makes it
    (``fields_of`` and ``keyed`` too)."""
    relation = f"chk_{table}"
    hashes = line_hashes(keyed)
    for number, source in enumerate(files):
        own = fields if fields_of is None else fields_of(source)
        extra = extra_columns(source) if extra_columns else {}
        present = parquet_columns(source.path, own)
        rows = f"rows_{source.file_id}"
        raw = {f.name: f"CAST({quote(present[f.name.upper()])} AS VARCHAR)" for f in own}
        values = [f"{value_sql(f, raw[f.name])} AS {f.column}" for f in own]
        constants = [f"{expr} AS {quote(name)}" for name, expr in extra.items()]
        row_text = "concat_ws(';', " + ", ".join(f"coalesce({raw[f.name]}, '')" for f in own) + ")"
        hash_items = line_hashes_sql(hashes, row_text, "chr(31)")
        staged = f"""
            SELECT {source.file_id} AS file_id, file_row_number + 2 AS line_no,
                   true AS utf8_ok, false AS blank, {len(own)} AS n_fields,
                   {hash_items},
                   {", ".join(values + constants)}
            FROM {rows}
        """
        extras = [quote(n) for n in extra]
        problem = problem_sql(own, ctx.today_iso, expected_fields=len(own), typed=True)
        dated = ", ".join(["*", *dates_sql(own)])
        listed = ", ".join(checked_names(own, extras, hashes))
        checked = (
            f"SELECT file_id, line_no, {listed}, {problem} AS problem "
            f"FROM (SELECT {dated} FROM ({staged}))"
        )
        if own != fields:
            checked = padded_select(checked, own, fields, extras, hashes)
        names = checked_names(fields, extras, hashes)
        select = stored_select(
            staged_select(checked, names, join, fields),
            fields,
            keep=keep,
            extra=[f"t.{quote(name)}" for name in extra],
            join=join,
            hashes=hashes,
        )
        verb = "CREATE TEMP TABLE {} AS" if number == 0 else "INSERT INTO {}"
        ctx.engine.register_parquet_rows(rows, source.path)
        try:
            ctx.execute(f"{verb.format(relation)} {select}")
        finally:
            ctx.engine.unregister(rows)
        read = pq.ParquetFile(source.path).metadata.num_rows
        ctx.add_read(source.table, read, source.file_id)
        ctx.progress(f"reading {table}", source.bytes, source.bytes)
    return relation
