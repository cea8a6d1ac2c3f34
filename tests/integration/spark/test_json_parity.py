"""The JSON functions FHIR records are read with give the same values on both engines."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from havre.ingest.fhir.resources import json_text
from havre.lake.engine import DuckDBEngine

pytestmark = pytest.mark.spark

VERDICT = """
    SELECT n, coalesce(json_valid(line) AND regexp_matches(line, '^[ \\t\\r\\n]*[{]'), false)
              AS json_ok
    FROM json_lines ORDER BY n
"""

# one verdict on both engines
AGREED = {
    '{"a": 1}': True,
    ' {"a": 1} ': True,
    '\t{"a": 1}\t': True,
    "{}": True,
    '{"a": "é\\u00e9\\n", "b": "x\\/y"}': True,
    '{"a": 1e400, "b": -0.0, "c": [true, false, null]}': True,
    "[1, 2]": False,  # JSON, not an object
    '"text"': False,
    "12": False,
    "null": False,
    "": False,
    " ": False,
    '{"a": 1} x': False,  # Spark's parser alone would stop at the first value
    '{"a": 1}{"b": 2}': False,  # two records on one line
    '{"a": 1}]': False,
    '{"a": 1},0': False,
    '{"a": 1},"havre:end-of-text"': False,
    "{'a': 1}": False,
    '{"a": 01}': False,
    '{"a": 1 /* c */}': False,
    '{"a": "\\ud800"}': False,
    '{"a": "x\ty"}': False,
    '{"a": "\\x"}': False,
    '{"a": tru}': False,
    '{"a": [1 2]}': False,
    '{"a" 1}': False,
    '{"a": 1.}': False,
    '{"a": .5}': False,
    '{"resourceType": "Patient", "id": "x"': False,  # cut short
}
# not RFC 8259 (or, for repeated keys, not FHIR): DuckDB's parser takes them, Spark's does not
LENIENT_IN_DUCKDB = ('{"a": 1,}', '{"a": [1,]}', '{"a": NaN}', '{"a": 1, "a": 2}')

STRUCTURE = {
    "id": "VARCHAR",
    "gender": "VARCHAR",
    "identifier": [{"system": "VARCHAR", "value": "VARCHAR"}],
    "q": {"value": "JSON"},
}
FIELDS = f"""
    SELECT n, r.id, r.gender,
           list_filter(r.identifier, lambda x: x.system = 's')[1].value AS picked,
           r.identifier[1].system AS first_system,
           {json_text("r.q.value")} AS quantity
    FROM (SELECT n, from_json(line, '{json.dumps(STRUCTURE)}') AS r FROM json_lines)
    ORDER BY n
"""
RECORDS = [
    '{"id": "x", "gender": 1, "identifier": [{"system": "s", "value": "v"}], "q": {"value": 7.20}}',
    '{"id": "x", "gender": "male", "identifier": {"system": "s"}, "q": {"value": "7.2"}}',
    '{"id": 5, "gender": {"a": [1, 2]}, "identifier": [{"system": 3, "value": true}],'
    ' "q": {"value": 1e2}}',
    '{"id": "x", "gender": null, "identifier": "abc", "q": {"value": null}}',
    '{"identifier": [1, "a"], "id": "y", "q": {"value": [1]}, "gender": "female"}',
    '{"identifier": [{"system": ["a"]}], "id": "y", "q": 5, "gender": "female"}',
    '{"identifier": [{"system": "t", "value": "1"}, {"system": "s", "value": "2"}], "id": "z",'
    ' "q": {"value": -12.5}, "extra": {"deep": [1, 2, {"x": 1}]}}',
    '{"id": "w", "gender": "é\\u00e9"}',
    "{}",
]


def _lines(engine: Any, lines: list[str]) -> None:
    engine.register(
        "json_lines",
        pa.table({"n": pa.array(range(len(lines)), pa.int64()), "line": pa.array(lines)}),
    )


def test_a_record_is_one_json_object_on_both_engines(spark: Any, duck: DuckDBEngine) -> None:
    lines = [*AGREED, *LENIENT_IN_DUCKDB]
    verdicts = {}
    for engine in (duck, spark):
        _lines(engine, lines)
        verdicts[engine.name] = engine.sql(VERDICT).column("json_ok").to_pylist()
        engine.unregister("json_lines")
    expected = [*AGREED.values(), *(False for _ in LENIENT_IN_DUCKDB)]
    assert verdicts["spark"] == expected
    assert verdicts["duckdb"] == [*AGREED.values(), *(True for _ in LENIENT_IN_DUCKDB)]


def test_fields_read_from_json_are_the_same(spark: Any, duck: DuckDBEngine) -> None:
    results = {}
    for engine in (duck, spark):
        _lines(engine, RECORDS)
        results[engine.name] = engine.sql(FIELDS).to_pylist()
        engine.unregister("json_lines")
    assert results["spark"] == results["duckdb"]
    by_n = {row["n"]: row for row in results["duckdb"]}
    assert by_n[0]["quantity"] == "7.2"
    assert by_n[1]["quantity"] == '"7.2"'  # a number written as a string stays a string
    assert by_n[2]["id"] == "5" and by_n[2]["first_system"] == "3"
    assert by_n[6]["picked"] == "2"
    assert by_n[3]["quantity"] is None
