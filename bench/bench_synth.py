"""``havre synth``: persons/s, rows/s and peak memory of a whole synthetic delivery.

Full scale: the medium preset (100,000 persons) and the issue's target, 1,000,000 persons with
ten years of events in at most 2 minutes and 4 GB. Small scale: a quick run of 5,000 persons.
Memory is the peak of the sum of resident memory over the command and its worker processes
(sampled), since a single process's peak would hide the workers'.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import ROOT, BenchResult

TARGET_SECONDS = 120.0
TARGET_BYTES = 4 * 1024**3


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def _run(persons: int, out: Path) -> tuple[float, int, dict[str, object]]:
    command = [
        sys.executable,
        "-m",
        "havre.cli.main",
        "synth",
        "--persons",
        str(persons),
        "--seed",
        "1",
        "--out",
        str(out),
        "--json",
    ]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(watched))
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"havre synth failed ({child.returncode}): {stderr.decode()[-2000:]}")
    return seconds, peak, json.loads(stdout)


def run(scale: str) -> BenchResult:
    result = BenchResult("synth", scale)
    cases = [("medium", 100_000), ("large", 1_000_000)] if scale == "full" else [("quick", 5_000)]
    for label, persons in cases:
        work = Path(tempfile.mkdtemp(prefix="havre-bench-synth-"))
        try:
            seconds, peak, summary = _run(persons, work / "delivery")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows = int(summary["rows"])  # type: ignore[call-overload]
        target = label == "large"
        result.add(f"{label}_persons", persons, "persons")
        result.add(f"{label}_rows", rows, "rows")
        result.add(
            f"{label}_seconds",
            seconds,
            "s",
            "<= 120" if target else None,
            seconds <= TARGET_SECONDS if target else None,
        )
        result.add(f"{label}_persons_per_second", persons / seconds, "persons/s")
        result.add(f"{label}_rows_per_second", rows / seconds, "rows/s")
        result.add(
            f"{label}_peak_memory",
            peak / 1024**2,
            "MiB",
            "<= 4096" if target else None,
            peak <= TARGET_BYTES if target else None,
        )
    result.notes.append(
        "peak memory is the sampled sum over the command and its worker processes; "
        "output written to a temporary folder on the local disk"
    )
    return result
