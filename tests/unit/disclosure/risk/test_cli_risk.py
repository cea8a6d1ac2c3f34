"""``havre risk``: on files, without a hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from havre.cli.main import main


def extract(rows: int = 3000, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    years = rng.integers(1940, 2005, rows)
    months = rng.integers(1, 13, rows)
    return pa.table(
        {
            "birth_month": [f"{y}-{m:02d}" for y, m in zip(years, months, strict=True)],
            "sex": rng.choice(["1", "2"], rows),
            "commune": rng.choice(["01001", "01004", "75056", "2A004", "13055", "97411"], rows),
            "dx": rng.choice(["E11", "I10", "J45"], rows),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    table = extract()
    paths = {"parquet": tmp_path / "extract.parquet", "csv": tmp_path / "extract.csv"}
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(table, paths["csv"], pacsv.WriteOptions(delimiter=";", quoting_style="none"))
    population = pa.concat_tables([table, extract(rows=6000, seed=6)])
    paths["population"] = tmp_path / "population.parquet"
    pq.write_table(population, paths["population"])
    return paths


def havre(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def assess_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = havre(capsys, "risk", "assess", *args, "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


QI = ("--qi", "birth_month,sex,commune")


def test_assess_json(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    data = assess_json(capsys, "--input", str(files["parquet"]), *QI, "--sensitive", "dx")
    assert data["records"] == 3000
    assert data["k"] == 1
    assert 0 < data["unique_share"] < 1
    assert set(data["prosecutor_risk"]) == {"highest", "average", "records_at_risk"}
    assert data["prosecutor_risk"]["highest"] == 1.0
    assert data["journalist_risk"]["basis"] == "whole_population"
    assert data["marketer_risk"] == data["prosecutor_risk"]["average"]
    assert data["population_uniqueness"]["share"] == data["unique_share"]
    assert sum(b["records"] for b in data["classes"]) == 3000
    assert data["l"] == 1
    assert data["sensitive"]["dx"]["distinct_l"] == 1
    kinds = {q["column"]: q["kind"] for q in data["quasi_identifiers"]}
    assert kinds == {"birth_month": "birth_month", "sex": "sex", "commune": "commune"}
    assert "suggestions" not in data


def test_csv_gives_the_same_answer(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    from_parquet = assess_json(capsys, "--input", str(files["parquet"]), *QI)
    from_csv = assess_json(capsys, "--input", str(files["csv"]), *QI)
    for key in ("k", "unique_share", "classes", "prosecutor_risk"):
        assert from_csv[key] == from_parquet[key]


def test_suggestions(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    data = assess_json(capsys, "--input", str(files["parquet"]), *QI, "--target-k", "5")
    suggestions = data["suggestions"]
    assert suggestions["reached"] is True
    assert suggestions["target"] == {"k": 5, "average_risk": None}
    steps = suggestions["steps"]
    assert steps[-1]["k"] >= 5
    assert steps[-1]["prosecutor_risk"]["average"] < data["prosecutor_risk"]["average"]
    assert {s["column"] for s in steps} <= {"birth_month", "commune"}
    risk = assess_json(
        capsys,
        "--input",
        str(files["parquet"]),
        *QI,
        "--target-risk",
        "0.05",
        "--max-suppression",
        "0.02",
    )
    assert risk["suggestions"]["steps"][-1]["prosecutor_risk"]["average"] <= 0.05


def test_population_information(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    sampled = assess_json(
        capsys, "--input", str(files["parquet"]), *QI, "--sampling-fraction", "0.1"
    )
    assert sampled["journalist_risk"]["basis"] == "sampling_fraction"
    assert sampled["population_uniqueness"]["population_size"] == 30000
    assert sampled["population_uniqueness"]["model"] in {"pitman", "zayatz", "none"}
    table = assess_json(
        capsys, "--input", str(files["parquet"]), *QI, "--population", str(files["population"])
    )
    assert table["journalist_risk"]["basis"] == "population_table"
    assert table["population_uniqueness"]["population_size"] == 9000
    assert table["marketer_risk"] < table["prosecutor_risk"]["average"]


def test_kinds_declared_by_hand(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    data = assess_json(
        capsys,
        "--input",
        str(files["parquet"]),
        "--qi",
        "birth_month,commune",
        "--kinds",
        "commune=other,birth_month=birth_month",
    )
    assert [q["kind"] for q in data["quasi_identifiers"]] == ["birth_month", "other"]


@pytest.mark.parametrize(
    ("args", "exit_code", "error"),
    [
        (("--qi", "birth_month,nope"), 2, "usage_error"),
        (("--qi", "sex", "--kinds", "sex"), 2, "usage_error"),
        (("--qi", "dx", "--kinds", "dx=commune"), 9, "data_validation_error"),
        (
            ("--qi", "sex", "--sampling-fraction", "0.1", "--population-size", "10"),
            2,
            "usage_error",
        ),
        (("--qi", "sex", "--target-k", "1"), 2, "usage_error"),
    ],
)
def test_errors(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Path],
    args: tuple[str, ...],
    exit_code: int,
    error: str,
) -> None:
    code, out, _ = havre(
        capsys, "risk", "assess", "--input", str(files["parquet"]), *args, "--json"
    )
    assert code == exit_code
    assert json.loads(out)["error"] == error


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = havre(
        capsys, "risk", "assess", "--input", str(tmp_path / "none.parquet"), "--qi", "a", "--json"
    )
    assert code == 3
    assert json.loads(out)["error"] == "not_found"
    assert "No file" in err


def test_human_output(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out, _ = havre(
        capsys,
        "risk",
        "assess",
        "--input",
        str(files["parquet"]),
        *QI,
        "--sensitive",
        "dx",
        "--target-k",
        "5",
    )
    assert code == 0
    for text in ("Re-identification risk", "Equivalence classes", "Suggestions", "target is met"):
        assert text in out


def test_kinds_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = havre(capsys, "risk", "kinds", "--json")
    assert code == 0
    assert json.loads(out)["commune"] == ["commune", "département", "région"]


def test_runs_without_a_hub(files: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "no-hub"
    before = sorted(p.name for p in tmp_path.iterdir())
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(home)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "havre.cli.main",
            "risk",
            "assess",
            "--input",
            str(files["parquet"]),
            "--qi",
            "sex,commune",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["records"] == 3000
    # nothing written, neither a hub nor a spill folder in the working directory
    assert not home.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
