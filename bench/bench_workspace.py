"""Workspaces: extraction time, and the governance overhead of sandboxed queries.

A lake is built from the synthetic population (``havre synth`` + ``havre ingest snds``), or
the hub named by ``HAVRE_BENCH_LAKE_HOME`` is copied (the run changes the hub it uses); a
project whose permit covers about 30 % of the persons (an age band) with every event table is
taken to an active permit; then:

- ``havre workspace build`` in a child process: wall time (start-up included), peak memory;
  target <= 60 s at 1M persons;
- typical cohort/aggregate queries, run alternately through the warm query service (token
  check, permit check, screening, audit entry, decrypted workspace loaded once) and through a
  plain DuckDB connection over the same in-memory tables; target: median ratio <= 1.2;
- the cold load (decrypt + load) a first query pays, and the same ratio for an aggregate-only
  permit (whose queries also count the persons behind each row).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from bench.common import BenchResult, ChildRun, havre_child
from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.core.clock import SystemClock
from havre.core.config import load_settings
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER
from havre.hub import Hub
from havre.scenarios.world import World
from havre.synth import SynthOptions, generate

SCALES = {"small": 2_000, "full": 1_000_000}
EXTRACT_TARGET_S = 60.0
RATIO_TARGET = 1.2
SHARE = 0.30
REPEATS = 31
THREADS = 2
MEMORY_LIMIT = "8GB"
WHY = "Benchmark of the workspace service."
QUERIES = {
    "diabetes cohort by sex and code": (
        "SELECT p.gender_concept_id, c.condition_source_value, "
        "count(DISTINCT p.person_id) AS persons, count(*) AS records "
        "FROM person p JOIN condition_occurrence c ON c.person_id = p.person_id "
        "WHERE c.condition_source_value LIKE 'E11%' GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "dispensings of the diabetes cohort by year": (
        "WITH cohort AS (SELECT DISTINCT person_id FROM condition_occurrence "
        "WHERE condition_source_value LIKE 'E1%') "
        "SELECT year(d.drug_exposure_start_date) AS year, "
        "count(DISTINCT d.person_id) AS persons, count(*) AS dispensings "
        "FROM drug_exposure d JOIN cohort ON cohort.person_id = d.person_id "
        "GROUP BY 1 ORDER BY 1"
    ),
    "visits by age band and sex": (
        "SELECT (2018 - p.year_of_birth) // 10 * 10 AS age_band, p.gender_concept_id, "
        "count(DISTINCT v.person_id) AS persons, count(*) AS visits "
        "FROM visit_occurrence v JOIN person p ON p.person_id = v.person_id "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "metformin within a year of a first type 2 diabetes diagnosis": (
        "WITH first_e11 AS (SELECT person_id, min(condition_start_date) AS diagnosed "
        "FROM condition_occurrence WHERE condition_source_value LIKE 'E11%' GROUP BY 1) "
        "SELECT year(f.diagnosed) AS year, count(DISTINCT f.person_id) AS diagnosed, "
        "count(DISTINCT d.person_id) AS treated FROM first_e11 f LEFT JOIN drug_exposure d "
        "ON d.person_id = f.person_id AND d.drug_source_value LIKE 'A10BA02%' "
        "AND d.drug_exposure_start_date BETWEEN f.diagnosed AND f.diagnosed + INTERVAL 1 YEAR "
        "GROUP BY 1 ORDER BY 1"
    ),
}


def _lake(root: Path, persons: int) -> Path:
    reused = os.environ.get("HAVRE_BENCH_LAKE_HOME")
    if reused:  # a copy: the run seats people and builds workspaces in the hub it is given
        return Path(shutil.copytree(reused, root / "hub", symlinks=True))
    folder = root / "synth"
    generate(SynthOptions(persons=persons, seed=2026, out=folder, formats=("snds",)))
    home = root / "hub"
    env = _env(home)
    for args in (["init", "--json"], ["ingest", str(folder / "snds"), "--source", "snds"]):
        child = havre_child([*args, "--json"] if "--json" not in args else args, env=env)
        if child.returncode != 0:
            raise RuntimeError(f"havre {args[0]} failed: {child.stderr[-2000:]}")
    return home


def _env(home: Path) -> dict[str, str]:
    return {
        "HAVRE_HOME": str(home),
        "HAVRE_DUCKDB_THREADS": str(THREADS),
        "HAVRE_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
        "HAVRE_QUERY_MEMORY_LIMIT": MEMORY_LIMIT,
        "HAVRE_QUERY_TIMEOUT_SECONDS": "600",
    }


def _age_band(hub: Hub, start_year: int) -> tuple[int, int, float]:
    """The age band (at the period's start) holding the share of persons closest to 30 %."""
    years = hub.lake.open("snds").read("person", ["year_of_birth"]).column(0)
    ages = start_year - np.asarray(years.drop_null(), dtype=np.int64)
    total = len(ages)  # persons born after the period's start are in no age band
    counts = np.bincount(np.clip(ages[ages >= 0], 0, 130), minlength=131)
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    best = (0, 130, 1.0)
    for low in range(131):
        for high in range(low, 131):
            share = (cumulative[high + 1] - cumulative[low]) / total
            if abs(share - SHARE) < abs(best[2] - SHARE):
                best = (low, high, float(share))
    return best


def _every_table(hub: Hub) -> dict[str, list[str]]:
    """Every lake table and column a permit can hold without a potential-identifier kind."""
    version = hub.lake.open("snds")
    tables = {}
    for name in LAKE_TABLES:
        if name not in version.tables:
            continue
        tags = version.column_tags(name)
        columns = [
            c.name
            for c in omop_table(name).columns
            if c.name != "hub_pseudonym"
            and (tags.get(c.name) is None or tags.get(c.name) == "exact_date")
        ]
        tables[name] = columns
    return tables


@dataclass(frozen=True)
class Prepared:
    projects: dict[str, str]  # access level -> project id
    token: str  # the researcher named in both permits
    share: float
    persons: int


def _prepare(home: Path) -> Prepared:
    """One row-level and one aggregate-only project on the same age band, every table."""
    with Hub.open(load_settings(home=home), clock=SystemClock()) as hub:
        world = World.seat(hub.identity, hub.projects)
        low, high, share = _age_band(hub, 2018)
        projects = {
            level: world.active_project(
                tables=_every_table(hub),
                period={"start": "2018-01-01", "end": "2024-12-31"},
                population={"age_min": low, "age_max": high},
                access_level=level,
            )
            for level in ("row-level", "aggregate-only")
        }
        persons = hub.lake.open("snds").table("person").rows
        return Prepared(projects, world.researcher.token, share, persons)


def _build(home: Path, project: str, token: str) -> tuple[ChildRun, dict[str, Any]]:
    arguments = ["workspace", "build", "--project", project, "--token", token]
    child = havre_child([*arguments, "--justification", WHY, "--json"], env=_env(home))
    if child.returncode != 0:
        raise RuntimeError(f"havre workspace build failed: {child.stderr[-2000:]}")
    built: dict[str, Any] = json.loads(child.stdout)
    return child, built


def _timed_queries(home: Path, project: str, token: str) -> dict[str, tuple[float, float, float]]:
    """Per query: service median, plain DuckDB median, cold load (seconds)."""
    settings = load_settings(home=home, **{k: v for k, v in _settings().items()})
    timings: dict[str, tuple[float, float, float]] = {}
    with Hub.open(settings, clock=SystemClock()) as hub:
        service = hub.workspaces
        actor = hub.identity.actor_from_token(token, project_id=project, justification=WHY)
        first = service.query(actor, project, "SELECT count(*) FROM person")
        cold = first.cold_load_seconds or 0.0
        entry = service.cache.peek(service.loaded()[0])
        assert entry is not None
        plain = duckdb.connect(
            ":memory:", config={"threads": THREADS, "memory_limit": MEMORY_LIMIT}
        )
        for table in entry.database.tables:
            arrow = entry.database.connection.sql(f'SELECT * FROM "{table}"').to_arrow_table()
            plain.register("__load", arrow)
            plain.execute(f'CREATE TABLE "{table}" AS SELECT * FROM __load')
            plain.unregister("__load")
            del arrow
        for label, sql in QUERIES.items():
            governed, direct = [], []
            for repeat in range(REPEATS):
                # alternately first and second: neither side always runs after the other
                for side in ("service", "plain") if repeat % 2 == 0 else ("plain", "service"):
                    started = time.perf_counter()
                    if side == "service":
                        who = hub.identity.actor_from_token(
                            token, project_id=project, justification=WHY
                        )
                        result = service.query(who, project, sql)
                        governed.append(time.perf_counter() - started)
                    else:
                        rows = plain.sql(sql).to_arrow_table()
                        direct.append(time.perf_counter() - started)
                assert isinstance(rows, pa.Table) and result.table.num_columns == rows.num_columns
            timings[label] = (statistics.median(governed), statistics.median(direct), cold)
        plain.close()
        service.close()
    return timings


def _settings() -> dict[str, object]:
    return {
        "duckdb_threads": THREADS,
        "query_memory_limit": MEMORY_LIMIT,
        "query_timeout_seconds": 600.0,
    }


def run(scale: str) -> BenchResult:
    result = BenchResult("workspace", scale)
    passwords.HASHER = FAST_TEST_HASHER  # seating the benchmark's people is not measured
    with tempfile.TemporaryDirectory(prefix="havre-bench-workspace-") as tmp:
        home = _lake(Path(tmp), SCALES[scale])
        prepared = _prepare(home)
        label = f"{prepared.persons:,} persons"
        result.add(f"{label}: share of persons in the permit", prepared.share, "ratio")
        project = prepared.projects["row-level"]
        build_load = os.getloadavg()[0]
        child, built = _build(home, project, prepared.token)
        result.add(f"{label}: workspace rows", built["rows"], "rows")
        result.add(f"{label}: workspace persons", built["persons"], "persons")
        result.add(
            f"{label}: havre workspace build (child, incl. start-up)",
            child.seconds,
            "s",
            f"<= {EXTRACT_TARGET_S:g} at 1M persons",
            child.seconds <= EXTRACT_TARGET_S if scale == "full" else None,
        )
        result.add(f"{label}: extraction alone", built["seconds"], "s")
        result.add(f"{label}: build peak memory", child.peak_rss_bytes / 2**30, "GiB")
        # the machine's load before the build and before the queries: wall times and the
        # governance's fixed cost (a durable commit) mean little without it
        result.add("load average before the build", build_load, "")
        result.add("load average before the queries", os.getloadavg()[0], "")
        timings = _timed_queries(home, project, prepared.token)
        cold = next(iter(timings.values()))[2]
        result.add("cold load of the workspace (decrypt + load)", cold, "s")
        for name, (governed, direct, _) in timings.items():
            ratio = governed / direct
            result.add(f"{name}: plain DuckDB (median of {REPEATS})", direct, "s")
            result.add(f"{name}: through the warm service", governed, "s")
            result.add(f"{name}: fixed cost of governance", (governed - direct) * 1000, "ms")
            result.add(
                f"{name}: service / plain",
                ratio,
                "x",
                f"<= {RATIO_TARGET:g} at 1M persons",
                ratio <= RATIO_TARGET if scale == "full" else None,
            )
        aggregate = prepared.projects["aggregate-only"]
        _build(home, aggregate, prepared.token)
        for name, (governed, direct, _) in _timed_queries(home, aggregate, prepared.token).items():
            result.add(f"{name}: aggregate-only service / plain", governed / direct, "x")
    result.notes.append(
        f"DuckDB threads={THREADS}; the permit: an age band holding ~{SHARE:.0%} of persons, "
        "every table, every column that needs no potential-identifier kind, shifted dates; the "
        "service time includes the token check; the plain connection holds the same "
        "decrypted tables; full-scale targets are judged at --scale full only"
    )
    return result
