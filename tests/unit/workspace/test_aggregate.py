"""The aggregate analysis of aggregate-only permits (pure: no data involved)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from havre.workspace.aggregate import PERSONS_COLUMN, plan_aggregate
from havre.workspace.querying import apply_threshold
from havre.workspace.screen import QueryRefused

SCHEMA = {
    "person": {"person_id": "BIGINT", "gender_concept_id": "BIGINT", "year_of_birth": "BIGINT"},
    "condition_occurrence": {
        "person_id": "BIGINT",
        "visit_occurrence_id": "BIGINT",
        "condition_source_value": "VARCHAR",
    },
    "location": {"location_id": "BIGINT", "county": "VARCHAR"},
}


@pytest.mark.parametrize(
    ("sql", "sources"),
    [
        ("SELECT gender_concept_id, count(*) FROM person GROUP BY 1", ("person",)),
        ("SELECT count(*) AS n, avg(year_of_birth) FROM person p", ("p",)),
        (  # an inner join on person_id: the same persons on every row, counted once
            "SELECT p.gender_concept_id g, count(DISTINCT c.person_id) FROM person p "
            "JOIN condition_occurrence c ON c.person_id = p.person_id GROUP BY g",
            ("c",),
        ),
        (  # the same, counted by the source whose persons the query counts already: the
            # engine then computes one count, not two equal ones
            "SELECT p.gender_concept_id g, count(DISTINCT p.person_id) FROM person p "
            "JOIN condition_occurrence c ON c.person_id = p.person_id GROUP BY g",
            ("p",),
        ),
        (  # a count of persons in a sub-query is not the outer query's
            "SELECT p.gender_concept_id g, count(*) FROM person p JOIN condition_occurrence c "
            "ON c.person_id = p.person_id WHERE p.person_id IN (SELECT q.person_id "
            "FROM person q GROUP BY 1 HAVING count(DISTINCT q.person_id) > 0) GROUP BY g",
            ("c",),
        ),
        (  # an outer join: the other side may be NULL, both are counted
            "SELECT p.gender_concept_id g, count(*) FROM person p "
            "LEFT JOIN condition_occurrence c ON c.person_id = p.person_id GROUP BY g",
            ("c", "p"),
        ),
        (  # equal by the WHERE, beside another condition
            "SELECT count(*) FROM person p, condition_occurrence c "
            "WHERE c.person_id = p.person_id AND p.year_of_birth > 1950",
            ("c",),
        ),
        (  # under OR the equality does not hold on every row
            "SELECT count(*) FROM person p JOIN condition_occurrence c "
            "ON c.person_id = p.person_id OR p.year_of_birth > 1950",
            ("c", "p"),
        ),
        (  # person_id equal to another column
            "SELECT count(*) FROM person p JOIN condition_occurrence c "
            "ON c.visit_occurrence_id = p.person_id",
            ("c", "p"),
        ),
        (  # USING, then an inner join to the outer-joined side: two sets of equal sources
            "SELECT count(*) FROM person p JOIN condition_occurrence c USING (person_id) "
            "LEFT JOIN person q ON q.person_id = p.person_id "
            "JOIN condition_occurrence d ON d.person_id = q.person_id",
            ("c", "d"),
        ),
        (
            "SELECT n, count(*) FROM (SELECT person_id, count(*) AS n "
            "FROM condition_occurrence GROUP BY person_id) s GROUP BY n",
            ("s",),
        ),
        (
            "WITH e AS (SELECT person_id FROM condition_occurrence UNION "
            "SELECT person_id FROM person) SELECT count(*) FROM e",
            ("e",),
        ),
        (  # a CTE read under an alias counts under the alias, not its own name
            "WITH first AS (SELECT person_id, min(condition_source_value) AS code "
            "FROM condition_occurrence GROUP BY 1) SELECT f.code, count(*) FROM first f "
            "LEFT JOIN person p ON p.person_id = f.person_id GROUP BY 1",
            ("f", "p"),
        ),
        (
            "WITH e AS (SELECT person_id FROM person), unused AS (SELECT person_id FROM person) "
            "SELECT count(*) FROM e AS x",
            ("x",),
        ),
        ("SELECT gender_concept_id, year_of_birth FROM person GROUP BY ALL", ("person",)),
        (
            "SELECT gender_concept_id, count(*) FROM person GROUP BY ROLLUP (gender_concept_id)",
            ("person",),
        ),
        (
            "SELECT median(year_of_birth), count(*) FILTER (WHERE year_of_birth > 1950) "
            "FROM person",
            ("person",),
        ),
    ],
)
def test_aggregates_get_a_persons_column(sql: str, sources: tuple[str, ...]) -> None:
    plan = plan_aggregate(sql, SCHEMA)
    assert plan.person_sources == sources
    assert plan.sql.endswith(f'AS "{PERSONS_COLUMN}"') or PERSONS_COLUMN in plan.sql
    for source in sources:
        assert f'COUNT(DISTINCT "{source}"."person_id")' in plan.sql
    with duckdb.connect() as engine:  # the plan binds: it names only what its FROM holds
        for table, columns in SCHEMA.items():
            typed = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            engine.execute(f"CREATE TABLE {table} ({typed})")
        engine.execute(plan.sql).fetchall()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM person", "star"),
        ("SELECT p.* FROM person p GROUP BY ALL", "star"),
        ("SELECT COLUMNS('year.*') FROM person GROUP BY ALL", "star"),
        ("SELECT year_of_birth FROM person", "neither grouped"),
        ("SELECT person_id FROM person GROUP BY person_id", "one row per person"),
        ("SELECT person_id + 0, count(*) FROM person GROUP BY 1", "one row per person"),
        ("SELECT min(year_of_birth) FROM person", "own value"),
        ("SELECT arg_max(person_id, year_of_birth) FROM person", "own value"),
        ("SELECT string_agg(condition_source_value, ',') FROM condition_occurrence", "own value"),
        ("SELECT quantile_disc(year_of_birth, 0.5) FROM person", "own value"),
        ("SELECT histogram(year_of_birth) FROM person", "neither grouped"),
        ("SELECT count(*) OVER () FROM person", "window"),
        ("SELECT (SELECT count(*) FROM person) AS n, count(*) FROM person", "sub-query"),
        ("SELECT 1 UNION SELECT 2", "one SELECT at the top"),
        ("SUMMARIZE person", "one SELECT at the top"),
        ("SELECT count(*) FROM location", "no person is reachable"),
        (
            "SELECT n, count(*) FROM (SELECT visit_occurrence_id AS person_id, count(*) AS n "
            "FROM condition_occurrence GROUP BY 1) s GROUP BY n",
            "no person is reachable",
        ),
    ],
)
def test_what_could_show_a_person_is_refused(sql: str, why: str) -> None:
    with pytest.raises(QueryRefused, match=why):
        plan_aggregate(sql, SCHEMA)


def test_threshold_withholds_small_rows() -> None:
    table = pa.table({"g": ["a", "b", "c"], "n": [30, 9, 12], PERSONS_COLUMN: [25, 9, None]})
    kept, withheld = apply_threshold(table, 10)
    assert kept.column_names == ["g", "n"]
    assert kept.to_pylist() == [{"g": "a", "n": 30}] and withheld == 2


def test_threshold_is_the_same_on_small_and_large_results() -> None:
    rows = 8193
    persons = [None if i % 7 == 0 else i % 23 for i in range(rows)]
    table = pa.table({"g": list(range(rows)), PERSONS_COLUMN: persons})
    expected = [i for i, n in enumerate(persons) if n is not None and n >= 10]
    for size in (rows, 4096, 5):  # NULL counts (NaN once compared) among them
        kept, withheld = apply_threshold(table.slice(0, size), 10)
        assert kept.column("g").to_pylist() == [i for i in expected if i < size]
        assert withheld == size - kept.num_rows
    everyone = pa.table({"g": [1, 2], PERSONS_COLUMN: [10, 11]})
    kept, withheld = apply_threshold(everyone, 10)
    assert kept.column_names == ["g"] and kept.num_rows == 2 and withheld == 0
