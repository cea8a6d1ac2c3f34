"""Reading an opt-out register file (``NIR;DATE_OPPOSITION``) into keyed hashes, in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from havre.core.config import Settings
from havre.core.errors import DataValidationError
from havre.lake.engine import DuckDBEngine
from havre.lake.textfiles import LineReader, check_header, line_sql, read_header, uses_crlf
from havre.pseudo.hmac_sql import hmac_sql
from havre.pseudo.nir import nir_format_ok_sql, nir_key_ok_sql, nir_norm_sql

HEADER = ["NIR", "DATE_OPPOSITION"]
MAX_REPORTED = 20


@dataclass(frozen=True)
class ParsedRegister:
    lines: int
    # subject_key (hex), objected_on (date): one row per person, earliest objection kept
    subjects: pa.Table
    duplicates_in_file: int


def parse_register(path: Path, settings: Settings, pads: pa.Table) -> ParsedRegister:
    """All or nothing: any bad line fails the import, naming lines and reasons (never values)."""
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file.")
    check_header(path, read_header(path), HEADER, ";")
    engine = DuckDBEngine(settings, memory_limit="1GB")
    try:
        crlf = uses_crlf(path)
        reader = LineReader(path, crlf=crlf)
        engine.register("register_lines", reader.reader())
        engine.register("optout_pads", pads)
        nir = nir_norm_sql("split_part(line, ';', 1)")
        engine.execute(
            f"""
            CREATE TEMP TABLE checked AS
            WITH decoded AS (
                SELECT line_no, {line_sql(crlf)} AS line
                FROM register_lines WHERE line_no > 1
            ),
            fields AS (
                SELECT line_no, line, {nir} AS nir,
                       trim(split_part(line, ';', 2)) AS objected
                FROM decoded
            )
            SELECT line_no, nir, objected,
                CASE
                    WHEN line IS NULL THEN 'invalid_utf8'
                    WHEN len(string_split(line, ';')) <> 2 THEN 'field_count'
                    WHEN nir = '' THEN 'missing_nir'
                    WHEN NOT {nir_format_ok_sql("nir")} THEN 'bad_nir_format'
                    WHEN NOT {nir_key_ok_sql("nir")} THEN 'bad_nir_key'
                    WHEN NOT regexp_matches(objected, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$')
                         OR TRY_CAST(objected AS DATE) IS NULL THEN 'bad_date'
                END AS problem
            FROM fields
            WHERE line IS NULL OR trim(line) <> ''
            """
        )
        problems = engine.sql(
            "SELECT line_no, problem FROM checked WHERE problem IS NOT NULL "
            f"ORDER BY line_no LIMIT {MAX_REPORTED + 1}"
        ).to_pylist()
        if problems:
            total = engine.scalar("SELECT count(*) FROM checked WHERE problem IS NOT NULL")
            listed = ", ".join(
                f"line {p['line_no']}: {p['problem']}" for p in problems[:MAX_REPORTED]
            )
            more = f" and {total - MAX_REPORTED} more" if total > MAX_REPORTED else ""
            raise DataValidationError(
                f"{path.name}: {total} line(s) cannot be read ({listed}{more}); "
                "nothing was imported.",
                hint="fix these lines in the register file and import it again",
            )
        subjects = engine.sql(
            f"""
            SELECT {hmac_sql("substr(nir, 1, 13)", "p")} AS subject_key,
                   min(CAST(objected AS DATE)) AS objected_on
            FROM checked CROSS JOIN optout_pads AS p
            GROUP BY 1
            ORDER BY 1
            """
        )
        lines = int(engine.scalar("SELECT count(*) FROM checked"))
    finally:
        engine.close()
    return ParsedRegister(lines, subjects, lines - subjects.num_rows)
