"""Lake tables are materialized without the columns a mapping fills with one literal, and
the staged tables behind them are dropped once no later lake table reads them."""

from __future__ import annotations

from pathlib import Path

from havre.cdm.omop import omop_table
from havre.core.config import Settings
from havre.ingest.writing import constant_columns, release_unread
from havre.lake.engine import DuckDBEngine


def test_only_columns_constant_in_every_branch_are_left_out() -> None:
    spec = omop_table("drug_exposure")
    claims = spec.select_list(
        {
            "drug_exposure_id": "x.id",
            "drug_concept_id": "0",
            "drug_type_concept_id": "32810",
            "drug_source_value": "upper(x.atc)",
        }
    )
    hospital = spec.select_list(
        {"drug_exposure_id": "y.id", "drug_concept_id": "0", "drug_type_concept_id": "32817"}
    )
    query = f"SELECT {claims} FROM x UNION ALL SELECT {hospital} FROM y"
    constant = constant_columns("drug_exposure", query)
    assert constant["drug_concept_id"] == "CAST(0 AS BIGINT)"
    assert constant["stop_reason"] == "CAST(NULL AS VARCHAR)"
    # different literals, or an expression in one branch: stored
    assert "drug_type_concept_id" not in constant
    assert "drug_source_value" not in constant
    assert "drug_exposure_id" not in constant
    # a column named anywhere else in the query is stored, whatever its projections say
    nested = f"SELECT * FROM (SELECT {hospital} FROM y) AS t JOIN z ON z.a = t.stop_reason"
    renamed = nested.replace("FROM y", "FROM (SELECT 1 AS stop_reason) AS y")
    assert "stop_reason" not in constant_columns("drug_exposure", renamed)


def test_staged_tables_are_dropped_once_no_later_query_reads_them(tmp_path: Path) -> None:
    engine = DuckDBEngine(Settings(home=tmp_path, duckdb_memory_limit="256MB"))
    try:
        for name in ("chk_a", "chk_b", "kinds", "other"):
            engine.execute(f"CREATE TEMP TABLE {name} AS SELECT 1 AS x")
        engine.execute("CREATE TEMP VIEW res_a AS SELECT * FROM chk_a JOIN kinds USING (x)")
        engine.execute("CREATE TEMP VIEW res_b AS SELECT * FROM chk_b")

        def tables() -> set[str]:
            return {r["table_name"] for r in engine.sql("FROM duckdb_tables()").to_pylist()}

        # res_a reads chk_a and kinds through its view: they stay; the others go
        staged = {"chk_a", "chk_b", "kinds", "other"}
        assert release_unread(engine, staged, ["SELECT x FROM RES_A"]) == {"chk_b", "other"}
        assert tables() == {"chk_a", "kinds"}
        assert engine.sql("SELECT count(*) AS n FROM res_a").to_pylist() == [{"n": 1}]
        # a name anywhere in a query's text keeps its table, even as a column's name
        assert release_unread(engine, {"chk_a", "kinds"}, ["SELECT 1 AS kinds"]) == {"chk_a"}
        # only the tables given as staged are ever dropped
        assert release_unread(engine, set(), []) == set()
        assert tables() == {"kinds"}
        assert release_unread(engine, {"kinds"}, []) == {"kinds"}
        assert tables() == set()
    finally:
        engine.close()
