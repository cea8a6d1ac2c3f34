"""Writing an ingest's lake tables on Spark (``HAVRE_ENGINE=spark``): the same mapping queries
(``ctx.outputs``) and quality checks as ``havre.ingest.writing``, run by Spark.

The staged relations the mappings read are handed over as Parquet encrypted under the
version's key (``hand_over``); Spark writes each lake table as encrypted Parquet, the files
are moved into the version, and the quality checks read them back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from havre.ingest.model import LOADED
from havre.ingest.writing import (
    ORDER,
    VISIT_REFS,
    WRITE_BATCH_ROWS,
    LakeWrite,
    coverage_of,
    table_info,
    write_link,
)
from havre.lake.manifest import FileInfo
from havre.lake.staging import COMPRESSION, COMPRESSION_LEVEL, ROWS_PER_FILE, VersionBuilder

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

    The staged relations the mappings read are handed over first (``hand_over``), unless
    Spark staged them itself (``ctx.engine`` is ``spark``). Spark
    writes each table as encrypted Parquet under the version's key; the files are moved into
    the version and registered there (rows, SHA-256) as ``write_table`` registers its own,
    then read back by Spark for the quality checks: the checks count what was written, and
    Spark keeps no copy of a table in memory. The link to the opt-out register is written
    from DuckDB, where the person resolvers left its rows."""
    if spark is not ctx.engine:  # staged on DuckDB (a source Spark does not stage)
        hand_over(ctx, spark, builder, folder / "handover")
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


def hand_over(
    ctx: IngestContext, spark: SparkEngine, builder: VersionBuilder, folder: Path
) -> None:
    """The staged relations the mapping queries read, registered in ``spark`` under their names.

    Only the columns a mapping names go (a staged table also holds fields no mapping reads,
    the source's identifiers among them), streamed from DuckDB into Parquet encrypted under the
    version's own key — never plaintext on disk — in the run's temp folder (deleted with it),
    and read by Spark the way it reads the lake (keys from the store, decrypted in the JVM)."""
    needed = mapping_columns(ctx.outputs.values())
    loaded = loaded_only(ctx.outputs.values())
    properties = builder.lake.crypto.encryption_properties(builder.key_name)
    from havre.lake.spark import plain_schema

    for name, names in sorted(needed.items()):
        schema = ctx.engine.sql(f"SELECT * FROM {name} LIMIT 0").schema
        kept = [f.name for f in schema if names is None or f.name.lower() in names]
        listed = ", ".join(f'"{column}"' for column in kept or schema.names[:1])
        rows = f"WHERE status = '{LOADED}'" if name in loaded else ""
        reader = ctx.engine.batches(
            f"SELECT {listed} FROM {name} {rows}", batch_rows=WRITE_BATCH_ROWS
        )
        plain = plain_schema(reader.schema)
        path = folder / name / "part-00000.parquet"
        path.parent.mkdir(parents=True, mode=0o700)
        with pq.ParquetWriter(
            path,
            plain,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            encryption_properties=properties,
        ) as writer:
            for batch in reader.cast(plain):
                if batch.num_rows:
                    writer.write_batch(batch)
        spark.register_parquet(name, [path])
    ctx.step(
        f"handed {len(needed)} staged relations (the columns the mappings read) to Spark as "
        "encrypted Parquet"
    )


def mapping_columns(queries: Any) -> dict[str, set[str] | None]:
    """The relations the queries read (CTEs left out) → the names their columns may have:
    every identifier of a query that reads the relation, lower case; None, all columns (a
    query selecting ``*``). A superset: a column is left out only if no query names it."""
    import sqlglot  # only the Spark path needs it: the DuckDB ingest does not import it
    from sqlglot import exp

    needed: dict[str, set[str] | None] = {}
    for query in queries:
        tree = sqlglot.parse_one(query, read="duckdb")
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        star = any(not isinstance(s.parent, exp.Count) for s in tree.find_all(exp.Star))
        names = None if star else {i.name.lower() for i in tree.find_all(exp.Identifier)}
        for relation in tree.find_all(exp.Table):
            if relation.name.lower() in ctes:
                continue
            known = needed.get(relation.name, set())
            both = None if known is None or names is None else known | names
            needed[relation.name] = both
    return needed


def loaded_only(queries: Any) -> set[str]:
    """The relations every query reads only under ``WHERE <it>.status = 'loaded'`` (a conjunct
    of the WHERE of the SELECT whose FROM or JOIN names it): only their loaded records need
    to be handed over — quarantined, duplicate and objectors' records then stay in DuckDB.
    Filtering before the query changes nothing it returns, whatever the join: the WHERE drops
    every row those records (or their absence, in an outer join) would have made."""
    import sqlglot
    from sqlglot import exp

    read: set[str] = set()
    unfiltered: set[str] = set()
    for query in queries:
        tree = sqlglot.parse_one(query, read="duckdb")
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for relation in tree.find_all(exp.Table):
            if relation.name.lower() in ctes:
                continue
            read.add(relation.name)
            if not _filtered_to_loaded(relation, exp):
                unfiltered.add(relation.name)
    return read - unfiltered


def _filtered_to_loaded(relation: Any, exp: Any) -> bool:
    select = relation.parent
    while select is not None and not isinstance(select, exp.Select):
        if isinstance(select, exp.Subquery | exp.Union | exp.CTE):
            return False  # not a FROM or JOIN of the nearest SELECT
        select = select.parent
    if select is None:
        return False
    where = select.args.get("where")
    if where is None:
        return False
    alone = not select.args.get("joins")
    condition = where.this
    conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    for conjunct in conjuncts:
        if not isinstance(conjunct, exp.EQ):
            continue
        column, value = conjunct.this, conjunct.expression
        if (
            isinstance(column, exp.Column)
            and column.name.lower() == "status"
            and isinstance(value, exp.Literal)
            and value.is_string
            and value.this == LOADED
            and (column.table == relation.alias_or_name or (not column.table and alone))
        ):
            return True
    return False


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
