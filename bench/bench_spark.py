"""Spark: the moved paths on ``local[1]`` and ``local[2]``, and how time grows with persons.

For each size a hub is made with the synthetic OMOP population (``havre.scenarios``: per
person six visits, conditions and dispensings, a period, a death for one in ten), published
as an encrypted data version. Then, in a child process per engine (DuckDB, Spark ``local[1]``,
Spark ``local[2]``):

- **extraction**: the workspace extraction of a permit granting person, visits, conditions,
  dispensings and deaths over 2018-2023 with shifted dates (project pseudonyms, offsets,
  renumbered ids), every table read to Arrow (what the builder then writes);
- **risk**: the equivalence classes and risk measures of the extracted persons on year of
  birth, sex and département-level location;
- **cells**: the person-level cell table (sum of quantities by sex and year) of the
  extracted dispensings.

Session start is timed apart; the extraction runs twice (first run: JVM warm-up included;
warm: what a long-running cluster sees). Throughput per core = lake rows read by the warm
extraction / time / cores of the master.

- **ingest**: a clean synthetic SNDS delivery (``havre synth``, same sizes; ``BENCH_SPARK_SOURCES=
  snds,fhir`` adds the hospital's FHIR export of the same population) ingested by
  ``havre ingest`` in a child process per engine, into one hub (DuckDB; Spark ``local[1]``
  and ``local[2]``: the whole ingest on Spark — reading, checks, pseudonyms, mapping, lake
  files, quality checks —, session start included, as a command pays it). Wall and CPU time
  of the child, the load average around each run.

``BENCH_SPARK_STEPS`` (``extraction,ingest`` by default) chooses the steps.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from itertools import product
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bench.common import BenchResult, havre_child, python_child

SCALES = {"small": (2_000, 20_000), "full": (100_000, 1_000_000)}
ENGINES = (("duckdb", "local[2]", 2), ("spark", "local[1]", 1), ("spark", "local[2]", 2))
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
    "drug_exposure": [
        "drug_exposure_id",
        "person_id",
        "drug_exposure_start_date",
        "quantity",
        "visit_occurrence_id",
    ],
    "death": ["person_id", "death_date"],
}


def _prepare(home: Path, persons: int) -> int:
    """A hub with ``persons`` synthetic persons as ``snds`` v1; returns the lake rows."""
    from havre.hub import Hub
    from havre.scenarios.world import publish_version, synthetic_omop

    hub, _ = Hub.init(_settings(home, "duckdb", "local[2]"))
    try:
        tables = synthetic_omop(persons, seed=2026)
        publish_version(hub.lake, tables)
        return sum(tables[name].num_rows for name in TABLES)
    finally:
        hub.close()


def _settings(home: Path, engine: str, master: str) -> Any:
    from havre.core.config import load_settings

    return load_settings(home=home, engine=engine, spark_master=master, duckdb_threads=2)


def _permit() -> Any:
    from havre.governance.projects import Permit

    return Permit.model_validate(
        {
            "project_id": "prj_bench",
            "version": 1,
            "revision": 1,
            "issued_at": "2027-01-04T10:00:00+00:00",
            "expires_at": "2029-01-04T10:00:00+00:00",
            "named_persons": ["usr_bench"],
            "dataset": "snds",
            "data_version_policy": "pinned",
            "data_version": 1,
            "data_version_id": "dv_bench",
            "tables": [{"name": t, "columns": c} for t, c in TABLES.items()],
            "row_filter": {"period": {"start": "2018-01-01", "end": "2023-12-31"}},
            "potential_identifiers_granted": [],
            "date_policy": "shifted",
            "access_level": "row-level",
            "status": "active",
        }
    )


def child() -> None:
    """One engine's run (in its own process: one Spark session per process)."""
    from havre.disclosure.aggregate import TableSpec, aggregate
    from havre.disclosure.cells import TableKind
    from havre.disclosure.risk import RiskAnalysis, declare, register
    from havre.hub import Hub
    from havre.lake.engine import open_engine
    from havre.workspace.builder import plan_for
    from havre.workspace.extract import Extraction, empty_objectors, target_schema
    from havre.workspace.pseudonyms import ProjectSecrets, empty_mapping

    home = Path(os.environ["HAVRE_HOME"])
    settings = _settings(home, os.environ["BENCH_ENGINE"], os.environ["BENCH_MASTER"])
    out: dict[str, Any] = {}
    with Hub.open(settings) as hub:
        source = hub.lake.open("snds")
        started = time.perf_counter()
        engine = open_engine(settings, keys=hub.keys)
        out["start_s"] = time.perf_counter() - started
        try:
            plan = plan_for(_permit(), source)
            secrets = ProjectSecrets.derive(bytes(range(32)), 1, 30)
            # twice: the first run pays the JVM's warm-up (class loading, JIT, code
            # generation), the second is what a long-running cluster does
            for run in ("extract_cold_s", "extract_s"):
                started = time.perf_counter()
                extraction = Extraction(
                    engine, source, plan, secrets, empty_mapping(), empty_objectors()
                )
                extraction.prepare()
                tables: dict[str, pa.Table] = {}
                for table, query in extraction.tables():
                    reader = engine.batches(query)
                    tables[table.name] = reader.read_all().cast(target_schema(table))
                out[run] = time.perf_counter() - started
                for name in ("ws_population", "ws_keyed", "ws_persons", "ws_visit_ids"):
                    engine.execute(f"DROP TABLE IF EXISTS {name}")
                for name in ("ws_location_refs", "ws_departements", "ws_location_ids"):
                    engine.execute(f"DROP TABLE IF EXISTS {name}")
            out["rows_out"] = sum(t.num_rows for t in tables.values())

            started = time.perf_counter()
            declaration = declare(["year_of_birth", "gender_concept_id", "location_id"])
            persons = tables["person"].drop_columns(["person_id"])
            with RiskAnalysis(register(engine, persons), declaration) as analysis:
                assessment = analysis.assess()
            out["risk_s"] = time.perf_counter() - started
            out["k"] = assessment.k

            started = time.perf_counter()
            drugs = tables["drug_exposure"].join(
                tables["person"].select(["person_id", "gender_concept_id"]), "person_id"
            )
            drugs = drugs.append_column("year", pc.year(drugs.column("drug_exposure_start_date")))
            spec = TableSpec("person_id", ("gender_concept_id", "year"), TableKind.SUM, "quantity")
            cells = aggregate(drugs, spec, engine=engine)
            out["cells_s"] = time.perf_counter() - started
            out["cell_persons"] = int(cells.persons.flat[-1])
        finally:
            engine.close()
    print("BENCH " + json.dumps(out), flush=True)


