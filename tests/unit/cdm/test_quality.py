"""Quality rules: the visit references of several tables, counted by one join, give what
each table's own joined scan gives, and find a reference to no visit; the person lookups
joined once (person facts) and the codes counted by distinct value give what each rule
counts alone."""

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
    person_facts_sql,
    rules,
    table_results,
    unique_persons_sql,
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


def test_person_facts_and_distinct_values_count_what_each_join_and_row_counts(
    engine: DuckDBEngine,
) -> None:
    # a death with no person, an event of an unknown person, one after a death, one before
    # birth, codes that are and are not ICD-10 / ATC
    engine.execute(
        "INSERT INTO death SELECT "
        + omop_table("death").select_list({"person_id": "2", "death_date": "DATE '2020-01-01'"})
    )
    engine.execute(
        "INSERT INTO observation_period SELECT "
        + omop_table("observation_period").select_list(
            {
                "observation_period_id": "1",
                "person_id": "1",
                "observation_period_start_date": "DATE '2000-01-01'",
                "observation_period_end_date": "DATE '2022-01-01'",
            }
        )
    )
    for person, date, code in ((2, "2021-01-01", "E119"), (3, "1970-01-01", "E11.9")):
        engine.execute(
            "INSERT INTO condition_occurrence SELECT "
            + omop_table("condition_occurrence").select_list(
                {
                    "condition_occurrence_id": str(30 + person),
                    "person_id": str(person),
                    "condition_start_date": f"DATE '{date}'",
                    "condition_source_value": f"'{code}'",
                }
            )
        )
    engine.execute(
        "UPDATE drug_exposure SET drug_source_value = 'A10BA02' WHERE drug_exposure_id < 3"
    )
    engine.execute("UPDATE drug_exposure SET drug_source_value = 'a10' WHERE drug_exposure_id = 3")
    assert engine.scalar(unique_persons_sql(lambda name: name))
    engine.execute(f"CREATE TABLE facts AS {person_facts_sql(lambda name: name)}")
    for table in (
        "person",
        "observation_period",
        "death",
        *VISIT_CHILDREN,
        "visit_occurrence",
    ):
        one_join = count_table(engine, table, YEAR, facts="facts")
        assert one_join == _counts_by_rule(engine, table), table
    condition = {r.check: r for r in check_table(engine, "condition_occurrence", YEAR)}
    assert (condition["fk_person"].total, condition["fk_person"].violating) == (4, 2)
    assert condition["source_value_format"].violating == 1
    assert condition["plausible_before_death"].violating == 1
    drug = {r.check: r for r in check_table(engine, "drug_exposure", YEAR)}
    assert (drug["source_value_format"].total, drug["source_value_format"].violating) == (3, 1)
    engine.execute(
        "INSERT INTO death SELECT "
        + omop_table("death").select_list({"person_id": "2", "death_date": "DATE '2020-02-01'"})
    )
    assert not engine.scalar(unique_persons_sql(lambda name: name))  # then no facts


def _counts_by_rule(engine: DuckDBEngine, table: str) -> dict[int, tuple[int, int]]:
    """Each rule counted alone, row by row, with its own joins (the plain reading of it)."""
    lookups = {
        "person": "LEFT JOIN (SELECT person_id AS p_person_id, year_of_birth AS p_year_of_birth "
        "FROM person) AS p ON p.p_person_id = t.person_id",
        "death": "LEFT JOIN (SELECT person_id AS d_person_id, death_date AS d_death_date "
        "FROM death) AS d ON d.d_person_id = t.person_id",
        "visit": "LEFT JOIN (SELECT visit_occurrence_id AS vid FROM visit_occurrence) AS v "
        "ON v.vid = t.visit_occurrence_id",
        "period": "LEFT JOIN (SELECT DISTINCT person_id AS op_person_id FROM "
        "observation_period) AS op ON op.op_person_id = t.person_id",
    }
    counts = {}
    for number, rule in enumerate(rules(table, YEAR)):
        joined = " ".join(lookups[j] for j in rule.joins)
        total = engine.scalar(f"SELECT count(*) FROM {table} AS t {joined} WHERE {rule.applies}")
        bad = engine.scalar(
            f"SELECT count(*) FROM {table} AS t {joined} "
            f"WHERE ({rule.applies}) AND ({rule.violating})"
        )
        counts[number] = (int(total), int(bad))
    return counts
