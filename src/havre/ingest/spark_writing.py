"""Writing an ingest's lake tables on Spark (``HAVRE_ENGINE=spark``): the same mapping queries
(``ctx.outputs``) and quality checks as ``havre.ingest.writing``, run by Spark.

Spark staged the delivery (every reader stages on the engine of the run); it writes each lake
table as encrypted Parquet, the files are moved into the version, and the quality checks read
them back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.cdm.quality import (
    VISIT_CHILDREN,
    VISIT_REFERENCE,
    Counts,
    count_table,
    table_results,
    visit_references,
)
from havre.core.errors import IntegrityError
from havre.ingest.context import IngestContext
from havre.ingest.writing import (
    ORDER,
    VISIT_REFS,
    LakeWrite,
    coverage_of,
    table_info,
    write_link,
)
from havre.lake.manifest import FileInfo
from havre.lake.staging import ROWS_PER_FILE, VersionBuilder

if TYPE_CHECKING:
    from havre.lake.spark import SparkEngine


def write_lake_on_spark(
    ctx: IngestContext,
    builder: VersionBuilder,
    spark: SparkEngine,
    folder: Path,
    on_table: Callable[[int], None],
) -> LakeWrite:
    """``write_lake`` on Spark: the same mapping queries (``ctx.outputs``) and checks.

    Spark staged the delivery itself (``ctx.engine`` is ``spark``); it
    writes each table as encrypted Parquet under the version's key; the files are moved into
    the version and registered there (rows, SHA-256) as ``write_table`` registers its own,
    then read back by Spark for the quality checks: the checks count what was written, and
    Spark keeps no copy of a table in memory. The link to the opt-out register is written
    from DuckDB, where the person resolvers left its rows."""
    files: dict[str, tuple[FileInfo, ...]] = {}
    for number, table in enumerate(ORDER):
        files[table] = _write_on_spark(ctx, spark, builder, table, folder / "written" / table)
        on_table(number + 1)
    year = ctx.today.year
    counts: dict[str, Counts] = {}
    for table in ORDER:
        skip = frozenset({VISIT_REFERENCE}) if table in VISIT_CHILDREN else frozenset()
        counts[table] = count_table(spark, table, year, f"lake_{table}", _lake_name, skip)
    references = " UNION ALL ".join(
        f"SELECT CAST({i} AS SMALLINT) AS tab, visit_occurrence_id AS ref FROM lake_{table} "
        "WHERE visit_occurrence_id IS NOT NULL"
        for i, table in enumerate(VISIT_CHILDREN)
    )
    spark.execute(f"CREATE TEMP TABLE {VISIT_REFS} AS {references}")
    found = visit_references(spark, year, VISIT_REFS, "lake_visit_occurrence", VISIT_CHILDREN)
    for table, table_counts in found.items():
        counts[table].update(table_counts)
    spark.execute(f"DROP TABLE {VISIT_REFS}")
    return LakeWrite(
        tables={table: table_info(table, files[table]) for table in ORDER},
        link=write_link(ctx, builder),
        quality=tuple(
            r for table in LAKE_TABLES for r in table_results(table, year, counts[table])
        ),
        coverage=coverage_of(spark),
    )


def _write_on_spark(
    ctx: IngestContext, spark: SparkEngine, builder: VersionBuilder, table: str, out: Path
) -> tuple[FileInfo, ...]:
    spec = omop_table(table)
    query = ctx.outputs.get(table) or f"SELECT {spec.select_list({})} WHERE false"
    columns = ", ".join(c.name for c in spec.columns)
    spark.write_parquet(
        f"SELECT {columns} FROM ({query}) AS q", out, builder.key_name, rows_per_file=ROWS_PER_FILE
    )
    written = sorted(out.glob("part-*.parquet"))
    if written:
        files = builder.adopt_table(table, written)
    else:  # Spark wrote no file for an empty result
        empty = pa.RecordBatchReader.from_batches(spec.schema, [])
        files = builder.write_table(table, empty)
    paths = [builder.staging / f.path for f in files]
    decryption = builder.lake.crypto.decryption_properties()
    got = pq.ParquetFile(paths[0], decryption_properties=decryption).schema_arrow
    if [(f.name, f.type) for f in got] != [(f.name, f.type) for f in spec.schema]:
        raise IntegrityError(f"{table}: Spark did not write the OMOP schema ({got}).")
    spark.register_parquet(f"lake_{table}", paths)
    return files


def _lake_name(table: str) -> str:
    return f"lake_{table}"
