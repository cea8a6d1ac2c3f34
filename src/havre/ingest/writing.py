"""Writing an ingest's lake tables: each mapped once into the engine, written to encrypted
Parquet by a writer thread while the engine maps the next, and checked for quality there.

The staged relations a lake table reads are dropped once the last table reading them is
materialized (``release_unread``): the engine's memory then holds the lake's tables, not the
staged records behind them, and spills less.

A table's rows are materialized once (``lake_core_<table>``, without the columns the mapping
leaves empty or constant) behind a view with the exact OMOP schema (``lake_<table>``). A
writer thread streams the view to Parquet (pyarrow releases the GIL: encoding and encryption
overlap the engine's work) while the quality checks read the same rows in the engine, not the
encrypted files again. Large tables are dropped as soon as they are written and checked, so
the engine holds at most a few of them at once.

On Spark (``HAVRE_ENGINE=spark``) the same mappings run there: see
``havre.ingest.spark_writing``.

Beside the OMOP tables, the version's link to the opt-out register (``optout_link``, see
``havre.lake.optout_link``) is written from the rows the person resolvers gathered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.cdm.quality import (
    VISIT_CHILDREN,
    VISIT_REFERENCE,
    Counts,
    count_table,
    person_facts_sql,
    table_results,
    unique_persons_sql,
    visit_references,
)
from havre.core.errors import IntegrityError
from havre.ingest.context import IngestContext
from havre.ingest.persons import LINK_ROWS
from havre.lake.engine import DuckDBEngine, Engine
from havre.lake.manifest import ColumnInfo, Coverage, FileInfo, QualityResult, TableInfo
from havre.lake.optout_link import OPTOUT_LINK, OPTOUT_LINK_SCHEMA
from havre.lake.staging import VersionBuilder

WRITERS = 2
# rows per Arrow batch fetched from the engine, and per Parquet row group (DuckDB's own row
# group is 122,880 rows). Batches of 524,288 rows cost ~0.4 GB more at the peak of a 1M-person
# ingest (each writer thread's batch, built by the engine outside its memory limit), no less time
WRITE_BATCH_ROWS = 1 << 17
# small tables first: they are the lookups of the others' checks, and kept to the end
ORDER = (
    "person",
    "observation_period",
    "death",
    "location",
    "care_site",
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
)
KEPT = {"person", "observation_period", "death"}
VISIT_IDS = "lake_visit_ids"
# the visit ids the rows of VISIT_CHILDREN refer to, kept past their tables' drop so that
# their visit references are checked at the end by one join (the visit ids hashed once)
VISIT_REFS = "lake_visit_refs"
# what the rules of every table look up of persons, deaths and periods, in one relation
PERSON_FACTS = "lake_person_facts"


@dataclasses.dataclass
class LakeWrite:
    tables: dict[str, TableInfo]
    link: TableInfo  # the link to the opt-out register
    quality: tuple[QualityResult, ...]
    coverage: Coverage


def write_lake(
    ctx: IngestContext, builder: VersionBuilder, on_table: Callable[[int], None]
) -> LakeWrite:
    """Map, write and check every lake table (``ctx.outputs``; an empty table if absent)."""
    writing: list[tuple[str, Future[tuple[FileInfo, ...]]]] = []
    files: dict[str, tuple[FileInfo, ...]] = {}
    counts: dict[str, Counts] = {}
    coverage = Coverage()
    dropped: set[str] = set()

    def settle(wait: bool) -> None:
        """Collect finished writes; drop the large tables that are written and checked."""
        for table, future in list(writing):
            if wait or future.done():
                files[table] = future.result()
                writing.remove((table, future))
                if table not in KEPT and table in counts:
                    _drop(ctx, table)
                    dropped.add(table)

    # every table the reader left may go once no lake table still to come reads it, but
    # the link rows: ``write_link`` reads them after the lake's tables
    staged = _base_tables(ctx.engine) - {LINK_ROWS.lower()}
    ctx.execute(f"CREATE TABLE {VISIT_REFS} (tab UTINYINT, ref BIGINT)")
    facts: str | None = None
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="havre-writer") as pool:
        try:
            for number, table in enumerate(ORDER):
                _materialize(ctx, table)
                later = (ctx.outputs[t] for t in ORDER[number + 1 :] if t in ctx.outputs)
                staged -= release_unread(ctx.engine, staged, later)
                writing.append((table, pool.submit(_write, ctx, builder, table)))
                if table == "visit_occurrence":
                    ctx.execute(
                        f"CREATE TABLE {VISIT_IDS} AS "
                        "SELECT visit_occurrence_id FROM lake_visit_occurrence"
                    )
                    coverage = coverage_of(ctx.engine)
                if table == "care_site":  # the small tables, once their lookups are all there
                    facts = _person_facts(ctx)
                    for small in ORDER[: number + 1]:
                        counts[small] = _check(ctx, small, facts)
                elif number > ORDER.index("care_site"):
                    counts[table] = _check(ctx, table, facts)
                settle(wait=False)
                on_table(number + 1)
            for table, found in visit_references(
                ctx.engine, ctx.today.year, VISIT_REFS, VISIT_IDS, VISIT_CHILDREN
            ).items():
                counts[table].update(found)
            settle(wait=True)
        except BaseException:
            for _, future in writing:
                future.cancel()
            raise
    for table in ORDER:
        if table not in dropped:
            _drop(ctx, table)
    ctx.execute(f"DROP TABLE IF EXISTS {VISIT_IDS}")
    ctx.execute(f"DROP TABLE IF EXISTS {VISIT_REFS}")
    ctx.execute(f"DROP TABLE IF EXISTS {PERSON_FACTS}")
    tables = {table: table_info(table, files[table]) for table in ORDER}
    return LakeWrite(
        tables=tables,
        link=write_link(ctx, builder),
        quality=tuple(
            r for table in LAKE_TABLES for r in table_results(table, ctx.today.year, counts[table])
        ),
        coverage=coverage,
    )


# a literal select_list may give a column: NULL, an integer (a concept id), a short text
_LITERAL = r"NULL|-?[0-9]+|'[A-Za-z0-9_ ]*'"


def constant_columns(table: str, query: str) -> dict[str, str]:
    """Columns every branch of a mapping query sets to one same literal, as ``select_list``
    writes it (``CAST(<literal> AS <type>) AS <column>``): column -> SQL. They are projected,
    not stored. Conservative: any other mention of a column's name keeps it stored."""
    out = {}
    for column in omop_table(table).columns:
        named = len(re.findall(rf"\bAS {column.name}\b", query))
        cast = rf"CAST\(({_LITERAL}) AS {column.sql_type}\) AS {column.name}\b"
        literals = re.findall(cast, query)
        if named and len(literals) == named and len(set(literals)) == 1:
            out[column.name] = f"CAST({literals[0]} AS {column.sql_type})"
    return out


