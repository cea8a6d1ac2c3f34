"""The project, permit, call and register commands as people and scripts use them
(in-process, SQLite, a real lake)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from havre.cli.main import main
from havre.core.config import load_settings
from havre.governance.identity import Role
from havre.governance.identity.testing import People
from havre.hub import Hub
from havre.keys import KeyPurpose

from .conftest import application
from .lake_version import publish_omop


def havre(
    capsys: pytest.CaptureFixture[str], *args: str, token: str | None = None
) -> tuple[int, Any]:
    argv = list(args) + (["--token", token] if token else [])
    with pytest.raises(SystemExit) as ended:
        main(argv)
    out = capsys.readouterr().out
    code = int(ended.value.code or 0)
    return code, json.loads(out) if "--json" in argv and out.strip() else out


def test_a_project_through_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert havre(capsys, "init", "--json")[0] == 0
    with Hub.open(load_settings()) as hub:
        publish_omop(hub)
        people = People(hub.identity)
        people.admin()
        lead, researcher = people.person(name="Léa Lead"), people.person(name="Rémi Rech")
        steward = people.person([(Role.DATA_STEWARD, None)], name="Sam Steward")
        steward2 = people.person([(Role.DATA_STEWARD, None)], name="Sacha Steward")
        reviewer = people.person([(Role.REVIEWER, None)], name="Rose Reviewer")

    file = tmp_path / "application.json"
    doc = application([researcher.user_id])
    file.write_text(json.dumps(doc), encoding="utf-8")
    rc, made = havre(capsys, "project", "create", "--file", str(file), "--json", token=lead.token)
    assert rc == 0, made
    pid = made["project_id"]
    assert made["status"] == "draft" and made["allowed_next"] == ["update", "submit", "withdraw"]

    # a TOML file with a typo: every problem at once, exit code 2
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\nbudjet = 3\naccess_level = "all"\n', encoding="utf-8")
    rc, error = havre(
        capsys, "project", "update", pid, "--file", str(bad), "--json", token=lead.token
    )
    assert rc == 2 and error["error"] == "usage_error"
    assert "budjet: unknown field" in error["context"]["problems"]

    steps: list[tuple[list[str], str]] = [
        (["submit", pid], lead.token),
        (["completeness", pid, "--complete"], steward.token),
        (["review", pid, "--opinion", "favourable", "--text", "Sound protocol."], reviewer.token),
        (
            [
                "decide",
                pid,
                "--decision",
                "authorised",
                "--reference",
                "DR-2027-042",
                "--date",
                dt.date.today().isoformat(),
            ],
            steward2.token,
        ),
    ]
    for args, token in steps:
        rc, out = havre(capsys, "project", *args, "--json", token=token)
        assert rc == 0, (args, out)
    assert out["status"] == "authorised" and out["allowed_next"] == ["issue", "close"]

    # activating before issue: refused, exit 6, with the allowed next steps
    rc, error = havre(capsys, "project", "activate", pid, "--json", token=steward.token)
    assert rc == 6 and error["error"] == "invalid_state"
    assert "Allowed next steps: issue (data steward)" in error["message"]

    rc, permit = havre(capsys, "project", "issue", pid, "--json", token=steward.token)
    assert rc == 0 and permit["status"] == "issued" and permit["data_version"] == 1
    rc, error = havre(capsys, "project", "activate", pid, "--json", token=steward.token)
    assert rc == 5 and "issue and activate" in error["message"]
    rc, permit = havre(capsys, "project", "activate", pid, "--json", token=steward2.token)
    assert rc == 0 and permit["status"] == "active"

    rc, shown = havre(capsys, "permit", "show", pid, "--json", token=researcher.token)
    assert rc == 0 and shown["sha256"] == permit["sha256"]
    assert shown["tables"][1]["name"] == "person"
    rc, text = havre(capsys, "permit", "show", pid, token=researcher.token)
    assert rc == 0 and "birth_month" in text
    rc, listed = havre(capsys, "project", "list", "--json", token=researcher.token)
    assert [p["id"] for p in listed] == [pid]
    rc, text = havre(capsys, "project", "show", pid, token=lead.token)
    assert rc == 0 and "DR-2027-042" in text

    # the register needs no token
    rc, text = havre(capsys, "register", "export", "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["project_id"], r["status"]) for r in rows] == [(pid, "active")]
    out = tmp_path / "register.json"
    rc, summary = havre(capsys, "register", "export", "--out", str(out), "--json")
    assert rc == 0 and summary["format"] == "json"
    assert json.loads(out.read_text())[0]["controller"] == "Université de Rouen Normandie"

    with Hub.open(load_settings()) as hub:
        hub.keys.create(f"workspace/{pid}", KeyPurpose.WORKSPACE)
    rc, closed = havre(
        capsys, "project", "close", pid, "--reason", "Study finished.", "--json", token=lead.token
    )
    assert rc == 0 and closed["workspace_key"] == "destroyed"
    rc, out = havre(
        capsys,
        "project",
        "results",
        pid,
        "--summary",
        "Published.",
        "--link",
        "https://example.org/paper",
        "--json",
        token=lead.token,
    )
    assert rc == 0 and out["status"] == "closed"
    rc, text = havre(capsys, "register", "export", "--format", "csv")
    assert "https://example.org/paper" in text and ",closed," in text


def test_calls_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert havre(capsys, "init", "--json")[0] == 0
    with Hub.open(load_settings()) as hub:
        admin = People(hub.identity).admin()
    today = dt.date.today()
    rc, call = havre(
        capsys,
        "call",
        "create",
        "--title",
        "Rare diseases",
        "--theme",
        "rare diseases",
        "--theme",
        "genetics",
        "--opens",
        today.isoformat(),
        "--closes",
        (today + dt.timedelta(days=60)).isoformat(),
        "--json",
        token=admin.token,
    )
    assert rc == 0 and call["open"] is True
    rc, calls = havre(capsys, "call", "list", "--open", "--json")
    assert [c["id"] for c in calls] == [call["id"]]
    rc, shown = havre(capsys, "call", "show", call["id"], "--json")
    assert rc == 0 and shown["themes"] == ["genetics", "rare diseases"]
    rc, error = havre(
        capsys,
        "call",
        "create",
        "--title",
        "x",
        "--theme",
        "y",
        "--opens",
        "2027-01-01",
        "--closes",
        "2027-02-01",
        "--json",
    )
    assert rc == 5 and error["error"] == "permission_denied"
    rc, error = havre(capsys, "project", "show", "prj_missing", "--json", token=admin.token)
    assert rc == 3
