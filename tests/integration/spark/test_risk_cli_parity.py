"""``havre risk assess --input`` follows HAVRE_ENGINE: the same file gives the same answer on
Spark as on DuckDB (assessment and suggestions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from havre.cli.main import main
from havre.core.config import Settings

from .helpers import assert_same

pytestmark = pytest.mark.spark


def _extract(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    years, months = rng.integers(1940, 2005, rows), rng.integers(1, 13, rows)
    return pa.table(
        {
            "birth_month": [f"{y}-{m:02d}" for y, m in zip(years, months, strict=True)],
            "sex": rng.choice(["1", "2"], rows),
            "commune": rng.choice(["01001", "75056", "2A004", "13055", "97411"], rows),
            "dx": rng.choice(["E11", "I10", "J45"], rows),
        }
    )


def _assess(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    args = ["risk", "assess", "--input", str(path), "--qi", "birth_month,sex,commune"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--sensitive", "dx", "--target-k", "5", "--json"])
    captured = capsys.readouterr()
    assert exit_info.value.code in (0, None), captured.err
    data: dict[str, Any] = json.loads(captured.out)
    return data


def test_risk_assess_on_a_file_is_the_same_on_both_engines(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    spark: object,
    spark_settings: Settings,
) -> None:
    path = tmp_path / "extract.parquet"
    pq.write_table(_extract(rows=2000, seed=11), path)
    monkeypatch.setenv("HAVRE_HOME", str(spark_settings.home))
    monkeypatch.setenv("HAVRE_ENGINE", "duckdb")
    on_duckdb = _assess(capsys, path)
    monkeypatch.setenv("HAVRE_ENGINE", "spark")
    monkeypatch.setenv("HAVRE_SPARK_MASTER", spark_settings.spark_master)
    on_spark = _assess(capsys, path)
    assert on_duckdb["records"] == 2000 and on_duckdb["suggestions"]["steps"]
    assert_same(on_duckdb, on_spark)
