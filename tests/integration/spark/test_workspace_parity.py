"""One permit's workspace extracted on DuckDB and on Spark: the same tables, row for row.

The hub builds the workspace on DuckDB, then refreshes it on Spark (same permit, data version,
project key and previous mapping): every table must come out identical, which covers the
encrypted lake read by Spark in the JVM. The risk assessment and a disclosure cell table of the
extract are then computed on both engines."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from havre.core.config import Settings
from havre.core.errors import EngineError
from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import TableKind
from havre.disclosure.risk import RiskAnalysis, RiskTarget, declare, register, suggest
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER
from havre.hub import Hub
from havre.keys import KeyPurpose
from havre.keys.parquet import ParquetCrypto
from havre.lake.engine import DuckDBEngine
from havre.scenarios.governed import WHY, GovernedProject, governed_project
from havre.workspace import registry

from .helpers import assert_same, content_hash

pytestmark = pytest.mark.spark

TABLES = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "location_id"],
    "location": ["location_id", "county"],
    "visit_occurrence": [
        "visit_occurrence_id",
        "person_id",
        "visit_concept_id",
        "visit_start_date",
        "visit_end_date",
    ],
    "condition_occurrence": [
        "condition_occurrence_id",
        "person_id",
        "condition_start_date",
        "condition_source_value",
        "visit_occurrence_id",
    ],
    "drug_exposure": ["drug_exposure_id", "person_id", "drug_exposure_start_date", "quantity"],
    "death": ["person_id", "death_date"],
}


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovernedProject]:
    """A hub (DuckDB engine) with 300 persons and a project whose workspace is built."""
    patch = pytest.MonkeyPatch()
    patch.setattr(passwords, "HASHER", FAST_TEST_HASHER)
    home = tmp_path_factory.mktemp("parity-hub")
    hub, _ = Hub.init(Settings(home=home, engine="duckdb", spark_master="local[2]"))
    try:
        yield governed_project(hub, persons=300, tables=TABLES, date_policy="shifted")
    finally:
        hub.workspaces.close()
        hub.close()
        patch.undo()


def current_tables(hub: Hub, project_id: str) -> dict[str, pa.Table]:
    with hub.db.transaction() as session:
        row = next(r for r in registry.versions(session, project_id) if r.state == "current")
    files = hub.workspaces.files
    manifest = files.read_manifest(row.path, row.manifest_sha256, project_id)
    crypto = ParquetCrypto(hub.keys)
    tables = {
        t.name: files.open_file(row.path, t.file, crypto, project_id).read()
        for t in manifest.tables
    }
    tables["_mapping"] = files.open_file(row.path, manifest.pseudonyms, crypto, project_id).read()
    return tables


@pytest.fixture(scope="module")
def both(governed: GovernedProject, spark: Any) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    hub = governed.hub
    on_duckdb = current_tables(hub, governed.project_id)
    workspaces = hub.workspaces
    duckdb_settings = workspaces.settings
    workspaces.settings = duckdb_settings.model_copy(update={"engine": "spark"})
    try:
        actor = governed.actor(governed.researcher, WHY)
        result = workspaces.refresh(actor, governed.project_id)
    finally:
        workspaces.settings = duckdb_settings
    assert result.version == 2
    return on_duckdb, current_tables(hub, governed.project_id)


def test_workspace_tables_identical(both: tuple[dict[str, pa.Table], dict[str, pa.Table]]) -> None:
    on_duckdb, on_spark = both
    assert sorted(on_spark) == sorted(on_duckdb)
    for name, table in on_duckdb.items():
        assert on_spark[name].schema == table.schema, name
        assert on_spark[name].num_rows == table.num_rows, name
        assert content_hash(on_spark[name]) == content_hash(table), name
    persons = on_duckdb["person"].column("person_id").to_pylist()
    assert sorted(on_spark["person"].column("person_id").to_pylist()) == sorted(persons)
    assert on_duckdb["person"].num_rows > 200 and on_duckdb["condition_occurrence"].num_rows > 0


def test_risk_assessment_identical(
    both: tuple[dict[str, pa.Table], dict[str, pa.Table]], spark: Any, duck: DuckDBEngine
) -> None:
    person = both[0]["person"]
    dead = (
        both[0]["death"]
        .select(["person_id"])
        .append_column("died", pa.array(["yes"] * both[0]["death"].num_rows))
    )
    extract = person.join(dead, "person_id", join_type="left outer").drop_columns(["person_id"])
    declaration = declare(["year_of_birth", "gender_concept_id", "location_id"], ["died"])
    target = RiskTarget(k=5, average_risk=None)
    reports = []
    for engine in (duck, spark):
        with RiskAnalysis(register(engine, extract), declaration) as analysis:
            reports.append((analysis.assess().to_dict(), suggest(analysis, target).to_dict()))
    assert_same(reports[0], reports[1])


@pytest.mark.parametrize("kind", [TableKind.COUNT, TableKind.SUM, TableKind.MEDIAN])
def test_disclosure_cells_identical(
    both: tuple[dict[str, pa.Table], dict[str, pa.Table]], spark: Any, kind: TableKind
) -> None:
    drugs = both[0]["drug_exposure"].join(
        both[0]["person"].select(["person_id", "gender_concept_id"]), "person_id"
    )
    years = pa.compute.year(drugs.column("drug_exposure_start_date"))
    rows = drugs.append_column("year", years)
    spec = TableSpec(
        "person_id",
        ("gender_concept_id", "year"),
        kind,
        "quantity" if kind.is_magnitude else None,
    )
    left, right = aggregate(rows, spec, engine=spark), aggregate(rows, spec)
    assert left.levels == right.levels and left.notes == right.notes
    np.testing.assert_array_equal(left.persons, right.persons)
    if kind.is_magnitude:
        assert left.magnitudes is not None and right.magnitudes is not None
        np.testing.assert_allclose(left.magnitudes.total, right.magnitudes.total, rtol=1e-12)
        np.testing.assert_allclose(left.magnitudes.tops, right.magnitudes.tops, rtol=1e-12)
        np.testing.assert_allclose(left.magnitudes.median, right.magnitudes.median, rtol=1e-12)


def test_spark_writes_what_pyarrow_reads(
    governed: GovernedProject, spark_settings: Settings, tmp_path: Path
) -> None:
    from havre.lake.spark import SparkEngine

    keys = governed.hub.keys
    keys.ensure("spark/parity", KeyPurpose.DATASET)
    engine = SparkEngine(spark_settings, keys=keys)
    try:
        engine.register("numbers", pa.table({"n": pa.array(range(50), pa.int64())}))
        folder = tmp_path / "written"
        engine.write_parquet("SELECT n, n * n AS square FROM numbers", folder, "spark/parity")
        files = sorted(folder.glob("*.parquet"))
        assert files and all(f.read_bytes()[:4] == b"PARE" for f in files)
        with pytest.raises(OSError):
            pq.read_table(files[0])  # no key, no data
        crypto = ParquetCrypto(keys)
        read = pa.concat_tables(
            pq.read_table(f, decryption_properties=crypto.decryption_properties()) for f in files
        )
        assert sorted(read.column("square").to_pylist()) == [n * n for n in range(50)]
        # and Spark reads it back through its own key client
        engine.register_parquet("written", files)
        assert engine.sql("SELECT sum(square) AS s FROM written").column("s")[0].as_py() == sum(
            n * n for n in range(50)
        )
    finally:
        engine.close()


def test_encrypted_files_need_the_key_store(
    governed: GovernedProject, spark_settings: Settings
) -> None:
    from havre.lake.spark import SparkEngine

    version = governed.hub.lake.open("snds")
    engine = SparkEngine(spark_settings)  # no key store
    try:
        with pytest.raises(EngineError, match="no key store"):
            engine.register("person", version.dataset("person"))
    finally:
        engine.close()


def test_permit_review_risk_identical(
    governed: GovernedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The risk preview a reviewer reads, computed on each engine from the lake."""
    from havre.governance.projects.risk import RiskRequest
    from havre.workspace import preview

    hub = governed.hub
    permit = hub.workspaces.permits.current(governed.project_id)
    assert permit is not None
    # the preview shifts dates with a throwaway secret: the same one for both engines here
    fixed = types.SimpleNamespace(token_bytes=lambda n: bytes(range(n)))
    monkeypatch.setattr("havre.workspace.preview.secrets", fixed)
    request = RiskRequest(permit=permit, assessed_at=hub.clock.now(), target_k=5)
    reports = []
    for engine in ("duckdb", "spark"):
        settings = hub.settings.model_copy(update={"engine": engine})
        reports.append(preview.RiskPreview(settings, hub.lake).assess(request).report)
    assert reports[0]["assessment"] is not None
    assert_same(reports[0], reports[1])
