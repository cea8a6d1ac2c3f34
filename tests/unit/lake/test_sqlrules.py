"""The DuckDB-to-Spark rules: each one on the construct it exists for (no Spark needed)."""

from __future__ import annotations

import pytest
import sqlglot

from havre.core.errors import EngineError
from havre.lake import sqlrules
from havre.lake.sqlrules import Statement, StatementKind, to_spark, translate
from havre.pseudo.hmac_sql import hmac_sql
from havre.workspace.pseudonyms import shift_sql


def _tree(sql: str) -> sqlglot.exp.Expr:
    return sqlglot.parse_one(sql, read="duckdb")


def test_hex_text_becomes_conv() -> None:
    tree = sqlrules.hex_text_to_number(_tree("SELECT CAST(('0x' || substr(h, 1, 8)) AS UBIGINT)"))
    spark = tree.sql(dialect="spark")
    assert "CONV(SUBSTRING(h, 1, 8), 16, 10)" in spark
    assert "'0x'" not in spark


def test_hex_rule_leaves_other_casts() -> None:
    sql = "SELECT CAST(('1' || x) AS BIGINT)"
    assert sqlrules.hex_text_to_number(_tree(sql)).sql() == _tree(sql).sql()


def test_unsigned_types_widen() -> None:
    spark = sqlrules.unsigned_types(_tree("SELECT CAST(a AS UBIGINT), CAST(b AS UINTEGER)"))
    text = spark.sql(dialect="spark")
    assert "DECIMAL(20, 0)" in text and "BIGINT" in text and "UBIGINT" not in text


def test_random_is_refused() -> None:
    with pytest.raises(EngineError, match="no portable form"):
        sqlrules.refuse_non_portable(_tree("SELECT random() FROM t"))


def test_hash_becomes_xxhash64_of_the_same_values() -> None:
    # a grouping key on each engine, not the same numbers: see grouping_hash
    assert to_spark("SELECT hash(a, 7) FROM t") == "SELECT XXHASH64(a, 7) FROM t"


def test_try_decode_validates_utf8() -> None:
    spark = to_spark("SELECT try(decode(raw)) FROM t")
    assert spark == "SELECT TRY_VALIDATE_UTF8(CAST(raw AS STRING)) FROM t"


def test_full_match_is_anchored_at_the_very_end() -> None:
    spark = to_spark("SELECT regexp_full_match(line, '[0-9]{2};\\n') FROM t")
    # \z, not $: Java's $ also matches before a final line end
    assert spark == "SELECT line RLIKE '^(?:[0-9]{2};\\\\n)\\\\z' FROM t"
    pattern = to_spark("SELECT regexp_full_match(line, p) FROM t")
    assert pattern == "SELECT line RLIKE CONCAT('^(?:', p, ')\\\\z') FROM t"


def test_list_index_is_null_past_the_end() -> None:
    assert to_spark("SELECT parts[3] FROM t") == "SELECT TRY_ELEMENT_AT(parts, 3) FROM t"
    with pytest.raises(EngineError, match="must be a number"):
        to_spark("SELECT parts[i] FROM t")
    assert to_spark("SELECT s['field'] FROM t") == "SELECT s['field'] FROM t"


def test_left_with_a_negative_length_drops_the_end() -> None:
    assert to_spark("SELECT left(s, -2) FROM t") == "SELECT LEFT(s, LENGTH(s) - 2) FROM t"
    assert to_spark("SELECT left(s, 2) FROM t") == "SELECT LEFT(s, 2) FROM t"


def test_statements_the_ingest_uses() -> None:
    empty = "SELECT CAST(NULL AS BIGINT) AS a, CAST(NULL AS STRING) AS b WHERE FALSE"
    assert translate("CREATE TEMP TABLE IF NOT EXISTS r (a BIGINT, b VARCHAR)") == Statement(
        StatementKind.CREATE_TEMP, empty, "r", if_exists=True
    )
    assert translate("INSERT INTO r SELECT x, y FROM s") == Statement(
        StatementKind.INSERT, "SELECT x, y FROM s", "r"
    )
    assert translate("ALTER TABLE r DROP COLUMN IF EXISTS h2") == Statement(
        StatementKind.DROP_COLUMN, "", "r", if_exists=True, column="h2"
    )


def test_empty_in_list_is_false() -> None:
    tree = _tree("SELECT a FROM t WHERE a IN (1)")
    tree.find(sqlglot.exp.In).set("expressions", [])
    assert "FALSE" in sqlrules.empty_in_list(tree).sql(dialect="spark")


def test_pipeline_sql_translates() -> None:
    spark = to_spark(f"SELECT {shift_sql(hmac_sql('p.h', 'k'), 30)} FROM p CROSS JOIN k")
    assert "SHA2(" in spark and "ENCODE(p.h, 'utf-8')" in spark and "CONV(" in spark


def test_temporary_table_statements() -> None:
    create = translate("CREATE TEMP TABLE ws_x AS SELECT a FROM t")
    assert (create.kind, create.table, create.sql) == (
        StatementKind.CREATE_TEMP,
        "ws_x",
        "SELECT a FROM t",
    )
    drop = translate("DROP TABLE IF EXISTS ws_x")
    assert (drop.kind, drop.table, drop.if_exists) == (StatementKind.DROP, "ws_x", True)
    delete = translate("DELETE FROM pc WHERE v IS NULL")
    assert delete.kind is StatementKind.DELETE
    assert delete.sql == "SELECT * FROM pc WHERE NOT COALESCE((v IS NULL), FALSE)"


def test_one_statement_at_a_time() -> None:
    with pytest.raises(EngineError, match="one SQL statement"):
        translate("SELECT 1; SELECT 2")


def test_timestamps_are_without_zone() -> None:
    assert "TIMESTAMP_NTZ" in to_spark("SELECT CAST(d AS TIMESTAMP) FROM t")


def test_json_valid_checks_the_text_is_one_value() -> None:
    spark = sqlrules.json_valid(_tree("SELECT json_valid(line) FROM t")).sql(dialect="spark")
    assert "TRY_PARSE_JSON(CONCAT('[', line, ',\"havre:end-of-text\"]'))" in spark
    assert "'$[1]'" in spark and "'$[2]'" in spark and "COALESCE(" in spark


def test_from_json_structure_becomes_a_spark_type() -> None:
    sql = """SELECT from_json(line, '{"id": "VARCHAR", "x": [{"v": "JSON"}]}') FROM t"""
    spark = sqlrules.from_json(_tree(sql)).sql(dialect="spark")
    assert "'STRUCT<`id`: STRING, `x`: ARRAY<STRUCT<`v`: VARIANT>>>'" in spark
    with pytest.raises(EngineError, match="only VARCHAR and JSON"):
        sqlrules.from_json(_tree("""SELECT from_json(line, '{"n": "INTEGER"}') FROM t"""))
    with pytest.raises(EngineError, match="as a literal"):
        sqlrules.from_json(_tree("SELECT from_json(line, s) FROM t"))
