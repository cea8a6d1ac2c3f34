"""``havre release ...`` as people and scripts use it (in-process, SQLite, the system clock):
the whole cycle from the fixture spec, exit codes, and the human output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from havre.cli.main import main
from havre.core.clock import SystemClock
from havre.core.config import load_settings
from havre.scenarios.governed import new_governed_hub

from .conftest import WHY

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "airlock"


def havre(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    captured = capsys.readouterr()
    code = int(ended.value.code or 0)
    out = json.loads(captured.out) if "--json" in args and captured.out.strip() else captured.out
    return code, out, captured.err


def test_release_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    g = new_governed_hub(load_settings(), SystemClock())
    with g.hub:
        g.hub.workspaces.close()
    pid = g.project_id
    researcher = ("--token", g.researcher.token)
    first, second, third = (("--token", c.token) for c in g.checkers)
    spec = str(FIXTURES / "outputs.toml")

    code, refused, _ = havre(
        capsys, "release", "request", "--project", pid, "--output-spec", spec, *researcher, "--json"
    )
    assert code == 2 and "justification" in refused["message"]
    code, made, _ = havre(
        capsys,
        "release",
        "request",
        "--project",
        pid,
        "--output-spec",
        spec,
        "--justification",
        WHY,
        *researcher,
        "--json",
    )
    assert code == 0 and made["state"] == "pending"
    rid = made["id"]
    assert made["outputs_status"] == {"pass": 2, "fail": 0, "review": 2}
    assert made["context"].startswith("Tables 1-2 and figure 1")

    code, text, _ = havre(capsys, "release", "show", rid, *researcher)
    assert code == 0 and "pending" in text and "by_sex_band" in text and "next: check" in text
    code, submitted, _ = havre(capsys, "release", "submit", rid, *researcher, "--json")
    assert code == 0 and submitted["state"] == "submitted"

    code, reviewed, _ = havre(
        capsys, "release", "review", rid, "--verdict", "approve", *first, "--json"
    )
    assert code == 0 and reviewed["state"] == "submitted"
    code, _, _ = havre(
        capsys, "release", "review", rid, "--verdict", "approve", "--output", "nope", *second
    )
    assert code == 2
    code, reviewed, _ = havre(
        capsys,
        "release",
        "review",
        rid,
        "--verdict",
        "approve",
        "--note",
        "figure_1=Matches table 1.",
        *second,
        "--json",
    )
    assert code == 0 and reviewed["state"] == "reviewed"

    code, seen, _ = havre(
        capsys,
        "release",
        "inspect",
        rid,
        "--output",
        "by_sex_band",
        "--out",
        str(tmp_path / "inspect"),
        *third,
        "--json",
    )
    assert code == 0 and seen["files"] == ["by_sex_band.sql", "by_sex_band.csv"]
    assert "year_of_birth < 1932" in (tmp_path / "inspect" / "by_sex_band.sql").read_text()
    code, _, _ = havre(
        capsys, "release", "inspect", rid, "--output", "figure_1", "--out", "x", *researcher
    )
    assert code == 5

    code, approved, _ = havre(capsys, "release", "consolidate", rid, *first, "--json")
    assert code == 0 and approved["state"] == "approved"
    code, released, _ = havre(capsys, "release", "release", rid, *first, "--json")
    assert code == 0 and released["state"] == "released"
    out = tmp_path / "out"
    code, got, _ = havre(
        capsys, "release", "download", rid, "--out", str(out), *researcher, "--json"
    )
    assert code == 0 and "figure_1.svg" in got["files"] and (out / "manifest.json").is_file()
    code, _, _ = havre(capsys, "release", "download", rid, "--out", str(out), *researcher)
    assert code == 2  # nothing is overwritten

    code, listed, _ = havre(capsys, "release", "list", *first, "--json")
    assert code == 0 and [r["id"] for r in listed] == [rid]
    code, budget, _ = havre(capsys, "release", "budget", "--project", pid, *researcher, "--json")
    assert code == 0 and budget["total_epsilon"] == 1.0 and budget["spent_epsilon"] == 0

    failing = tmp_path / "failing.json"
    failing.write_text(
        json.dumps(
            {
                "outputs": [
                    {
                        "name": "raw",
                        "kind": "count",
                        "sql": "SELECT person_id, year_of_birth AS year FROM person",
                        "dims": ["year"],
                        "suppress": False,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    code, report, _ = havre(
        capsys,
        "release",
        "request",
        "--project",
        pid,
        "--output-spec",
        str(failing),
        "--justification",
        WHY,
        *researcher,
        "--json",
    )
    assert code == 10 and report["outputs"][0]["status"] == "fail"
    code, noisy, _ = havre(
        capsys,
        "release",
        "check",
        report["id"],
        "--output-spec",
        str(failing),
        "--dp-epsilon",
        "raw=0.2",
        "--justification",
        WHY,
        *researcher,
        "--json",
    )
    assert code == 2 and "Declare the levels of year" in noisy["message"]
    code, text, _ = havre(
        capsys, "release", "withdraw", report["id"], "--reason", "Wrong table.", *researcher
    )
    assert code == 0 and "withdrawn" in text
    code, refused, _ = havre(capsys, "release", "submit", report["id"], *researcher, "--json")
    assert code == 6 and refused["error"] == "invalid_state"