def run(scale: str) -> BenchResult:
    result = BenchResult("spark", scale)
    chosen = os.environ.get("BENCH_SPARK_PERSONS")  # e.g. 100000 or 100000,300000
    sizes = tuple(int(n) for n in chosen.split(",")) if chosen else SCALES[scale]
    steps = os.environ.get("BENCH_SPARK_STEPS", "extraction,ingest").split(",")
    result.notes.append(
        f"engines: {', '.join(f'{e} {m}' for e, m, _ in ENGINES)}; persons: {sizes}; "
        f"cpus on the machine: {os.cpu_count()} (shared with other work: times are upper bounds)"
    )
    if "ingest" in steps:
        _ingest(result, sizes)
    if "extraction" not in steps:
        return result
    extract_times: dict[tuple[str, str], list[float]] = {}
    lake_rows_of: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as scratch:
        for persons in sizes:
            home = Path(scratch) / f"hub-{persons}"
            lake_rows = _prepare(home, persons)
            lake_rows_of[persons] = lake_rows
            result.add(f"lake rows read ({persons:,} persons)", lake_rows, "rows")
            for engine, master, cores in ENGINES:
                label = engine if engine == "duckdb" else f"spark {master}"
                child_run = python_child(
                    "from bench.bench_spark import child; child()",
                    env={
                        "HAVRE_HOME": str(home),
                        "BENCH_ENGINE": engine,
                        "BENCH_MASTER": master,
                    },
                )
                line = next(
                    (x for x in child_run.stdout.splitlines() if x.startswith("BENCH ")), None
                )
                if child_run.returncode != 0 or line is None:
                    raise RuntimeError(f"{label} at {persons} persons: {child_run.stderr[-3000:]}")
                data = json.loads(line.removeprefix("BENCH "))
                tag = f"{label}, {persons:,} persons"
                if engine == "spark":
                    result.add(f"session start ({tag})", data["start_s"], "s")
                result.add(f"extraction, first run ({tag})", data["extract_cold_s"], "s")
                result.add(f"extraction, warm ({tag})", data["extract_s"], "s")
                result.add(
                    f"extraction rows/s per core ({tag})",
                    lake_rows / data["extract_s"] / cores,
                    "rows/s/core",
                )
                result.add(f"risk assessment ({tag})", data["risk_s"], "s")
                result.add(f"cell table ({tag})", data["cells_s"], "s")
                peak = child_run.peak_rss_bytes / 2**20
                result.add(f"peak memory, largest process ({tag})", peak, "MiB")
                extract_times.setdefault((engine, master), []).append(data["extract_s"])
                print(f"   {tag}: {data}", file=sys.stderr, flush=True)
    if len(sizes) < 2:  # growth and marginal rates need two populations
        return result
    small, large = sizes[0], sizes[-1]
    for (engine, master), times in extract_times.items():
        label = engine if engine == "duckdb" else f"spark {master}"
        cores = next(c for e, m, c in ENGINES if (e, m) == (engine, master))
        result.add(
            f"extraction time growth {small:,}->{large:,} persons ({label})",
            times[-1] / times[0],
            "x",
        )
        # the cost of the extra rows, without the fixed cost of planning and starting jobs:
        # what sizing for many more rows should use
        extra_rows = lake_rows_of[large] - lake_rows_of[small]
        extra_time = max(times[-1] - times[0], 1e-9)
        result.add(
            f"marginal extraction rows/s per core ({label})",
            extra_rows / extra_time / cores,
            "rows/s/core",
        )
    return result


