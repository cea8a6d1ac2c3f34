"""The ingest's mapping to OMOP, query by query, on both engines over the same staged rows.

The mapping stage is SQL over the staged tables (``IngestContext.outputs``). Here a synthetic
SNDS delivery is ingested on DuckDB, and just before the lake is written every mapping query
also runs on Spark, over the same staged rows: each lake table must come out the same, whatever
the staging upstream. The whole ingest on Spark (staging, lake files, checks) is
``test_ingest_lake_parity.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from havre.core.actor import Actor
from havre.core.config import Settings
from havre.hub import Hub
from havre.ingest import pipeline
from havre.ingest.context import IngestContext
from havre.lake.engine import DuckDBEngine
from havre.synth import SynthOptions, generate

from .helpers import content_hash

pytestmark = pytest.mark.spark


def relations(query: str) -> set[str]:
    """The relations a mapping query reads (its CTEs left out)."""
    tree = sqlglot.parse_one(query, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


@pytest.fixture(scope="module")
def mapped(
    tmp_path_factory: pytest.TempPathFactory, spark: Any
) -> Iterator[dict[str, tuple[pa.Table, pa.Table]]]:
    root = tmp_path_factory.mktemp("ingest-parity")
    generate(SynthOptions(persons=300, seed=11, out=root / "synth", formats=("snds",)))
    hub, _ = Hub.init(Settings(home=root / "hub"))
    results: dict[str, tuple[pa.Table, pa.Table]] = {}
    original = getattr(pipeline, "write_lake")  # noqa: B009 - patched below, by name

    def both_engines(ctx: IngestContext, *args: Any, **kwargs: Any) -> Any:
        engine = ctx.engine
        assert isinstance(engine, DuckDBEngine)  # the run is DuckDB's; Spark replays it
        copied: set[str] = set()
        for table, query in ctx.outputs.items():
            for name in relations(query) - copied:
                spark.register(name, engine.sql(f"SELECT * FROM {name}"))
                copied.add(name)
            results[table] = (engine.sql(query), spark.sql(query))
        return original(ctx, *args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr("havre.ingest.pipeline.write_lake", both_engines)
    try:
        hub.ingest.ingest(Actor.operator(), root / "synth" / "snds", "snds")
        yield results
    finally:
        patch.undo()
        hub.close()


def test_every_lake_table_mapped_alike(mapped: dict[str, tuple[pa.Table, pa.Table]]) -> None:
    assert {"person", "visit_occurrence", "condition_occurrence", "drug_exposure"} <= set(mapped)
    for table, (on_duckdb, on_spark) in mapped.items():
        assert on_spark.num_rows == on_duckdb.num_rows, table
        assert on_spark.column_names == on_duckdb.column_names, table
        assert content_hash(on_spark.cast(on_duckdb.schema)) == content_hash(on_duckdb), table
    assert mapped["person"][0].num_rows > 250