def _materialize(ctx: IngestContext, table: str) -> None:
    spec = omop_table(table)
    query = ctx.outputs.get(table) or f"SELECT {spec.select_list({})} WHERE false"
    constant = constant_columns(table, query)
    stored = [c.name for c in spec.columns if c.name not in constant] or [spec.columns[0].name]
    as_written = table in ctx.joins_as_written
    with ctx.engine.joins_as_written() if as_written else contextlib.nullcontext():
        ctx.execute(
            f"CREATE TABLE lake_core_{table} AS SELECT {', '.join(stored)} FROM ({query}) AS q"
        )
    listed = ", ".join(
        f"t.{c.name}" if c.name in stored else f"{constant[c.name]} AS {c.name}"
        for c in spec.columns
    )
    ctx.execute(f"CREATE VIEW lake_{table} AS SELECT {listed} FROM lake_core_{table} AS t")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _base_tables(engine: Engine) -> set[str]:
    """The engine's own tables (lower case, as names compare), not views nor registered data."""
    rows = engine.sql("SELECT table_name FROM duckdb_tables() WHERE NOT internal").to_pylist()
    return {str(r["table_name"]).lower() for r in rows}


def release_unread(engine: Engine, staged: set[str], queries: Iterable[str]) -> set[str]:
    """Drop the ``staged`` tables that none of ``queries`` reads, directly or through views,
    and return them. A name in a query's text counts as a read (a column of a table's name
    keeps the table, never the reverse), so nothing a query needs is dropped."""
    views = {
        str(r["view_name"]).lower(): str(r["sql"])
        for r in engine.sql(
            "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal"
        ).to_pylist()
    }
    needed: set[str] = set()
    pending = list(queries)
    while pending:
        for name in {n.lower() for n in _NAME.findall(pending.pop())} - needed:
            needed.add(name)
            if name in views:
                pending.append(views[name])
    released = staged - needed
    for name in sorted(released):
        engine.execute(f"DROP TABLE IF EXISTS {name}")
    return released


