"""``havre disclosure check``: the scripted form auditors rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SDC = Path(__file__).resolve().parents[2] / "data" / "sdc"
CASE = SDC / "case_a.csv"


def havre_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(cwd / "no-hub-here")
    return subprocess.run(
        [sys.executable, "-m", "havre.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def havre(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The ``havre`` entry point, in process (the same code path as the command)."""
    from havre.cli.main import main

    def run(*args: str, cwd: Path | None = None) -> Ran:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        else:  # pragma: no cover - main always exits
            code = 0
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def _check(havre: Callable[..., Ran], *extra: str) -> tuple[int, dict[str, Any]]:
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(CASE),
        "--persons",
        "person_id",
        "--dims",
        "region,sex",
        "--levels",
        "region=R1,R2,R3,R4",
        *extra,
        "--json",
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_check_runs_without_a_hub(tmp_path: Path) -> None:
    result = havre_process(
        "disclosure",
        "check",
        "--input",
        str(CASE),
        "--persons",
        "person_id",
        "--dims",
        "region,sex",
        "--suppress",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "pass"
    assert not (tmp_path / "no-hub-here").exists()
    assert not (tmp_path / "havre-home").exists()


def test_check_json(havre: Callable[..., Ran], tmp_path: Path) -> None:
    code, data = _check(havre, "--kind", "count")
    assert code == 10  # fails as computed: exit code of a disclosure refusal
    assert data["status"] == "fail"
    assert data["parameters"]["threshold"] == 10
    assert data["dims"] == ["region", "sex"]
    cells = {tuple(c["cell"]): c for c in data["cells"]}
    assert cells[("R2", "M")]["status"] == "fail"
    assert cells[("R2", "M")]["rules"] == ["threshold"]
    assert cells[("R2", "M")]["value"] is None
    assert cells[("R4", "F")]["rules"] == ["threshold", "zero"]
    assert cells[("R3", "F")] == {
        "cell": ["R3", "F"],
        "margin": False,
        "status": "pass",
        "rules": [],
        "reasons": [],
        "value": 10,
    }
    assert cells[(None, None)]["margin"] is True and cells[(None, None)]["value"] == 70
    assert {"pass", "fail"} >= {c["status"] for c in data["cells"]}
    assert not any("secondary" in c["rules"] for c in data["cells"])
    assert any("ask for suppression" in note for note in data["notes"])


def test_suppressed_output_passes(havre: Callable[..., Ran]) -> None:
    code, data = _check(havre, "--suppress")
    assert code == 0
    assert data["status"] == "pass"
    assert data["mitigation"]["protected"] is True
    assert data["mitigation"]["secondary_suppressed"] > 0
    assert all(c["value"] is None for c in data["cells"] if c["status"] == "fail")


def test_magnitude_kinds_and_options(havre: Callable[..., Ran]) -> None:
    code, data = _check(havre, "--kind", "sum", "--value", "cost", "--no-margins")
    cells = {tuple(c["cell"]): c for c in data["cells"]}
    assert set(cells[("R1", "M")]["rules"]) == {"nk", "p_percent"}
    assert not any(c["margin"] for c in data["cells"])
    code, data = _check(havre, "--kind", "mean", "--value", "cost", "--threshold", "5")
    assert data["parameters"]["threshold"] == 5
    code, data = _check(
        havre,
        "--round",
        "5",
        "--no-margins",
        "--threshold",
        "1",
        "--structural-zero",
        "R4,F",
        "--structural-zero",
        "R4,M",
    )
    assert code == 0
    assert all(c["value"] % 5 == 0 for c in data["cells"])


def test_policy_file_and_dataset_presets(havre: Callable[..., Ran], tmp_path: Path) -> None:
    _, data = _check(havre, "--dataset", "pmsi-2024")
    assert data["parameters"]["threshold"] == 11
    policy = tmp_path / "policy.toml"
    policy.write_text("[parameters]\nthreshold = 3\nmargins = false\n", encoding="utf-8")
    _, data = _check(havre, "--policy", str(policy))
    assert data["parameters"]["threshold"] == 3
    assert not data["margins"]


def test_errors_have_exit_codes(havre: Callable[..., Ran], tmp_path: Path) -> None:
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(CASE),
        "--persons",
        "person_id",
        "--dims",
        "region,nope",
        "--json",
    )
    assert result.returncode == 9
    assert json.loads(result.stdout)["error"] == "data_validation_error"
    assert "nope" in result.stderr
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(CASE),
        "--persons",
        "person_id",
        "--dims",
        "region",
        "--kind",
        "mode",
        "--json",
    )
    assert result.returncode == 2
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(tmp_path / "missing.csv"),
        "--persons",
        "p",
        "--dims",
        "d",
    )
    assert result.returncode == 2 and "No such input file" in result.stderr


def test_differencing_between_two_files(havre: Callable[..., Ran], tmp_path: Path) -> None:
    first_release = tmp_path / "first.json"
    code, _ = _check(havre, "--suppress", "--record-release", str(first_release))
    assert code == 0
    record = json.loads(first_release.read_text("utf-8"))
    assert record["population"]["size"] == 70
    assert all(c["persons"] >= 10 for c in record["cells"])  # only released cells are kept
    lines = CASE.read_text("utf-8").splitlines()
    one_less = tmp_path / "one_less.csv"
    one_less.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(one_less),
        "--persons",
        "person_id",
        "--dims",
        "region,sex",
        "--levels",
        "region=R1,R2,R3,R4",
        "--suppress",
        "--earlier",
        str(first_release),
        "--json",
    )
    data = json.loads(result.stdout)
    assert result.returncode == 10
    assert all("differencing" in c["rules"] for c in data["cells"])


def test_human_output_and_other_commands(havre: Callable[..., Ran]) -> None:
    result = havre(
        "disclosure",
        "check",
        "--input",
        str(CASE),
        "--persons",
        "person_id",
        "--dims",
        "region,sex",
        "--suppress",
    )
    assert result.returncode == 0, result.stderr
    assert "protection proven: True" in result.stdout
    rules = havre("disclosure", "rules", "--json")
    names = {r["name"] for r in json.loads(rules.stdout)}
    assert {"threshold", "zero", "nk", "p_percent", "dof", "secondary", "differencing"} <= names
    shown = havre("disclosure", "policy", "--dataset", "pmsi", "--json")
    assert json.loads(shown.stdout)["parameters"]["threshold"] == 11
