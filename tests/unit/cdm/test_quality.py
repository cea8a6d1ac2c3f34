"""Quality rules: the visit references of several tables, counted by one join, give what
each table's own joined scan gives, and find a reference to no visit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from havre.cdm.omop import omop_table
from havre.cdm.quality import (
    VISIT_CHILDREN,
    VISIT_REFERENCE,
    check_table,
    count_table,
    table_results,
    visit_references,
)
from havre.core.config import Settings
from havre.lake.engine import DuckDBEngine

YEAR = 2026
# drug 3 and condition 12 refer to a visit that does not exist; drug 4 to none
DRUGS = [(1, 100), (2, 101), (3, 999), (4, None)]
CONDITIONS = [(11, 102), (12, 998)]
MEASUREMENTS = [(21, 100)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    made = DuckDBEngine(Settings(home=tmp_path, duckdb_memory_limit="256MB"))
    made.execute(
        f"CREATE TABLE person AS SELECT "
        f"{omop_table('person').select_list({'person_id': '1', 'year_of_birth': '1980'})}"
    )
    made.execute(
        "CREATE TABLE visit_occurrence AS SELECT "
        + omop_table("visit_occurrence").select_list(
            {"visit_occurrence_id": "v", "person_id": "1", "visit_start_date": "DATE '2021-01-01'"}
        )
        + " FROM (VALUES (100), (101), (102)) AS t(v)"
    )
    for table, rows, date in (
        ("drug_exposure", DRUGS, "drug_exposure_start_date"),
        ("condition_occurrence", CONDITIONS, "condition_start_date"),
        ("measurement", MEASUREMENTS, "measurement_date"),
    ):
        values = ", ".join(f"({i}, {'NULL' if v is None else v})" for i, v in rows)
        columns = {
            omop_table(table).columns[0].name: "i",
            "person_id": "1",
            date: "DATE '2021-01-01'",
            "visit_occurrence_id": "v",
        }
        made.execute(
            f"CREATE TABLE {table} AS SELECT {omop_table(table).select_list(columns)} "
            f"FROM (VALUES {values}) AS t(i, v)"
        )
    for empty in ("procedure_occurrence", "death", "observation_period"):
        made.execute(
            f"CREATE TABLE {empty} AS SELECT {omop_table(empty).select_list({})} WHERE false"
        )
    yield made
    made.close()


def _references(engine: DuckDBEngine) -> None:
    engine.execute("CREATE TABLE refs (tab UTINYINT, ref BIGINT)")
    for index, table in enumerate(VISIT_CHILDREN):
        engine.execute(
            f"INSERT INTO refs SELECT {index}, visit_occurrence_id FROM {table} "
            "WHERE visit_occurrence_id IS NOT NULL"
        )


def test_visit_references_counted_at_once_match_each_tables_scan(engine: DuckDBEngine) -> None:
    _references(engine)
    found = visit_references(engine, YEAR, "refs", "visit_occurrence", VISIT_CHILDREN)
    for table in VISIT_CHILDREN:
        counts = count_table(engine, table, YEAR, skip=frozenset({VISIT_REFERENCE}))
        assert not set(counts) & set(found[table])  # skipped: counted by the one join only
        counts.update(found[table])
        assert table_results(table, YEAR, counts) == check_table(engine, table, YEAR), table
    by_table = {
        table: next(r for r in check_table(engine, table, YEAR) if r.check == VISIT_REFERENCE)
        for table in VISIT_CHILDREN
    }
    drug, condition = by_table["drug_exposure"], by_table["condition_occurrence"]
    assert (drug.total, drug.violating, drug.passed) == (3, 1, False)
    assert (condition.total, condition.violating, condition.passed) == (2, 1, False)
    measurement = by_table["measurement"]
    assert (measurement.total, measurement.violating, measurement.passed) == (1, 0, True)
    procedure = by_table["procedure_occurrence"]
    assert (procedure.total, procedure.violating, procedure.passed) == (0, 0, True)
