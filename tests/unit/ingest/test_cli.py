"""The commands, as a new user would run them."""

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

from havre.cli.main import main

from .deliveries import OBJECTOR, PEOPLE, snds_tables, write_optout, write_snds


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def havre(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """Runs the ``havre`` command in this process (its entry point, exit codes included)."""

    def run(home: Path, *args: str) -> Run:
        monkeypatch.setenv("HAVRE_HOME", str(home))
        with pytest.raises(SystemExit) as ended:
            main(list(args))
        captured = capsys.readouterr()
        return Run(int(ended.value.code or 0), captured.out, captured.err)

    return run


def _ok(havre: Callable[..., Run], home: Path, *args: str) -> Any:
    done = havre(home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ingest_quarantine_optout_catalog(havre: Callable[..., Run], tmp_path: Path) -> None:
    def ok(home: Path, *args: str) -> Any:
        return _ok(havre, home, *args)

    home = tmp_path / "home"
    ok(home, "init")
    imported = ok(home, "optout", "import", str(write_optout(tmp_path / "o.csv", [OBJECTOR])))
    assert imported["added"] == 1
    delivery = write_snds(tmp_path / "d" / "snds", snds_tables(dirty=True))
    first = ok(home, "ingest", str(delivery.parent), "--source", "snds")
    assert (first["created"], first["version"], first["dataset"]) == (True, 1, "snds")
    total = first["reconciliation"]["total"]
    assert (
        total["read"]
        == total["loaded"] + total["quarantined"] + total["opted_out"] + total["duplicates"]
    )
    # where the time went: inspection, every step of the version's lineage, publication
    steps = [t["step"] for t in first["timings"]]
    assert steps[0].startswith("inspected") and steps[-1].startswith("published")
    lineage = ok(home, "catalog", "snds")[0]["lineage"]["steps"]
    assert steps[1:-1] == lineage
    seconds = [t["seconds"] for t in first["timings"]]
    assert min(seconds) >= 0 and sum(seconds) <= first["seconds"] + 0.01
    again = ok(home, "ingest", str(delivery), "--source", "snds")
    assert again["created"] is False and again["timings"] == []
    # no record was read again: no rate, the counts are the version's
    assert again["records_per_second"] == 0 and again["reconciliation"] == first["reconciliation"]

    summary = ok(home, "quarantine", "list")
    assert summary[0]["records"] == total["quarantined"]
    page = ok(home, "quarantine", "show", "snds", "--reason", "bad_date", "--limit", "5")
    assert page["total"] == 2 and {r["reason"] for r in page["records"]} == {"bad_date"}

    listing = ok(home, "catalog")
    assert listing[0]["dataset"] == "snds" and listing[0]["tables"]["person"] == len(PEOPLE) - 1
    detail = ok(home, "catalog", "snds")[0]
    person = next(t for t in detail["dictionary"] if t["table"] == "person")
    tags = {c["name"]: c["identifier"] for c in person["columns"]}
    assert tags["month_of_birth"] == "birth_month"
    assert detail["quality"]["checks"] == len(detail["quality"]["results"])

    added = ok(home, "optout", "add", PEOPLE[1].nir, "--date", "2024-01-01")
    assert added["changed"] is True
    assert len(ok(home, "optout", "list")) == 2
    assert ok(home, "optout", "remove", PEOPLE[1].nir)["state"] == "withdrawn"
    assert len(ok(home, "optout", "list", "--withdrawn")) == 2

    human = havre(home, "ingest", str(delivery), "--source", "snds")
    assert human.returncode == 0 and "Already ingested as" in human.stdout
    assert "nothing new was made" in human.stdout and "records/s" not in human.stdout
    assert "Reconciliation" in human.stdout


def test_errors_are_clear(havre: Callable[..., Run], tmp_path: Path) -> None:
    def ok(home: Path, *args: str) -> Any:
        return _ok(havre, home, *args)

    home = tmp_path / "home"
    ok(home, "init")
    missing = havre(home, "ingest", str(tmp_path / "nowhere"), "--source", "snds", "--json")
    assert missing.returncode == 9
    assert json.loads(missing.stdout)["error"] == "data_validation_error"
    unknown = havre(home, "ingest", str(tmp_path), "--source", "hl8", "--json")
    assert unknown.returncode == 2 and "one of: fhir, omop, snds" in unknown.stderr
    bad = havre(home, "optout", "add", "123", "--json")
    assert bad.returncode == 2 and "123" not in bad.stdout.replace('"usage_error"', "")


def test_the_installed_command_runs(tmp_path: Path) -> None:
    from havre.core.config import load_settings
    from havre.hub import Hub

    hub, _ = Hub.init(load_settings(home=tmp_path / "home"))
    hub.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "havre.cli.main", "catalog", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_an_ingest_starts_without_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas (a quarter of a second) at the first array built from Python
    values; the ingest builds its few such arrays from buffers (``havre.core.arrays``)."""
    delivery = write_snds(tmp_path / "d" / "snds", snds_tables(dirty=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(tmp_path / "home")
    script = (
        "import json, sys\n"
        "from havre.cli.main import main\n"
        "for args in (['init', '--json'], sys.argv[1:]):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as ended:\n"
        "        assert not ended.code, ended.code\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules}))\n"
    )
    args = ["ingest", str(delivery), "--source", "snds", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert json.loads(last) == {"pandas": False}
