"""The whole-line fast path of delimited staging stages exactly what the full checks do:
the same values, the same problems."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from havre.cdm.vocabulary import code_sets
from havre.ingest.delimited import DelimitedFormat, _select, _shape
from havre.ingest.fields import Field
from havre.ingest.line_format import line_format
from havre.ingest.model import LINE_HASHES
from havre.ingest.omop.reader import FORMAT as OMOP
from havre.ingest.omop.tables import fields as omop_fields
from havre.ingest.snds.tables import table_fields
from havre.lake import textfiles

SNDS = DelimitedFormat(delimiter=";")
TABLES = ("IR_BEN_R", "ER_PRS_F", "ER_PHA_F", "T_MCO15B", "T_MCO15C", "IR_IMB_R", "KI_CCI_R")
VALID = {
    "IR_BEN_R": "176027512345678;1;1976;02;1;75;75056;;0;123456789;2015-01-01",
    "ER_PRS_F": "12;176027512345678;1;2020-03-01;2020-03-02;1111;1;12345678;750000001;1;23;23.5",
    "ER_PHA_F": "12;3400930079195;A10BA02;1;16.52",
    "T_MCO15B": "750000001;R1;E119;;3;8;8;05M092;75001;75;44;1;2015;3",
    "T_MCO15C": "750000001;R1;176027512345678;1;2015-03-01;2015-03-04",
    "IR_IMB_R": "176027512345678;1;8;2016-01-01;;E119;",
    "KI_CCI_R": "176027512345678;1;2019-05-01;I219;75;75056",
}
# pieces that break (or keep) a field's format, date, key, code or the line itself
PIECES = [
    "",
    " ",
    "x",
    "1",
    "-1",
    "0",
    "99",
    "100",
    "1.5",
    "1.",
    "2020-02-30",
    "1899-12-31",
    "2999-01-01",
    "2020-3-01",
    "2A",
    "176027512345679",
    "17602751234568",
    "a",
    "e119",
    ";",
    "\r",
    "é",
    "12345678901234567890",
]


def _fields(table: str) -> tuple[Field, ...]:
    return table_fields(table)


def _problems(
    con: duckdb.DuckDBPyConnection,
    table: str,
    lines: list[bytes],
    fast: bool,
    *,
    shaped: bool = False,
    fmt: DelimitedFormat = SNDS,
) -> list[tuple[Any, ...]]:
    """The staged rows of ``lines`` (an SNDS table's, or an OMOP table's in the OMOP format);
    ``shaped``: the reader matched their line format (as ``LineReader`` does with a
    ``shape``), not the engine."""
    fields = omop_fields(table) if fmt is OMOP else _fields(table)
    positions = {f.name: i for i, f in enumerate(fields)}
    raw = pa.array([b"header\n", *lines], pa.binary())
    columns = {"line_no": pa.array(range(1, len(raw) + 1), pa.int64()), "raw": raw}
    if shaped:
        shape = _shape(fields, positions, len(fields), fmt, False)
        columns["shape_ok"] = textfiles.shaped(raw, shape.pattern)
    con.register("lines_0", pa.table(columns))
    ctx = cast(Any, SimpleNamespace(today_iso=dt.date(2024, 12, 31).isoformat()))
    given = ", shape_ok" if shaped else ""
    lines = f"(SELECT 0 AS file_id, line_no, raw{given} FROM lines_0)"
    shape = _shape(fields, positions, len(fields), fmt, False) if fast else None
    query = _select(
        ctx, lines, fields, fmt, positions, len(fields), False, {}, LINE_HASHES, shape, shaped
    )
    return con.sql(f"SELECT * FROM ({query}) ORDER BY line_no").fetchall()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, table in code_sets().items():
        connection.register(name, table)
    return connection


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(TABLES),
    edits=st.lists(
        st.tuples(st.integers(0, 15), st.sampled_from(PIECES), st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_fast_path_gives_the_same_problem(
    con: duckdb.DuckDBPyConnection, table: str, edits: list[tuple[int, str, bool]]
) -> None:
    values = VALID[table].split(";")
    lines = [(VALID[table] + "\n").encode()]
    for index, piece, append in edits:
        at = index % len(values)
        values[at] = values[at] + piece if append else piece
        lines.append((";".join(values) + "\n").encode())
    lines.append(b"\n")
    lines.append(b"\xff\xfe;1\n")
    slow = _problems(con, table, lines, fast=False)
    assert _problems(con, table, lines, fast=True) == slow
    # the format matched by the file's reader (Arrow's RE2), not by the engine
    assert _problems(con, table, lines, fast=True, shaped=True) == slow


OMOP_VALID = {
    "condition_occurrence": "7,42,201826,2020-03-01,2020-03-01 10:00:00,2020-03-05,,32817,,,,"
    "88,,E11.9,,",
    "person": "42,8507,1976,2,,,0,0,12,,,p42,M,,,,,",
}
# RFC 4180 quoting: a quoted field (with a delimiter or a doubled quote inside), or a quote
# left open
QUOTED = ['"', '""', '"x"', '"a,b"', '"2020-03-01"', '"7"', 'x"y', '"a""b"', ","]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(sorted(OMOP_VALID)),
    edits=st.lists(
        st.tuples(st.integers(0, 20), st.sampled_from(PIECES + QUOTED), st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_fast_path_gives_the_same_problem_in_a_quoted_format(
    con: duckdb.DuckDBPyConnection, table: str, edits: list[tuple[int, str, bool]]
) -> None:
    """A quoted format's line without a quote splits as an unquoted one: the whole-line
    pattern (no quote in any field) decides it alone; a line quoting a field runs every check."""
    values = OMOP_VALID[table].split(",")
    assert len(values) == len(omop_fields(table))
    lines = [(OMOP_VALID[table] + "\n").encode()]
    for index, piece, append in edits:
        at = index % len(values)
        values[at] = values[at] + piece if append else piece
        lines.append((",".join(values) + "\n").encode())
    slow = _problems(con, table, lines, fast=False, fmt=OMOP)
    assert _problems(con, table, lines, fast=True, fmt=OMOP) == slow
    assert _problems(con, table, lines, fast=True, shaped=True, fmt=OMOP) == slow


def test_a_quoted_formats_line_matches_only_without_a_quote(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for table, line in OMOP_VALID.items():
        fields = omop_fields(table)
        positions = {f.name: i for i, f in enumerate(fields)}
        shape = _shape(fields, positions, len(fields), OMOP, False)
        quoted = line.replace(",p42,", ',"p42",').replace(",E11.9,", ',"E11.9",')
        assert quoted != line
        raw = pa.array([(line + "\n").encode(), (quoted + "\n").encode()], pa.binary())
        assert textfiles.shaped(raw, shape.pattern).to_pylist() == [True, False], table
        # both stage alike: no problem, the same values
        staged = _problems(con, table, [(line + "\n").encode()], fast=True, shaped=True, fmt=OMOP)
        unquoted = _problems(
            con, table, [(quoted + "\n").encode()], fast=True, shaped=True, fmt=OMOP
        )
        assert staged[0][-1] is None and unquoted[0][-1] is None, table
        assert staged[0][4:] == unquoted[0][4:], table  # past the line's hashes


def test_the_reader_matches_a_line_format_as_the_engine_does(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Line by line, on valid lines and on every piece spliced into each field: what the
    reader says of a line's shape is what ``regexp_full_match`` says (UTF-8 lines)."""
    for table, line in VALID.items():
        fields = _fields(table)
        pattern = line_format(
            fields, {f.name: i for i, f in enumerate(fields)}, len(fields), ";", "\n"
        ).pattern
        values = line.split(";")
        lines = [line + "\n", line, line + "\r\n", "\n" + line + "\n", line + "\n\n"]
        for at in range(len(values)):
            for piece in PIECES:
                for edited in (piece, values[at] + piece, piece + values[at]):
                    spliced = [*values[:at], edited, *values[at + 1 :]]
                    lines.append(";".join(spliced) + "\n")
        raw = pa.array([text.encode() for text in lines], pa.binary())
        by_reader = textfiles.shaped(raw, pattern).to_pylist()
        by_engine = [
            row[0]
            for row in con.execute(
                "SELECT regexp_full_match(line, ?) FROM unnest(?) AS t(line)", [pattern, lines]
            ).fetchall()
        ]
        assert by_reader == by_engine, table
        assert any(by_reader) and not all(by_reader), table


def test_valid_lines_match_and_need_no_problem(con: duckdb.DuckDBPyConnection) -> None:
    for table, line in VALID.items():
        fields = _fields(table)
        shape = line_format(
            fields, {f.name: i for i, f in enumerate(fields)}, len(fields), ";", "\n"
        )
        matched = con.execute("SELECT regexp_full_match(?, ?)", [line + "\n", shape.pattern])
        assert matched.fetchall() == [(True,)], table
        staged = _problems(con, table, [(line + "\n").encode()], fast=True)
        assert [(row[1], row[-1]) for row in staged] == [(2, None)], table


def test_a_pattern_that_could_reach_past_its_field_is_left_to_its_own_check() -> None:
    loose = Field("CODE", pattern=r"^.{1,5}$", required=True)
    shape = line_format((loose,), {"CODE": 0}, 1, ";", "\n")
    assert shape.pattern == "[^;]+\\n"
    assert shape.covered["CODE"] == frozenset({"missing"})
