"""``python -m bench [NAME ...] [--scale small|full]``: run benchmarks, save JSON, print a table.

Each ``bench/bench_<name>.py`` module has ``run(scale: str) -> BenchResult``. ``full`` is the
scale the issues set targets for; ``small`` is a quick check that the benchmark still works.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

from bench.common import BenchResult, save


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {discover()})")
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    args = parser.parse_args(argv)
    names = args.names or discover()
    results: list[BenchResult] = []
    failed = False
    for name in names:
        print(f"== {name} ({args.scale})", flush=True)
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            result: BenchResult = module.run(args.scale)
        except Exception:
            traceback.print_exc()
            failed = True
            continue
        path = save(result)
        results.append(result)
        print(f"   saved {path}", flush=True)
    print_table(results)
    return 1 if failed else 0


def print_table(results: list[BenchResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Havre benchmarks")
    for column in ("benchmark", "metric", "value", "unit", "target", "ok"):
        table.add_column(column)
    for result in results:
        for metric in result.metrics:
            ok = "" if metric.ok is None else ("yes" if metric.ok else "NO")
            table.add_row(
                result.name,
                metric.name,
                f"{metric.value:,.4g}",
                metric.unit,
                metric.target or "",
                ok,
            )
    Console().print(table)
    for result in results:
        for note in result.notes:
            print(f"[{result.name}] {note}")


if __name__ == "__main__":
    sys.exit(main())
