"""Ingestion on Spark: ``HAVRE_ENGINE=spark havre ingest`` makes the lake DuckDB makes.

One synthetic population (dirty records, objectors in the opt-out register), as SNDS text
files, as SNDS Parquet files and as a hospital's FHIR export, is ingested by the ``havre
ingest`` command into one hub — so with the same keys, hence the same pseudonyms —, once per
engine and delivery, as six datasets. On Spark, every delivery is read, checked, resolved and
pseudonymized by Spark itself. Every table must hold the rows DuckDB makes, registered in the
manifest as the DuckDB path registers them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from havre.core.config import Settings
from havre.core.hashing import sha256_file
from havre.lake.version import LakeVersion
from havre.synth import SynthOptions, generate

from .helpers import ENGINES, assert_same_tables, cli_hub, content_hash, havre

pytestmark = pytest.mark.spark

# the synthetic population as SNDS text files, as SNDS Parquet files and as a FHIR export
DELIVERIES = ("snds-csv", "snds-parquet", "fhir")
SOURCES = {
    "snds-csv": ("csv/snds", "snds"),
    "snds-parquet": ("parquet/snds", "snds"),
    "fhir": ("csv/fhir", "fhir"),
}
Ingested = tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], LakeVersion]]


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, spark_settings: Settings
) -> Iterator[Ingested]:
    root = tmp_path_factory.mktemp("ingest-lake-parity")
    for file_format in ("csv", "parquet"):
        formats = ("snds", "fhir") if file_format == "csv" else ("snds",)
        generate(
            SynthOptions(
                persons=300,
                seed=11,
                out=root / file_format,
                formats=formats,
                dirty_rate=0.05,
                file_format=file_format,
            )
        )
    with cli_hub(root / "hub", spark_settings.spark_master) as (ingest, hub):
        assert havre("optout", "import", str(root / "csv" / "optout" / "optout.csv"))["added"] > 0
        results = {}
        for delivery in DELIVERIES:
            folder, source = SOURCES[delivery]
            results.update(ingest(root / folder, source, delivery))
        versions = {
            (engine, delivery): hub.lake.open(f"{delivery}-{engine}")
            for engine in ENGINES
            for delivery in DELIVERIES
        }
        yield results, versions


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_the_same_lake_on_both_engines(ingested: Ingested, delivery: str) -> None:
    results, versions = ingested
    on_duckdb, on_spark = versions["duckdb", delivery], versions["spark", delivery]
    assert (
        results["spark", delivery]["created"]
        and results["spark", delivery]["lake_rows"] == (results["duckdb", delivery]["lake_rows"])
    )
    assert_same_tables(on_duckdb, on_spark)
    persons = on_duckdb.read("person")
    assert persons.num_rows > (250 if delivery != "fhir" else 20)
    assert on_duckdb.table("visit_occurrence").rows > 0
    for column in ("person_id", "hub_pseudonym"):
        spark_persons = on_spark.read("person").column(column).to_pylist()
        assert sorted(spark_persons) == sorted(persons.column(column).to_pylist()), column


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_files_registered_as_duckdb_registers_them(ingested: Ingested, delivery: str) -> None:
    version = ingested[1]["spark", delivery]
    version.verify()  # every file's SHA-256
    for table in version.manifest.tables:
        assert table.files, table.name
        for item in table.files:
            path: Path = version.path / item.path
            assert path.name.startswith("part-") and path.read_bytes()[:4] == b"PARE"
            assert item.sha256 == sha256_file(path) and item.bytes == path.stat().st_size
            with pytest.raises(OSError):
                pq.read_metadata(path)  # encrypted footer: no key, no metadata
        assert sum(f.rows for f in table.files) == version.read(table.name).num_rows


@pytest.mark.parametrize("delivery", DELIVERIES)
def test_reconciliation_quarantine_and_checks_identical(ingested: Ingested, delivery: str) -> None:
    on_duckdb, on_spark = (ingested[1][engine, delivery].manifest for engine in ENGINES)
    assert on_spark.reconciliation == on_duckdb.reconciliation
    total = on_duckdb.reconciliation.total
    assert total.quarantined > 0 and total.duplicates > 0
    # the hospital's few patients of this population include no objector
    assert total.opted_out > 0 or delivery == "fhir"
    assert on_spark.quarantine.by_reason == on_duckdb.quarantine.by_reason
    assert on_spark.quarantine.rows == on_duckdb.quarantine.rows
    quarantined = [ingested[1][engine, delivery].quarantine().to_table() for engine in ENGINES]
    assert content_hash(quarantined[1]) == content_hash(quarantined[0])
    assert on_spark.quality == on_duckdb.quality and on_spark.coverage == on_duckdb.coverage
    assert "pyspark" in on_spark.lineage.software and "pyspark" not in on_duckdb.lineage.software
    assert any("on Spark" in step for step in on_spark.lineage.steps)
    assert any(step.startswith("read, checked, resolved") for step in on_spark.lineage.steps)
