"""Shared by the Spark parity tests."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import math
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from havre.cli.main import main
from havre.core.config import Settings
from havre.hub import Hub
from havre.ingest import ids
from havre.lake.version import LakeVersion

TESTS = Path(__file__).parents[2]
SPEC = TESTS / "spec"
ENGINES = ("duckdb", "spark")


def spec_module(relative: str, root: Path = SPEC) -> ModuleType:
    """A test module of the suite (a spec by default), loaded by path: what the DuckDB tests
    use is shared with the parity tests, not copied. It must import absolutely."""
    path = root / relative
    loaded = importlib.util.spec_from_file_location(f"havre_spec_{path.stem}", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module  # dataclasses look their module up there
    loaded.loader.exec_module(module)
    return module


def assert_same(left: Any, right: Any, path: str = "report") -> None:
    """Counts and labels exactly; real numbers to rounding (a sum's order differs between
    engines, and so may its last bit)."""
    if isinstance(left, dict) and isinstance(right, dict):
        assert sorted(left) == sorted(right), path
        for key in left:
            assert_same(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        assert len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(left, float) or isinstance(right, float):
        assert math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-15), f"{path}: {left} {right}"
    else:
        assert left == right, f"{path}: {left!r} != {right!r}"


def content_hash(table: pa.Table) -> str:
    """Order-free: the rows, each serialized, sorted, hashed."""
    rows = sorted(repr(sorted(r.items())) for r in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def assert_same_tables(on_duckdb: LakeVersion, on_spark: LakeVersion) -> None:
    """Two versions of one delivery, ingested on each engine, hold the same tables: the same
    rows (as registered in the manifest), columns and types, and content."""
    assert on_spark.tables == on_duckdb.tables
    for name in on_duckdb.tables:
        left, right = on_duckdb.read(name), on_spark.read(name)
        assert right.num_rows == left.num_rows == on_spark.table(name).rows, name
        # Spark adds its own footer metadata; the columns and types are the same
        assert right.schema.remove_metadata() == left.schema, name
        assert content_hash(right) == content_hash(left), name


def havre(*args: str) -> dict[str, Any]:
    """``havre ARGS --json`` in this process (the Spark session is the process's)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with pytest.raises(SystemExit) as ended:
            main([*args, "--json"])
    assert ended.value.code in (0, None), err.getvalue()
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


# ``ingest(path, source, dataset)``: the delivery ingested once per engine, as DATASET-ENGINE;
# the commands' results by (engine, dataset)
Ingest = Callable[[Path, str, str], dict[tuple[str, str], dict[str, Any]]]


@contextlib.contextmanager
def cli_hub(home: Path, spark_master: str) -> Iterator[tuple[Ingest, Hub]]:
    """A hub made by ``havre init`` at HOME, with the command that ingests a delivery on both
    engines into it, and the hub itself to read the lake (closed at the end of the block).
    Record ids are keyed by a secret drawn per run (havre.ingest.ids), so two runs differ on
    any engine: it is fixed here, the one thing the two runs would not otherwise share."""
    patch = pytest.MonkeyPatch()
    patch.setattr(ids, "secrets", types.SimpleNamespace(randbelow=lambda n: n // 3))
    patch.setenv("HAVRE_HOME", str(home))
    patch.setenv("HAVRE_SPARK_MASTER", spark_master)

    def ingest(path: Path, source: str, dataset: str) -> dict[tuple[str, str], dict[str, Any]]:
        results = {}
        for engine in ENGINES:
            patch.setenv("HAVRE_ENGINE", engine)
            results[engine, dataset] = havre(
                "ingest", str(path), "--source", source, "--dataset", f"{dataset}-{engine}"
            )
        return results

    try:
        havre("init")
        with Hub.open(Settings(home=home)) as hub:
            yield ingest, hub
    finally:
        patch.undo()
