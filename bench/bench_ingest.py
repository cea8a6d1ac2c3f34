"""Ingestion: the SNDS claims and the hospital FHIR export of a synthetic population.

For each population: ``havre ingest`` in a child process (wall time, peak memory, records/s),
and, on the same CSV files in the same run, DuckDB alone converting them to Parquet with no
check at all — the floor. Targets (issue): ingest <= 3x the floor; peak memory <= 6 GB at
1M persons and not growing with the input.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.common import BenchResult, havre_child, run_child
from havre.synth import SynthOptions, generate

SCALES = {"small": (2_000,), "full": (100_000, 1_000_000)}
RATIO_TARGET = 3.0
MEMORY_TARGET_GIB = 6.0
THREADS = 2
MEMORY_LIMIT = "4GB"

FLOOR = f"""
import sys, duckdb
from pathlib import Path
source, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
con = duckdb.connect(config={{"threads": {THREADS}, "memory_limit": "{MEMORY_LIMIT}",
                             "preserve_insertion_order": False}})
for path in sorted(source.glob("*.csv")):
    con.execute(
        f"COPY (SELECT * FROM read_csv('{{path}}', delim=';', header=true)) "
        f"TO '{{out / (path.stem + '.parquet')}}' (FORMAT parquet, COMPRESSION zstd)"
    )
"""


def _population(root: Path, persons: int) -> Path:
    folder = root / f"synth-{persons}"
    generate(SynthOptions(persons=persons, seed=2026, out=folder, dirty_rate=0.0))
    return folder


def _ingest(home: Path, folder: Path, source: str) -> tuple[float, int, dict[str, object]]:
    env = {
        "HAVRE_HOME": str(home),
        "HAVRE_DUCKDB_THREADS": str(THREADS),
        "HAVRE_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
    }
    child = havre_child(["ingest", str(folder / source), "--source", source, "--json"], env=env)
    if child.returncode != 0:
        raise RuntimeError(f"havre ingest {source} failed: {child.stderr[-2000:]}")
    return child.seconds, child.peak_rss_bytes, json.loads(child.stdout)


def run(scale: str) -> BenchResult:
    result = BenchResult("ingest", scale)
    peaks: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="havre-bench-ingest-") as tmp:
        root = Path(tmp)
        for persons in SCALES[scale]:
            folder = _population(root, persons)
            home = root / f"hub-{persons}"
            init = havre_child(["init", "--json"], env={"HAVRE_HOME": str(home)})
            if init.returncode != 0:
                raise RuntimeError(init.stderr)
            floor = run_child(
                [sys.executable, "-c", FLOOR, str(folder / "snds"), str(root / f"floor-{persons}")]
            )
            if floor.returncode != 0:
                raise RuntimeError(f"floor failed: {floor.stderr[-2000:]}")
            seconds, peak, report = _ingest(home, folder, "snds")
            total = report["reconciliation"]["total"]  # type: ignore[index]
            records = int(total["read"])
            label = f"{persons:,} persons"
            ratio = seconds / floor.seconds
            result.add(f"{label}: SNDS records read", records, "records")
            result.add(f"{label}: floor (DuckDB CSV -> Parquet, no checks)", floor.seconds, "s")
            result.add(f"{label}: havre ingest snds (child, incl. start-up)", seconds, "s")
            result.add(f"{label}: ingest rate", records / seconds, "records/s")
            result.add(
                f"{label}: ingest / floor",
                ratio,
                "x",
                f"<= {RATIO_TARGET:g}",
                ratio <= RATIO_TARGET,
            )
            gib = peak / 2**30
            result.add(
                f"{label}: ingest peak memory",
                gib,
                "GiB",
                f"<= {MEMORY_TARGET_GIB:g}",
                gib <= MEMORY_TARGET_GIB,
            )
            result.add(f"{label}: floor peak memory", floor.peak_rss_bytes / 2**30, "GiB")
            fhir_seconds, fhir_peak, fhir = _ingest(home, folder, "fhir")
            fhir_records = int(fhir["reconciliation"]["total"]["read"])  # type: ignore[index]
            result.add(f"{label}: havre ingest fhir", fhir_seconds, "s")
            result.add(f"{label}: FHIR resources read", fhir_records, "records")
            result.add(f"{label}: FHIR peak memory", fhir_peak / 2**30, "GiB")
            peaks.append((records, peak))
        if len(peaks) > 1:
            (small_records, small_peak), (big_records, big_peak) = peaks[0], peaks[-1]
            growth = big_peak / small_peak
            result.add(
                f"peak memory growth for {big_records / small_records:.0f}x the records",
                growth,
                "x",
                "bounded (<= 2)",
                growth <= 2.0,
            )
    result.notes.append(
        f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT} for both the ingest and the "
        "floor; clean synthetic deliveries (seed 2026), CSV files; times are wall times of "
        "child processes, start-up included"
    )
    return result
