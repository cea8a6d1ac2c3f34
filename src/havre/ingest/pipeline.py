"""Ingestion: one delivery in, one new data version out — or nothing, and a clear error.

read → check → quarantine → drop objectors → pseudonymize → map to OMOP → write encrypted
Parquet → reconcile → quality checks → manifest → publish. Every record read is counted in
exactly one of loaded / quarantined / opted_out / duplicates, per source table; a mismatch
stops the ingest before anything is published.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

import havre
from havre.audit import AuditLog, Target, audited
from havre.cdm.omop import LAKE_TABLES
from havre.core.actor import Actor
from havre.core.arrays import integers, texts
from havre.core.clock import Clock, SystemClock, isoformat
from havre.core.config import Settings
from havre.core.errors import EngineError, IntegrityError, UsageError
from havre.core.ids import new_id
from havre.db import Database
from havre.governance.optouts import OptOutRegister
from havre.ingest.access import require_steward
from havre.ingest.actions import IngestAction
from havre.ingest.context import IngestContext, Progress, _quiet
from havre.ingest.fields import quarantine_value_sql
from havre.ingest.model import STATUSES, Delivery
from havre.ingest.quarantine import Quarantine
from havre.ingest.readers import SourceReader, reader_for
from havre.ingest.reasons import DEFECT_KIND
from havre.ingest.result import IngestResult
from havre.ingest.spark_writing import write_lake_on_spark
from havre.ingest.writing import write_lake
from havre.lake.engine import DuckDBEngine, sql_literal
from havre.lake.manifest import (
    Counts,
    Encryption,
    FileInfo,
    Lineage,
    Manifest,
    QuarantineInfo,
    Reconciliation,
    SourceFile,
)
from havre.lake.staging import VersionBuilder
from havre.lake.store import Lake, check_dataset_name
from havre.lake.version import DataVersionInfo
from havre.pseudo.scheme import PseudonymScheme
from havre.pseudo.service import Pseudonymizer

if TYPE_CHECKING:
    from havre.lake.spark import SparkEngine

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_table", pa.string()),
        ("source_file", pa.string()),
        ("line_no", pa.int64()),
        ("reason", pa.string()),
        ("defect_kind", pa.string()),
        ("field", pa.string()),
        ("value", pa.string()),
    ]
)


class Ingestion:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        audit: AuditLog,
        lake: Lake,
        optouts: OptOutRegister,
        pseudonymizer: Pseudonymizer,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.audit = audit
        self.lake = lake
        self.optouts = optouts
        self.pseudo = pseudonymizer
        self.clock: Clock = clock or SystemClock()
        self.quarantine = Quarantine(db, audit, lake)

    def ingest(
        self,
        actor: Actor,
        path: Path,
        source: str,
        *,
        dataset: str | None = None,
        source_name: str | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Ingest one delivery folder. Idempotent: the same delivery twice makes one version."""
        reader = reader_for(source)
        name = _source_name(reader, source, source_name)
        dataset = check_dataset_name(dataset or (name if reader.needs_source_name else source))
        target = Target("dataset", dataset)
        details: dict[str, Any] = {"source": source, "source_name": name}
        tell = progress or _quiet
        started = time.perf_counter()
        publishing = False
        try:
            require_steward(actor, "ingest a delivery")
            delivery = reader.inspect(Path(path), tell)
            inspected = time.perf_counter()
            details.update(delivery_sha256=delivery.sha256, files=len(delivery.files))
            existing = self.lake.find_delivery(dataset, delivery.sha256)
            if existing is not None:
                return self._already_ingested(actor, target, existing, details, started)
            with self.lake.begin(dataset) as builder:
                manifest, result = self._build(reader, delivery, builder, name, actor, tell)
                built = time.perf_counter()
                publishing = True
                try:
                    with audited(self.db, self.audit, actor, IngestAction.RUN, target) as scope:
                        details.update(_summary(manifest))
                        scope.details = details
                        builder.publish(scope.session, manifest)
                except BaseException:
                    builder.unpublish()
                    raise
        except Exception as error:
            if not publishing:
                with contextlib.suppress(Exception):
                    with audited(self.db, self.audit, actor, IngestAction.RUN, target) as scope:
                        scope.details = details
                        raise error
            raise
        ended = time.perf_counter()
        timings = (
            (
                f"inspected the delivery: {len(delivery.files)} files found, checked, hashed",
                inspected - started,
            ),
            *result.timings,
            ("published: manifest, version made visible, registry and audit entry", ended - built),
        )
        return dataclasses.replace(result, seconds=ended - started, timings=timings)

    # -- building a version -------------------------------------------------------------------
    def _build(
        self,
        reader: SourceReader,
        delivery: Delivery,
        builder: VersionBuilder,
        source_name: str,
        actor: Actor,
        progress: Progress,
    ) -> tuple[Manifest, IngestResult]:
        scheme = self.pseudo.scheme(reader.scheme_id)
        temp = self.settings.home / "tmp" / f"ingest-{new_id('run')}"
        engine: DuckDBEngine | SparkEngine
        if self.settings.engine == "spark":  # Spark reads, checks, resolves, maps and writes
            from havre.lake.spark import SparkEngine

            engine = SparkEngine(self.settings, keys=self.lake.keys)
        else:
            engine = DuckDBEngine(self.settings, temp_directory=temp)
        try:
            ctx = IngestContext(
                engine=engine,
                settings=self.settings,
                delivery=delivery,
                source_name=source_name,
                scheme=scheme,
                today=self.clock.now().date(),
                progress=progress,
            )
            self._register_keys(ctx, reader, scheme)
            reader.load(ctx)
            reconciliation = _reconcile(ctx)
            quarantine = _write_quarantine(ctx, builder, reconciliation)
            if quarantine.rows != reconciliation.total.quarantined:
                raise IntegrityError(
                    f"The quarantine holds {quarantine.rows} records, the reconciliation "
                    f"counts {reconciliation.total.quarantined}.",
                    hint="nothing was published; report this with the delivery's hash",
                )
            ctx.step(f"quarantine written: {quarantine.rows} records, under its own key")
            progress("writing the lake", 0, len(LAKE_TABLES))

            def on_table(done: int) -> None:
                progress("writing the lake", done, len(LAKE_TABLES))

            if isinstance(engine, DuckDBEngine):
                written = write_lake(ctx, builder, on_table)
            else:
                written = write_lake_on_spark(ctx, builder, engine, temp / "spark", on_table)
                ctx.step(
                    "read, checked, resolved, mapped to OMOP, wrote the lake tables and ran "
                    f"the quality checks on Spark ({self.settings.spark_master})"
                )
            tables = [*(written.tables[name] for name in LAKE_TABLES), written.link]
            quality, coverage = written.quality, written.coverage
        except (EngineError, duckdb.Error) as exc:
            raise _engine_failure(exc) from None
        finally:
            engine.close()
            shutil.rmtree(temp, ignore_errors=True)
        ctx.step("wrote encrypted Parquet (zstd, modular encryption), ran quality checks")
        manifest = Manifest(
            dataset=builder.dataset,
            version=builder.version,
            created_at=isoformat(self.clock.now()),
            created_by=actor.name,
            description=f"{reader.kind} delivery from '{source_name}', mapped to OMOP CDM v5.4",
            encryption=Encryption(key=builder.key_name, key_version=builder.key_version),
            tables=tuple(tables),
            quarantine=quarantine,
            reconciliation=reconciliation,
            lineage=Lineage(
                source_kind=reader.kind,
                source_name=source_name,
                delivery_sha256=delivery.sha256,
                source_files=tuple(
                    SourceFile(
                        name=f.name,
                        table=f.table,
                        sha256=f.sha256,
                        bytes=f.bytes,
                        records=ctx.file_reads.get(f.file_id, 0),
                    )
                    for f in delivery.files
                ),
                steps=tuple(ctx.steps),
                software=_software(spark=self.settings.engine == "spark"),
                pseudonym_scheme={**scheme.to_dict(), "label": scheme.label},
            ),
            coverage=coverage,
            quality=quality,
            notes=tuple(delivery.notes + ctx.notes),
        )
        result = IngestResult(
            dataset=builder.dataset,
            version=builder.version,
            created=True,
            source_kind=reader.kind,
            source_name=source_name,
            delivery_sha256=delivery.sha256,
            reconciliation=reconciliation,
            quarantine_by_reason=dict(quarantine.by_reason),
            unsupported=dict(ctx.unsupported),
            lake_rows={t.name: t.rows for t in tables},
            notes=manifest.notes,
            timings=tuple(ctx.timings),
        )
        return manifest, result

    def _register_keys(
        self, ctx: IngestContext, reader: SourceReader, scheme: PseudonymScheme
    ) -> None:
        """Key material as one-row Arrow tables: never in SQL text, which errors may echo."""
        ctx.register("hub_pads", self.pseudo.pads(scheme))
        register = self.optouts.active_subjects(reader.optout_scheme_id)
        # the active version too, even if no objection uses it yet: the link to the register
        # written with the version must hold each person's key under it (objections to come)
        active = self.pseudo.scheme(reader.optout_scheme_id).key_version
        versions = sorted({active, *register.column("key_version").to_pylist()})
        # one row of padded keys (``pads``) per key version, in the versions' order
        pads = pa.concat_tables(
            self.pseudo.pads(self.pseudo.scheme(reader.optout_scheme_id, v)) for v in versions
        )
        ctx.register(
            "optout_pads", pads.append_column("key_version", integers(versions, pa.int32()))
        )
        ctx.register("optout_register", register)
        ctx.register(
            "delivery_files",
            pa.table(
                {
                    "file_id": integers([f.file_id for f in ctx.delivery.files], pa.int32()),
                    "name": texts([f.name for f in ctx.delivery.files]),
                }
            ),
        )
        ctx.step(
            f"objections read from the opt-out register ({register.num_rows} active, "
            f"scheme {reader.optout_scheme_id.value})"
        )

    def _already_ingested(
        self,
        actor: Actor,
        target: Target,
        existing: DataVersionInfo,
        details: dict[str, Any],
        started: float,
    ) -> IngestResult:
        version = self.lake.open(existing.dataset, existing.version)
        manifest = version.manifest
        with audited(self.db, self.audit, actor, IngestAction.RUN, target) as scope:
            scope.details = {**details, "already_ingested": True, "version": existing.version}
        return IngestResult(
            dataset=existing.dataset,
            version=existing.version,
            created=False,
            source_kind=existing.source_kind,
            source_name=existing.source_name,
            delivery_sha256=existing.delivery_sha256,
            reconciliation=manifest.reconciliation,
            quarantine_by_reason=dict(manifest.quarantine.by_reason),
            lake_rows={t.name: t.rows for t in manifest.tables},
            seconds=time.perf_counter() - started,
            notes=(
                f"this delivery was already ingested as {existing.label} (recognized by its "
                "content hash); nothing new was made, the counts are that version's",
            ),
        )