def _write(ctx: IngestContext, builder: VersionBuilder, table: str) -> tuple[FileInfo, ...]:
    """In a writer thread: the table's rows, from the engine to encrypted Parquet."""
    spec = omop_table(table)
    engine = ctx.engine
    assert isinstance(engine, DuckDBEngine)  # Spark writes with spark_writing
    cursor = engine.connection.cursor()  # a connection of its own, same database
    try:
        reader = cursor.sql(f"SELECT * FROM lake_{table}").to_arrow_reader(WRITE_BATCH_ROWS)
        got = [(f.name, f.type) for f in reader.schema]
        if got != [(f.name, f.type) for f in spec.schema]:
            raise IntegrityError(f"{table}: the mapping does not produce the OMOP schema ({got}).")
        # record ids rarely repeat within a row group: a dictionary would only cost time
        ids = {spec.columns[0].name, "person_id", "visit_occurrence_id"}
        plain = tuple(c.name for c in spec.columns if c.name in ids and c.name.endswith("_id"))
        return builder.write_table(table, reader, plain=plain)
    finally:
        cursor.close()


def write_link(ctx: IngestContext, builder: VersionBuilder) -> TableInfo:
    """The link to the opt-out register (empty if the delivery held no person)."""
    ctx.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {LINK_ROWS} "
        "(person_id BIGINT, scheme VARCHAR, key_version INTEGER, subject_key VARCHAR)"
    )
    columns = ", ".join(f.name for f in OPTOUT_LINK_SCHEMA)
    reader = ctx.engine.batches(
        f"SELECT DISTINCT {columns} FROM {LINK_ROWS}", batch_rows=WRITE_BATCH_ROWS
    )
    if reader.schema != OPTOUT_LINK_SCHEMA:
        raise IntegrityError(f"{OPTOUT_LINK}: unexpected schema {reader.schema}.")
    files = builder.write_table(OPTOUT_LINK, reader, plain=("person_id", "subject_key"))
    ctx.execute(f"DROP TABLE {LINK_ROWS}")
    return TableInfo(
        name=OPTOUT_LINK,
        description="internal: each person's keys in the opt-out register (no identifier)",
        rows=sum(f.rows for f in files),
        columns=tuple(ColumnInfo(name=f.name, type=str(f.type)) for f in OPTOUT_LINK_SCHEMA),
        files=files,
    )


def _lookup(name: str) -> str:
    return VISIT_IDS if name == "visit_occurrence" else f"lake_{name}"


def _person_facts(ctx: IngestContext) -> str | None:
    """``PERSON_FACTS`` (``person_facts_sql``), when persons and deaths are unique per
    person_id (a person's rows joined once, not once for each lookup); else None."""
    if not ctx.engine.scalar(unique_persons_sql(_lookup)):
        return None
    ctx.execute(f"CREATE TABLE {PERSON_FACTS} AS {person_facts_sql(_lookup)}")
    return PERSON_FACTS


def _check(ctx: IngestContext, table: str, facts: str | None) -> Counts:
    """The counts of a table's rules; a table referring to visits keeps its references for
    the one check of them all (``visit_references``)."""

    skip: frozenset[str] = frozenset()
    if table in VISIT_CHILDREN:
        ctx.execute(
            f"INSERT INTO {VISIT_REFS} SELECT {VISIT_CHILDREN.index(table)}, visit_occurrence_id "
            f"FROM lake_{table} WHERE visit_occurrence_id IS NOT NULL"
        )
        skip = frozenset({VISIT_REFERENCE})
    return count_table(ctx.engine, table, ctx.today.year, f"lake_{table}", _lookup, skip, facts)


def coverage_of(engine: Engine) -> Coverage:
    span = engine.sql(
        "SELECT min(visit_start_date) AS start, max(visit_end_date) AS stop "
        "FROM lake_visit_occurrence"
    ).to_pylist()[0]
    return Coverage(start=_iso(span["start"]), end=_iso(span["stop"]))


def _drop(ctx: IngestContext, table: str) -> None:
    ctx.execute(f"DROP VIEW IF EXISTS lake_{table}")
    ctx.execute(f"DROP TABLE IF EXISTS lake_core_{table}")


def table_info(table: str, files: tuple[FileInfo, ...]) -> TableInfo:
    spec = omop_table(table)
    return TableInfo(
        name=table,
        description=spec.description,
        rows=sum(f.rows for f in files),
        columns=tuple(c.info() for c in spec.columns),
        files=files,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None
