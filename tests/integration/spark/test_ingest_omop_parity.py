"""An OMOP CDM delivery ingested on Spark: the lake, reconciliation and quarantine DuckDB makes.

The dirty OMOP CSV export of the ingest tests (RFC 4180 quoting, an open quote, an unknown
person, a bad date, an objector, a duplicate, a table Havre does not map) is ingested once per
engine into one hub (the same keys, so the same pseudonyms), Spark staging it itself."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from havre.core.actor import Actor
from havre.core.config import Settings
from havre.hub import Hub
from havre.ingest import ids
from havre.lake.version import LakeVersion

from .helpers import TESTS, assert_same_tables, content_hash, spec_module

pytestmark = pytest.mark.spark

ENGINES = ("duckdb", "spark")
SOURCE = "cohort-a"


@pytest.fixture(scope="module")
def lakes(
    tmp_path_factory: pytest.TempPathFactory, spark_settings: Settings
) -> Iterator[dict[str, LakeVersion]]:
    root = tmp_path_factory.mktemp("omop-parity")
    deliveries = spec_module("unit/ingest/deliveries.py", root=TESTS)
    folder, _ = deliveries.write_omop(root / "omop", dirty=True)
    patch = pytest.MonkeyPatch()
    # record ids are keyed by a secret drawn per run (havre.ingest.ids): fixed for both runs
    patch.setattr(ids, "secrets", types.SimpleNamespace(randbelow=lambda n: n // 3))
    home: Path = root / "hub"
    hub, _ = Hub.init(Settings(home=home))
    hub.optouts.add_omop(Actor.operator(), SOURCE, "4")
    hub.close()
    try:
        for engine in ENGINES:
            settings = Settings(home=home, engine=engine, spark_master=spark_settings.spark_master)
            with Hub.open(settings) as opened:
                opened.ingest.ingest(
                    Actor.operator(), folder, "omop", source_name=SOURCE, dataset=f"omop-{engine}"
                )
        with Hub.open(Settings(home=home)) as reading:
            yield {engine: reading.lake.open(f"omop-{engine}") for engine in ENGINES}
    finally:
        patch.undo()


def test_the_same_lake_on_both_engines(lakes: dict[str, LakeVersion]) -> None:
    assert_same_tables(lakes["duckdb"], lakes["spark"])
    assert lakes["duckdb"].read("person").num_rows == 3


def test_reconciliation_and_quarantine_identical(lakes: dict[str, LakeVersion]) -> None:
    on_duckdb, on_spark = (lakes[engine].manifest for engine in ENGINES)
    assert on_spark.reconciliation == on_duckdb.reconciliation
    total = on_duckdb.reconciliation.total
    assert total.quarantined >= 6 and total.opted_out > 0 and total.duplicates > 0
    quarantined = [lakes[engine].quarantine().to_table() for engine in ENGINES]
    assert content_hash(quarantined[1]) == content_hash(quarantined[0])
    assert on_spark.quality == on_duckdb.quality
    assert any(step.startswith("read, checked, resolved") for step in on_spark.lineage.steps)
