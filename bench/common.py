"""Shared tools for benchmarks: timing a child process with its own peak memory, results."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
PEAK_FILE = "HAVRE_BENCH_PEAK_FILE"
# run first in a measured Python child: at exit it writes its own VmHWM (bytes) to the file
# named by PEAK_FILE. The maxrss that wait4 reports also counts the pages the child shared
# with this process between fork and exec, so a child smaller than the benchmark process
# showed the benchmark's peak.
OWN_PEAK = f"""
import atexit, os
def _own_peak():
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(os.environ["{PEAK_FILE}"], "w", encoding="ascii") as out:
        out.write(str(kib * 1024))
atexit.register(_own_peak)
"""
HAVRE_MAIN = """
import runpy, sys
sys.argv[0] = "havre"
runpy.run_module("havre.cli.main", run_name="__main__", alter_sys=True)
"""


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
    system_seconds: float = 0.0  # of which in the kernel (page faults, file and spill I/O)


def run_child(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> ChildRun:
    """Run a command; return wall time, CPU time and peak resident memory as wait4 reports them
    (for a Python child, ``run_python`` gives the child's own peak)."""
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
    return ChildRun(
        seconds,
        int(usage.ru_maxrss) * 1024,
        process.returncode,
        stdout,
        stderr,
        cpu,
        usage.ru_stime,
    )


def run_python(code: str, args: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run Python ``code`` (with ``args`` in ``sys.argv[1:]``) in a child that reports its own
    peak memory (``OWN_PEAK``); wait4's figure stays when the child died before writing it."""
    with tempfile.TemporaryDirectory(prefix="havre-bench-peak-") as tmp:
        peak = Path(tmp) / "peak"
        child = run_child(
            [sys.executable, "-c", OWN_PEAK + code, *args],
            env={**(env or {}), PEAK_FILE: str(peak)},
            cwd=ROOT,
        )
        if peak.exists():
            child = dataclasses.replace(child, peak_rss_bytes=int(peak.read_text("ascii")))
        return child


def python_child(code: str, env: dict[str, str] | None = None) -> ChildRun:
    return run_python(code, [], env)


def havre_child(args: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """``havre ARGS`` in a child process, timed, with its own peak memory."""
    return run_python(HAVRE_MAIN, args, env)


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
