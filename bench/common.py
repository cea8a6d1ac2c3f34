"""Shared tools for benchmarks: timing a child process with its own peak memory, results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    target: str | None = None
    ok: bool | None = None


@dataclass
class BenchResult:
    name: str
    scale: str
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, name: str, value: float, unit: str, target: str | None = None, ok: bool | None = None
    ) -> Metric:
        metric = Metric(name, round(float(value), 4), unit, target, ok)
        self.metrics.append(metric)
        return metric

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scale": self.scale,
            "metrics": [asdict(m) for m in self.metrics],
            "notes": self.notes,
        }


@dataclass
class ChildRun:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the child (all its threads)


def run_child(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> ChildRun:
    """Run a command; return wall time and the child's own peak resident memory (wait4)."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = "", ""
    # read pipes fully, then reap the child with wait4 for its rusage
    out, err = process.stdout, process.stderr
    assert out is not None and err is not None
    stdout = out.read()
    stderr = err.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(seconds, int(usage.ru_maxrss) * 1024, process.returncode, stdout, stderr, cpu)


def python_child(code: str, env: dict[str, str] | None = None) -> ChildRun:
    return run_child([sys.executable, "-c", code], env=env, cwd=ROOT)


def havre_child(args: list[str], env: dict[str, str] | None = None) -> ChildRun:
    return run_child([sys.executable, "-m", "havre.cli.main", *args], env=env, cwd=ROOT)


def save(result: BenchResult) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result.name}.json"
    payload = {**result.to_dict(), "machine": machine()}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
