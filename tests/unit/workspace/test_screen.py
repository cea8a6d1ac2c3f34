"""Screening: one read-only SELECT over the workspace's own tables (DuckDB's own parser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from havre.workspace.screen import QueryRefused, Screener

TABLES = {"person", "condition_occurrence"}


@pytest.fixture(scope="module")
def screener() -> Iterator[Screener]:
    made = Screener()
    yield made
    made.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM person",
        "FROM person SELECT year_of_birth",
        "WITH c AS (SELECT person_id FROM condition_occurrence) SELECT count(*) FROM c",
        "SELECT * FROM range(10)",
        "SELECT p.*, x FROM person p, LATERAL (SELECT p.person_id + 1 AS x)",
        "SELECT 1 UNION ALL SELECT 2;",
        "DESCRIBE person",
    ],
)
def test_read_only_queries_pass(screener: Screener, sql: str) -> None:
    screener.screen(sql, TABLES)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("", "empty"),
        ("SELECT 1; DROP TABLE person", "2 statements"),
        ("CREATE TABLE x AS SELECT 1", "CREATE"),
        ("INSERT INTO person VALUES (1)", "INSERT"),
        ("EXPORT DATABASE '/tmp/x'", "EXPORT"),
        ("CALL pragma_version()", "CALL"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
        ("SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
        ("SELECT * FROM query('SELECT 1')", "query"),
        ("SELECT current_setting('threads')", "current_setting"),
        ("SELECT * FROM main.person", "outside this workspace"),
        ("SELECT * FROM memory.main.person", "outside this workspace"),
        ("SELECT * FROM 'person.parquet'", "not a table of this workspace"),
        ("SELECT * FROM drug_exposure", "not a table of this workspace"),
        ("SELECT * FROM person WHERE person_id IN (SELECT person_id FROM death)", "death"),
        ("SELECT (", "not valid SQL"),
        ("SELECT " + "1 + " * 40_000 + "1", "characters long"),
    ],
)
def test_everything_else_is_refused(screener: Screener, sql: str, why: str) -> None:
    with pytest.raises(QueryRefused, match=why):
        screener.screen(sql, TABLES)
