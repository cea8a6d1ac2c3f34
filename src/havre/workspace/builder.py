"""Building one workspace version in its staging folder (the service publishes it).

Everything that touches rows is the extraction's SQL; this module wires its inputs (the data
version, the project's secrets, the previous mapping, the objectors) and writes what it yields
as encrypted Parquet, then the encrypted manifest.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import havre
from havre.core.config import Settings
from havre.core.errors import EngineError, HavreError
from havre.core.ids import new_id
from havre.governance.projects import Permit
from havre.keys.parquet import ParquetCrypto
from havre.lake import LakeVersion
from havre.lake.engine import open_engine
from havre.workspace.extract import Extraction, target_schema
from havre.workspace.manifest import (
    DataRef,
    OptOutCheck,
    PermitRef,
    WorkspaceColumn,
    WorkspaceManifest,
    WorkspaceTable,
)
from havre.workspace.plan import ExtractPlan, build_plan
from havre.workspace.pseudonyms import MAPPING_SCHEMA, ProjectSecrets
from havre.workspace.store import PSEUDONYMS, TABLES, WorkspaceFiles


@dataclass(frozen=True)
class BuildRequest:
    permit: Permit
    version: int  # the workspace version to write
    key_name: str
    secrets: ProjectSecrets
    previous: pa.Table  # the mapping of the version in force (empty at the first build)
    objectors: pa.Table  # lake person_id of persons who object now
    optouts: OptOutCheck
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Staged:
    folder: Path
    manifest: WorkspaceManifest
    manifest_sha256: str
    new_persons: int
    seconds: float


def plan_for(permit: Permit, source: LakeVersion) -> ExtractPlan:
    granted = [t.name for t in permit.tables if t.name in source.tables]
    return build_plan(
        permit,
        {name: source.schema(name) for name in granted},
        {name: {c: str(k) for c, k in source.column_tags(name).items()} for name in granted},
    )


def build_staged(
    settings: Settings,
    files: WorkspaceFiles,
    source: LakeVersion,
    request: BuildRequest,
    staged: Path,
) -> Staged:
    """Extract into ``staged``; on failure nothing of it is left."""
    started = time.perf_counter()
    plan = plan_for(request.permit, source)
    temp = settings.home / "tmp" / f"workspace-{new_id('run')}"
    engine = open_engine(settings, keys=files.keys, temp_directory=temp)
    crypto = ParquetCrypto(files.keys)
    try:
        # every join of the extraction names the lake's streamed table first and the
        # workspace's lookup (persons, ids) second: built as written, the hash tables
        # hold the lookups, not the lake tables whose size the engine cannot see
        with engine.joins_as_written():
            extraction = Extraction(
                engine, source, plan, request.secrets, request.previous, request.objectors
            )
            counts = extraction.prepare()
            tables = []
            for table, query in extraction.tables():
                relative = f"{TABLES}/{table.name}.parquet"
                rows, written = files.write_table(
                    staged,
                    relative,
                    engine.batches(query),
                    target_schema(table),
                    crypto,
                    request.key_name,
                )
                columns = tuple(
                    WorkspaceColumn(
                        name=c.name,
                        type=str(c.type),
                        treatment=c.treatment.value,
                        identifier=c.identifier,
                    )
                    for c in table.columns
                )
                tables.append(
                    WorkspaceTable(name=table.name, rows=rows, columns=columns, file=written)
                )
            mapped, mapping = files.write_table(
                staged,
                PSEUDONYMS,
                engine.batches(extraction.mapping_query()),
                MAPPING_SCHEMA,
                crypto,
                request.key_name,
            )
    except duckdb.Error as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise EngineError(
            f"The extraction failed in the engine ({type(exc).__name__}).",
            hint="nothing was published; the hub's log has no data from it",
        ) from None
    except (HavreError, OSError):
        shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        engine.close()
        crypto.clear_cache()
        shutil.rmtree(temp, ignore_errors=True)
    permit = request.permit
    population = permit.row_filter.population.model_dump(mode="json", exclude_defaults=True)
    manifest = WorkspaceManifest(
        project_id=permit.project_id,
        version=request.version,
        created_at=request.created_at,
        created_by=request.created_by,
        permit=PermitRef(
            version=permit.version,
            sha256=permit.sha256,
            access_level=permit.access_level.value,
            date_policy=permit.date_policy.value,
            date_mode=plan.date_mode.value,
            identifiers=tuple(k.value for k in permit.potential_identifiers_granted),
            period_start=permit.row_filter.period.start.isoformat(),
            period_end=permit.row_filter.period.end.isoformat(),
            population=population,
        ),
        data=DataRef(
            dataset=permit.dataset, version=permit.data_version, version_id=source.info.id
        ),
        tables=tuple(tables),
        persons=counts.persons,
        pseudonyms=mapping,
        persons_mapped=mapped,
        pseudonym_key_version=request.secrets.key_version,
        shift_days=request.secrets.shift_days,
        optouts=request.optouts.model_copy(
            update={"objectors_in_version": counts.objectors_in_version}
        ),
        withheld=plan.withheld,
        encryption={"key": request.key_name, "scheme": "parquet-modular-aes-gcm"},
        software=_software(engine.name),
    )
    digest = files.write_manifest(staged, manifest, request.key_name)
    return Staged(
        folder=staged,
        manifest=manifest,
        manifest_sha256=digest,
        new_persons=mapped - request.previous.num_rows,
        seconds=time.perf_counter() - started,
    )


def _software(engine: str) -> dict[str, str]:
    versions = {"havre": havre.__version__, "duckdb": duckdb.__version__, "pyarrow": pa.__version__}
    if engine == "spark":
        import pyspark

        versions["spark"] = pyspark.__version__
    return versions


def objecting_persons(link: pa.Table, register: pa.Table) -> pa.Table:
    """Lake ``person_id`` of the persons whose opt-out key is in the register now.

    ``link``: ``person_id``, ``scheme``, ``key_version``, ``subject_key`` (the data version's
    link to the register); ``register``: ``scheme``, ``key_version``, ``subject_key``.
    """
    keys = ["scheme", "key_version", "subject_key"]
    joined = link.select(["person_id", *keys]).join(
        register.select(keys), keys=keys, join_type="inner"
    )
    persons = pc.unique(joined.column("person_id").cast(pa.int64()))
    return pa.table({"person_id": persons})
