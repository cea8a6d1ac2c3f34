"""Each generalization level, evaluated by the engine on known values; portable to Spark SQL."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlglot

from havre.disclosure.risk.hierarchies import ColumnKind, hierarchy, infer_kind, parse_kind
from havre.lake.engine import DuckDBEngine

CASES: list[tuple[ColumnKind, object, list[object]]] = [
    (ColumnKind.BIRTH_MONTH, "1984-07", ["1984-07", "1984", "1980-1984", "1980-1989"]),
    (ColumnKind.BIRTH_MONTH, "2000-01", ["2000-01", "2000", "2000-2004", "2000-2009"]),
    (ColumnKind.BIRTH_YEAR, 1957, [1957, "1955-1959", "1950-1959"]),
    (ColumnKind.AGE, 47, [47, "45-49", "40-49", "40-59"]),
    (ColumnKind.AGE, 93, [93, "90+", "90+", "80+"]),
    (ColumnKind.AGE, 0, [0, "0-4", "0-9", "0-19"]),
    (ColumnKind.COMMUNE, "75056", ["75056", "75", "11"]),
    (ColumnKind.COMMUNE, "2A004", ["2A004", "2A", "94"]),
    (ColumnKind.COMMUNE, "97411", ["97411", "974", "04"]),
    (ColumnKind.COMMUNE, "01001", ["01001", "01", "84"]),
    (ColumnKind.DEPARTEMENT, "2B", ["2B", "94"]),
    (ColumnKind.DEPARTEMENT, "971", ["971", "01"]),
    (
        ColumnKind.EXACT_DATE,
        "2021-03-17",
        ["2021-03-17", "2021-03-15", "2021-03", "2021-Q1", "2021"],
    ),
    (
        ColumnKind.EXACT_DATE,
        "2020-01-01",
        ["2020-01-01", "2019-12-30", "2020-01", "2020-Q1", "2020"],
    ),
    (ColumnKind.MONTH, "2021-03", ["2021-03", "2021-Q1", "2021"]),
    (ColumnKind.MONTH, "2019-12", ["2019-12", "2019-Q4", "2019"]),
    (ColumnKind.YEAR, "2021", ["2021", "2020-2024", "2020-2029"]),
    (ColumnKind.ICD10, "E11.9", ["E11.9", "E11", "IV"]),
    (ColumnKind.ICD10, "C510", ["C510", "C51", "II"]),
    (ColumnKind.ICD10, "d50", ["d50", "D50", "III"]),
    (ColumnKind.ICD10, "H61", ["H61", "H61", "VIII"]),
    (ColumnKind.ICD10, "T20.1", ["T20.1", "T20", "XIX"]),
    (ColumnKind.ATC, "A10BA02", ["A10BA02", "A10BA", "A10B", "A10", "A"]),
    (ColumnKind.SEX, "2", ["2"]),
    (ColumnKind.OTHER, "x", ["x"]),
]


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_levels(
    engine: DuckDBEngine, kind: ColumnKind, value: object, expected: list[object]
) -> None:
    engine.register("v", pa.table({"c": [value]}))
    tree = hierarchy(kind)
    assert len(tree.levels) == len(expected)
    selects = ", ".join(f"{level.sql('c')} AS l{i}" for i, level in enumerate(tree.levels))
    row = engine.sql(f"SELECT {selects} FROM v").to_pylist()[0]
    assert [row[f"l{i}"] for i in range(len(expected))] == expected


def test_dates_may_be_typed(engine: DuckDBEngine) -> None:
    import datetime as dt

    engine.register("v", pa.table({"c": [dt.date(2021, 3, 17)]}))
    tree = hierarchy(ColumnKind.EXACT_DATE)
    month = engine.sql(f"SELECT {tree.levels[2].sql('c')} AS m FROM v").to_pylist()[0]["m"]
    assert month == "2021-03"
    birth = hierarchy(ColumnKind.BIRTH_MONTH)
    year = engine.sql(f"SELECT {birth.levels[1].sql('c')} AS y FROM v").to_pylist()[0]["y"]
    assert year == "2021"


def test_nulls_stay_null(engine: DuckDBEngine) -> None:
    engine.register("v", pa.table({"c": pa.array([None], pa.string())}))
    for kind in ColumnKind:
        for level in hierarchy(kind).levels[:1]:
            assert engine.sql(f"SELECT {level.sql('c')} AS x FROM v").to_pylist()[0]["x"] is None


@pytest.mark.parametrize("kind", list(ColumnKind))
def test_every_level_transpiles_to_spark(kind: ColumnKind) -> None:
    tree = hierarchy(kind)
    for level in tree.levels:
        sqlglot.transpile(f"SELECT {level.sql('q0')} FROM t", read="duckdb", write="spark")
    if tree.invalid_when:
        sqlglot.transpile(
            f"SELECT 1 FROM t WHERE {tree.invalid_when.replace('{c}', 'q0')}",
            read="duckdb",
            write="spark",
        )


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (ColumnKind.COMMUNE, "2A004", "7505"),
        (ColumnKind.COMMUNE, "97411", "ABCDE"),
        (ColumnKind.DEPARTEMENT, "974", "20"),
        (ColumnKind.BIRTH_MONTH, "1984-07", "07/1984"),
        (ColumnKind.BIRTH_YEAR, "1984", "unknown"),
        (ColumnKind.AGE, "40", "-3"),
        (ColumnKind.EXACT_DATE, "2021-02-28", "2021-02-30"),
        (ColumnKind.ICD10, "E11.9", "11E"),
        (ColumnKind.ATC, "A10BA02", "10"),
    ],
)
def test_invalid_values_are_recognized(
    engine: DuckDBEngine, kind: ColumnKind, good: str, bad: str
) -> None:
    engine.register("v", pa.table({"c": [good, bad]}))
    predicate = hierarchy(kind).invalid_when
    assert predicate is not None
    flagged = engine.sql(f"SELECT c FROM v WHERE {predicate.replace('{c}', 'c')}").to_pylist()
    assert flagged == [{"c": bad}]


def test_kinds_by_name() -> None:
    assert infer_kind("BEN_RES_COM") is ColumnKind.COMMUNE
    assert infer_kind("year_of_birth") is ColumnKind.BIRTH_YEAR
    assert infer_kind("something") is ColumnKind.OTHER
    assert parse_kind(" Commune ") is ColumnKind.COMMUNE
    with pytest.raises(ValueError, match="unknown column kind 'zip'"):
        parse_kind("zip")


def test_level_lookup() -> None:
    tree = hierarchy(ColumnKind.EXACT_DATE)
    assert tree.level_index("month") == 2
    assert tree.top == 4
    with pytest.raises(ValueError, match="no level 'decade'"):
        tree.level_index("decade")


def test_departement_pattern_matches_the_reference() -> None:
    import re

    from havre.cdm.reference import departements
    from havre.disclosure.risk.hierarchies import DEPARTEMENT_PATTERN

    codes = departements().column("code_departement").to_pylist()
    assert all(re.match(DEPARTEMENT_PATTERN, code) for code in codes)
    for wrong in ("00", "20", "96", "99", "970", "979", "985", "2C", "7"):
        assert not re.match(DEPARTEMENT_PATTERN, wrong)
