"""Reading an opt-out register file into keyed hashes, in SQL: objections by NIR
(``NIR;DATE_OPPOSITION``) or by an OMOP source's person id
(``SOURCE_NAME;PERSON_ID;DATE_OPPOSITION``), told apart by the header."""

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
from havre.pseudo.scheme import SchemeId, omop_message_sql

HEADERS = {
    SchemeId.OPTOUT_NIR: ["NIR", "DATE_OPPOSITION"],
    SchemeId.OPTOUT_OMOP: ["SOURCE_NAME", "PERSON_ID", "DATE_OPPOSITION"],
}
MAX_REPORTED = 20


@dataclass(frozen=True)
class ParsedRegister:
    lines: int
    # subject_key (hex), objected_on (date): one row per person, earliest objection kept
    subjects: pa.Table
    duplicates_in_file: int


def register_scheme(path: Path) -> SchemeId:
    """Whose objections a register file lists, from its header: by NIR or by OMOP person id."""
    if not path.is_file():
        raise DataValidationError(f"{path}: no such file.")
    header = read_header(path)
    found = [name.strip().upper() for name in header.split(";")]
    for scheme, names in HEADERS.items():
        if found == names:
            return scheme
    try:
        check_header(path, header, HEADERS[SchemeId.OPTOUT_NIR], ";")
    except DataValidationError as error:
        raise DataValidationError(
            error.message,
            hint="expected the columns NIR;DATE_OPPOSITION, or "
            "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION for an OMOP source's persons",
        ) from None
    raise AssertionError("check_header accepted a header no scheme has")  # pragma: no cover


def _fields_sql(scheme: SchemeId) -> tuple[str, str, str]:
    """SQL over ``line``: the fields, the problems (a CASE's WHENs) and the HMAC's message."""
    if scheme is SchemeId.OPTOUT_NIR:
        nir = nir_norm_sql("split_part(line, ';', 1)")
        fields = f"{nir} AS nir, trim(split_part(line, ';', 2)) AS objected"
        problems = f"""
            WHEN len(string_split(line, ';')) <> 2 THEN 'field_count'
            WHEN nir = '' THEN 'missing_nir'
            WHEN NOT {nir_format_ok_sql("nir")} THEN 'bad_nir_format'
            WHEN NOT {nir_key_ok_sql("nir")} THEN 'bad_nir_key'"""
        return fields, problems, "substr(nir, 1, 13)"
    fields = (
        "trim(split_part(line, ';', 1)) AS source_name, "
        "trim(split_part(line, ';', 2)) AS person_id, "
        "trim(split_part(line, ';', 3)) AS objected"
    )
    problems = """
            WHEN len(string_split(line, ';')) <> 3 THEN 'field_count'
            WHEN source_name = '' THEN 'missing_source_name'
            WHEN NOT regexp_matches(person_id, '^[+-]?[0-9]+$')
                 OR TRY_CAST(person_id AS BIGINT) IS NULL THEN 'bad_person_id'"""
    return fields, problems, omop_message_sql("source_name", "person_id")


def parse_register(
    path: Path, scheme: SchemeId, settings: Settings, pads: pa.Table
) -> ParsedRegister:
    """All or nothing: any bad line fails the import, naming lines and reasons (never values).
    ``scheme``: what ``register_scheme`` found the file's header to list (checked there)."""
    fields, problems, message = _fields_sql(scheme)
    engine = DuckDBEngine(settings, memory_limit="1GB")
    try:
        crlf = uses_crlf(path)
        reader = LineReader(path, crlf=crlf)
        engine.register("register_lines", reader.reader())
        engine.register("optout_pads", pads)
        engine.execute(
            f"""
            CREATE TEMP TABLE checked AS
            WITH decoded AS (
                SELECT line_no, {line_sql(crlf)} AS line
                FROM register_lines WHERE line_no > 1
            ),
            fields AS (SELECT line_no, line, {fields} FROM decoded)
            SELECT *,
                CASE
                    WHEN line IS NULL THEN 'invalid_utf8'{problems}
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
            SELECT {hmac_sql(message, "p")} AS subject_key,
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