INGEST_ENGINES = (("duckdb", "local[2]"), ("spark", "local[1]"), ("spark", "local[2]"))


def _ingest(result: BenchResult, sizes: tuple[int, ...]) -> None:
    """``havre ingest`` of one clean delivery per size and source, on each engine, into one
    hub. ``BENCH_SPARK_SOURCES`` (``snds`` by default; ``snds,fhir``) chooses the sources."""
    from havre.synth import SynthOptions, generate

    sources = tuple(os.environ.get("BENCH_SPARK_SOURCES", "snds").split(","))
    with tempfile.TemporaryDirectory(prefix="bench-spark-ingest-") as scratch:
        for persons in sizes:
            root = Path(scratch) / f"ingest-{persons}"
            delivery = root / "synth"
            generate(SynthOptions(persons=persons, seed=2026, out=delivery, formats=sources))
            home = {"HAVRE_HOME": str(root / "hub"), "HAVRE_DUCKDB_THREADS": "2"}
            started = havre_child(["init", "--json"], env=home)
            if started.returncode != 0:
                raise RuntimeError(f"havre init: {started.stderr[-3000:]}")
            for source, (engine, master) in product(sources, INGEST_ENGINES):
                label = engine if engine == "duckdb" else f"spark {master}"
                tag = f"{source}, {label}, {persons:,} persons"
                before = os.getloadavg()[0]
                args = ["ingest", str(delivery / source), "--source", source]
                child_run = havre_child(
                    [*args, "--dataset", f"{source}-{engine}-{master[-2]}", "--json"],
                    env={**home, "HAVRE_ENGINE": engine, "HAVRE_SPARK_MASTER": master},
                )
                after = os.getloadavg()[0]
                if child_run.returncode != 0:
                    raise RuntimeError(f"ingest on {tag}: {child_run.stderr[-3000:]}")
                answer = json.loads(child_run.stdout)
                records = answer["reconciliation"]["total"]["read"]
                result.add(f"ingest, wall ({tag})", child_run.seconds, "s")
                result.add(f"ingest, CPU of the child ({tag})", child_run.cpu_seconds, "s")
                result.add(f"ingest records ({tag})", records, "records")
                result.add(f"ingest, load average before ({tag})", before, "load")
                result.add(f"ingest, load average after ({tag})", after, "load")
                peak = child_run.peak_rss_bytes / 2**20
                result.add(f"ingest peak memory, largest process ({tag})", peak, "MiB")
                print(
                    f"   ingest {tag}: {child_run.seconds:.1f} s wall, {records} records, "
                    f"load {before:.1f} -> {after:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