def _engine_failure(exc: Exception) -> EngineError:
    """An engine error fit to show and audit: engines quote records in some messages
    ("could not convert '...'"), so only errors about the SQL itself keep their text."""
    cause = exc.__cause__ if isinstance(exc, EngineError) and exc.__cause__ else exc
    if isinstance(cause, duckdb.OutOfMemoryException):
        return EngineError(
            "The engine ran out of memory during the ingest.",
            hint="raise HAVRE_DUCKDB_MEMORY_LIMIT, or free space in $HAVRE_HOME/tmp",
        )
    if isinstance(cause, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
        return EngineError(f"The ingest's SQL failed: {str(cause).splitlines()[0]}")
    return EngineError(
        f"The engine failed during the ingest ({type(cause).__name__}); the details are "
        "withheld because they may quote records.",
        hint="check the delivery's files; report it with the delivery's hash",
    )


def _source_name(reader: SourceReader, source: str, given: str | None) -> str:
    if given:
        check_dataset_name(given)
        return given
    if reader.needs_source_name:
        raise UsageError(
            f"A '{source}' delivery needs the source's name: its pseudonyms are scoped by it.",
            hint="give --name NAME (the same name for every delivery of this source)",
        )
    return source


def _status_counts(ctx: IngestContext) -> dict[str, dict[str, int]]:
    """Each source table's records by status, in one statement (one job on Spark)."""
    names = sorted(ctx.tables)
    if not names:
        return {}
    parts = " UNION ALL ".join(
        f"SELECT {number} AS t, status, count(*) AS n FROM {ctx.tables[name].relation} "
        "GROUP BY status"
        for number, name in enumerate(names)
    )
    counts: dict[str, dict[str, int]] = {name: dict.fromkeys(STATUSES, 0) for name in names}
    for row in ctx.engine.sql(parts).to_pylist():
        name = names[int(row["t"])]
        if row["status"] not in counts[name]:
            raise IntegrityError(f"{name}: records with no status ({row['n']}).")
        counts[name][row["status"]] = int(row["n"])
    return counts


def _reconcile(ctx: IngestContext) -> Reconciliation:
    tables: dict[str, Counts] = {}
    names = sorted(set(ctx.tables) | set(ctx.read_counts))
    status_counts = _status_counts(ctx)
    for name in names:
        read = ctx.read_counts.get(name, 0)
        by_status = status_counts.get(name, dict.fromkeys(STATUSES, 0))
        counts = Counts(
            read=read,
            loaded=by_status["loaded"],
            quarantined=by_status["quarantined"],
            opted_out=by_status["opted_out"],
            duplicates=by_status["duplicate"],
        )
        if not counts.balanced:
            accounted = read - (counts.loaded + counts.quarantined + counts.opted_out)
            raise IntegrityError(
                f"Reconciliation failed for {name}: {read} records read, "
                f"{counts.loaded} loaded + {counts.quarantined} quarantined + "
                f"{counts.opted_out} opted out + {counts.duplicates} duplicates "
                f"(difference {accounted - counts.duplicates}).",
                hint="nothing was published; report this with the delivery's hash",
            )
        tables[name] = counts
    total = sum(tables.values(), Counts())
    ctx.step("reconciled: read = loaded + quarantined + opted_out + duplicates, per table")
    return Reconciliation(tables=tables, total=total)


def _write_quarantine(
    ctx: IngestContext, builder: VersionBuilder, reconciliation: Reconciliation
) -> QuarantineInfo:
    kinds = " ".join(
        f"WHEN {sql_literal(reason.value)} THEN {sql_literal(kind)}"
        for reason, kind in DEFECT_KIND.items()
        if kind is not None
    )
    parts = []
    for name, table in sorted(ctx.tables.items()):
        if not reconciliation.tables[name].quarantined:
            continue  # nothing to look for: the counts are already known
        field = "nullif(split_part(r.problem, '|', 2), '')"
        value = table.quarantine_value or quarantine_value_sql(table.fields, field, "r")
        parts.append(
            f"""
            SELECT {sql_literal(name)} AS source_table, f.name AS source_file,
                   CAST(r.line_no AS BIGINT) AS line_no,
                   split_part(r.problem, '|', 1) AS reason,
                   {field} AS field,
                   CAST({value} AS VARCHAR) AS value
            FROM {table.relation} AS r JOIN delivery_files AS f ON f.file_id = r.file_id
            WHERE r.status = 'quarantined'"""
        )
    body = (
        " UNION ALL ".join(parts)
        if parts
        else (
            "SELECT CAST(NULL AS VARCHAR) AS source_table, CAST(NULL AS VARCHAR) AS source_file, "
            "CAST(NULL AS BIGINT) AS line_no, CAST(NULL AS VARCHAR) AS reason, "
            "CAST(NULL AS VARCHAR) AS field, CAST(NULL AS VARCHAR) AS value WHERE false"
        )
    )
    ctx.execute(f"CREATE TEMP TABLE quarantine_rows AS {body}")
    query = f"""
        SELECT source_table, source_file, line_no, reason,
               CASE reason {kinds} END AS defect_kind, field, value
        FROM quarantine_rows ORDER BY source_table, source_file, line_no"""
    reader = ctx.engine.batches(query)
    files = builder.write_quarantine(reader.cast(QUARANTINE_SCHEMA))
    by_reason = {
        str(row["reason"]): int(row["n"])
        for row in ctx.engine.sql(
            "SELECT reason, count(*) AS n FROM quarantine_rows GROUP BY reason ORDER BY reason"
        ).to_pylist()
    }
    return QuarantineInfo(
        rows=sum(f.rows for f in files),
        by_reason=by_reason,
        files=files,
        encryption=Encryption(
            key=builder.quarantine_key_name, key_version=builder.quarantine_key_version
        ),
    )


def _software(*, spark: bool = False) -> dict[str, str]:
    import pyarrow

    versions = {
        "havre": havre.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }
    if spark:
        import pyspark

        versions["pyspark"] = pyspark.__version__
    return versions


def _summary(manifest: Manifest) -> dict[str, Any]:
    total = manifest.reconciliation.total
    return {
        "version": manifest.version,
        "read": total.read,
        "loaded": total.loaded,
        "quarantined": total.quarantined,
        "opted_out": total.opted_out,
        "duplicates": total.duplicates,
        "pseudonym_scheme": str(manifest.lineage.pseudonym_scheme.get("id")),
        "key_version": int(manifest.lineage.pseudonym_scheme.get("key_version", 0)),
    }


__all__ = ["FileInfo", "Ingestion"]
