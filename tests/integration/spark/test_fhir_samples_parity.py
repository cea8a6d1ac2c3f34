"""Real FHIR exports on Spark: a Synthea bulk export (gzipped NDJSON) and the HL7 examples
(Bundles, resources of every kind, references between them) make on Spark the lake, the
quarantine and the counts DuckDB makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from havre.core.config import Settings
from havre.hub import Hub

from .helpers import ENGINES, assert_same_tables, cli_hub, content_hash

pytestmark = pytest.mark.spark

DATA = Path(__file__).resolve().parents[2] / "data" / "fhir"
SAMPLES = ("bulk-10-patients", "examples")


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, spark_settings: Settings
) -> Iterator[tuple[dict[tuple[str, str], dict[str, Any]], Hub]]:
    home = tmp_path_factory.mktemp("fhir-samples") / "hub"
    with cli_hub(home, spark_settings.spark_master) as (ingest, hub):
        results = {}
        for sample in SAMPLES:
            results.update(ingest(DATA / sample, "fhir", sample))
        yield results, hub


@pytest.mark.parametrize("sample", SAMPLES)
def test_real_exports_ingest_alike(
    ingested: tuple[dict[tuple[str, str], dict[str, Any]], Hub], sample: str
) -> None:
    results, hub = ingested
    on_duckdb, on_spark = (results[engine, sample] for engine in ENGINES)
    for key in ("reconciliation", "quarantine_by_reason", "unsupported", "lake_rows"):
        assert on_spark[key] == on_duckdb[key], key
    assert on_duckdb["reconciliation"]["total"]["read"] > 20
    versions = [hub.lake.open(f"{sample}-{engine}") for engine in ENGINES]
    assert_same_tables(*versions)
    quarantined = [version.quarantine().to_table() for version in versions]
    assert quarantined[0].num_rows > 0
    assert content_hash(quarantined[1]) == content_hash(quarantined[0])
