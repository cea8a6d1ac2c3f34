"""The analysis on a small extract whose every figure is computed by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from havre.core.errors import DataValidationError, NotFoundError, UsageError
from havre.disclosure.risk import (
    ColumnKind,
    Population,
    QuasiIdentifier,
    RiskAnalysis,
    RiskDeclaration,
    assess,
    declare,
    open_file,
    register,
)
from havre.lake.engine import DuckDBEngine

# Classes at the finest level: (40-49,1,75) x3 [A,B,B], (40-49,2,75) x2 [A,A],
# (50-59,1,13) x1 [C], (50-59,1,83) x1 [C], (NULL,2,13) x1 [A].
ROWS = [
    ("40-49", "1", "75", "A"),
    ("40-49", "1", "75", "B"),
    ("40-49", "1", "75", "B"),
    ("40-49", "2", "75", "A"),
    ("40-49", "2", "75", "A"),
    ("50-59", "1", "13", "C"),
    ("50-59", "1", "83", "C"),
    (None, "2", "13", "A"),
]
DECLARATION = RiskDeclaration(
    (
        QuasiIdentifier("age_band"),
        QuasiIdentifier("sex", ColumnKind.SEX),
        QuasiIdentifier("dep", ColumnKind.DEPARTEMENT),
    ),
    sensitive=("dx",),
)


def extract(rows: Sequence[tuple[str | None, ...]] = ROWS) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.table(
        {
            name: pa.array(values, pa.string())
            for name, values in zip(("age_band", "sex", "dep", "dx"), columns, strict=True)
        }
    )


def test_measures_by_hand(engine: DuckDBEngine) -> None:
    result = assess(register(engine, extract()), DECLARATION)
    assert result.records == 8
    assert result.histogram.sizes == (1, 2, 3)
    assert result.histogram.counts == (3, 1, 1)
    assert result.k == 1
    assert result.unique_share == pytest.approx(3 / 8)
    assert result.prosecutor.highest == 1.0
    assert result.prosecutor.average == pytest.approx(5 / 8)
    assert result.prosecutor.records_at_risk == 1.0
    assert result.journalist == result.prosecutor
    assert result.journalist_basis == "whole_population"
    assert result.marketer == pytest.approx(5 / 8)
    assert result.population_uniqueness.model == "exact"
    assert result.population_uniqueness.share == pytest.approx(3 / 8)
    (dx,) = result.diversity
    assert (dx.distinct_l, dx.homogeneous_classes, dx.homogeneous_records) == (1, 4, 5)
    assert dx.entropy_l == pytest.approx(1.0)
    assert result.l == 1


def test_missing_values_form_their_own_class(engine: DuckDBEngine) -> None:
    rows = [*ROWS, (None, "2", "13", "B")]
    result = assess(register(engine, extract(rows)), DECLARATION)
    # the NULL-age class grows to 2 instead of creating a new unique
    assert result.histogram.sizes == (1, 2, 3)
    assert result.histogram.counts == (2, 2, 1)


def test_generalization_merges_classes(engine: DuckDBEngine) -> None:
    with RiskAnalysis(register(engine, extract()), DECLARATION) as analysis:
        # département -> région: 13 and 83 are both in région 93
        result = analysis.assess((0, 0, 1))
        assert result.histogram.sizes == (1, 2, 3)
        assert result.histogram.counts == (1, 2, 1)
        assert result.prosecutor.average == pytest.approx(4 / 8)
        assert [c.level for c in result.columns] == ["value", "value", "région"]
        with pytest.raises(UsageError, match="has no level 2"):
            analysis.assess((0, 0, 2))


def test_entropy_l_diversity(engine: DuckDBEngine) -> None:
    rows = [("a", "1", "75", "A"), ("a", "1", "75", "B"), ("a", "1", "75", "B")]
    (dx,) = assess(register(engine, extract(rows)), DECLARATION).diversity
    entropy = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    assert dx.distinct_l == 2
    assert dx.entropy_l == pytest.approx(math.exp(entropy))
    assert dx.homogeneous_classes == 0


def test_suppression_drops_small_classes(engine: DuckDBEngine) -> None:
    with RiskAnalysis(register(engine, extract()), DECLARATION) as analysis:
        result = analysis.assess(min_class_size=2)
    assert result.records == 5
    assert result.suppressed_records == 3
    assert result.k == 2
    assert result.prosecutor.average == pytest.approx(2 / 5)
    (dx,) = result.diversity
    assert (dx.distinct_l, dx.homogeneous_classes, dx.homogeneous_records) == (1, 1, 2)


def test_population_table(engine: DuckDBEngine) -> None:
    population_rows = [
        *ROWS,
        ("50-59", "1", "13", "X"),
        ("50-59", "1", "13", "Y"),
        ("40-49", "1", "75", "Z"),
    ]
    population = register(engine, extract(population_rows))
    with RiskAnalysis(
        register(engine, extract()), DECLARATION, Population.table(population.name), 0.3
    ) as analysis:
        result = analysis.assess()
    # population classes: 4, 2, 3, 1, 1 (11 people); the extract's: 3, 2, 1, 1, 1
    marketer = (3 / 4 + 2 / 2 + 1 / 3 + 1 + 1) / 8
    assert result.journalist_basis == "population_table"
    assert result.marketer == pytest.approx(marketer)
    assert result.journalist.average == pytest.approx(max(5 / 11, marketer))
    assert result.journalist.highest == 1.0
    # 1/F > 0.3 for F in {2, 3, 1, 1}: 2 + 1 + 1 + 1 records
    assert result.journalist.records_at_risk == pytest.approx(5 / 8)
    assert result.population_uniqueness.share == pytest.approx(2 / 11)
    assert result.population_uniqueness.population_size == 11
    assert result.prosecutor.average == pytest.approx(5 / 8)


def test_population_table_must_contain_the_extract(engine: DuckDBEngine) -> None:
    population_rows = [row for row in ROWS if row[2] != "83"] * 2
    population = register(engine, extract(population_rows))
    with (
        RiskAnalysis(
            register(engine, extract()), DECLARATION, Population.table(population.name)
        ) as analysis,
        pytest.raises(DataValidationError, match="population table does not"),
    ):
        analysis.assess()
    smaller = register(engine, extract(ROWS[:3]))
    with pytest.raises(DataValidationError, match="fewer than the extract"):
        RiskAnalysis(register(engine, extract()), DECLARATION, Population.table(smaller.name))


def test_sampled_extract(engine: DuckDBEngine) -> None:
    relation = register(engine, extract())
    by_fraction = assess(relation, DECLARATION, Population.sample(0.5))
    by_size = assess(relation, DECLARATION, Population.of_size(16))
    assert by_fraction == by_size
    assert by_fraction.journalist_basis == "sampling_fraction"
    assert by_fraction.population_uniqueness.population_size == 16
    assert by_fraction.population_uniqueness.sampling_fraction == 0.5
    assert by_fraction.marketer < by_fraction.prosecutor.average
    assert by_fraction.journalist.highest < 1.0
    assert by_fraction.prosecutor.average == pytest.approx(5 / 8)
    with pytest.raises(UsageError, match="smaller than the extract"):
        assess(relation, DECLARATION, Population.of_size(5))


def test_declaration_errors(engine: DuckDBEngine) -> None:
    relation = register(engine, extract())
    with pytest.raises(UsageError, match="no column 'birth'"):
        assess(relation, declare(["birth", "sex"]))
    with pytest.raises(UsageError, match="No quasi-identifier"):
        declare([])
    with pytest.raises(UsageError, match="declared twice"):
        declare(["sex"], ["sex"])
    with pytest.raises(UsageError, match="not a quasi-identifier"):
        declare(["sex"], kinds={"dep": "departement"})
    with pytest.raises(UsageError, match="unknown column kind"):
        declare(["dep"], kinds={"dep": "zipcode"})
    with pytest.raises(UsageError, match="Give the population once"):
        Population(sampling_fraction=0.1, size=100)
    with pytest.raises(UsageError, match=r"not in \(0, 1\]"):
        Population.sample(1.5)


def test_values_that_do_not_fit_the_kind(engine: DuckDBEngine) -> None:
    relation = register(engine, extract())
    declaration = declare(["age_band", "dep"], kinds={"dep": "commune"})
    with pytest.raises(DataValidationError) as caught:
        assess(relation, declaration)
    assert "'dep' is declared as commune" in caught.value.message
    assert "8 record(s)" in caught.value.message
    assert caught.value.context["column"] == "dep"


def test_empty_extract(engine: DuckDBEngine) -> None:
    with pytest.raises(DataValidationError, match="no records"):
        assess(register(engine, extract([("a", "1", "75", "A")]).slice(0, 0)), DECLARATION)


def test_temporary_tables_are_dropped(engine: DuckDBEngine) -> None:
    def temporary() -> int:
        return int(
            engine.sql("SELECT COUNT(*) AS n FROM duckdb_tables() WHERE temporary")[0][0].as_py()
        )

    before = temporary()
    with RiskAnalysis(register(engine, extract()), DECLARATION) as analysis:
        assert temporary() == before + 1
        analysis.assess()
    assert temporary() == before


def test_files(engine: DuckDBEngine, tmp_path: Path) -> None:
    table = extract()
    pq.write_table(table, tmp_path / "x.parquet")
    pacsv.write_csv(
        table, tmp_path / "x.csv", pacsv.WriteOptions(delimiter=";", quoting_style="none")
    )
    from_parquet = assess(register(engine, open_file(tmp_path / "x.parquet")), DECLARATION)
    from_csv = assess(
        register(engine, open_file(tmp_path / "x.csv", DECLARATION.columns)), DECLARATION
    )
    assert from_parquet.histogram == from_csv.histogram
    # a CSV reads codes as text: the leading zero of a commune survives
    (tmp_path / "c.csv").write_text("commune,sex\n01001,1\n01001,2\n", encoding="utf-8")
    communes = assess(
        register(engine, open_file(tmp_path / "c.csv", ["commune", "sex"])),
        declare(["commune", "sex"]),
    )
    assert communes.columns[0].kind is ColumnKind.COMMUNE
    assert communes.records == 2
    with pytest.raises(NotFoundError):
        open_file(tmp_path / "missing.parquet")
    with pytest.raises(UsageError, match="unknown file type"):
        (tmp_path / "x.xlsx").write_text("x", encoding="utf-8")
        open_file(tmp_path / "x.xlsx")
