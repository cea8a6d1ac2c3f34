"""``havre workspace build|refresh|status|purge`` and ``havre query``, as people and scripts
use them (in-process, SQLite, the system clock)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from havre.cli.main import main
from havre.core.clock import SystemClock
from havre.core.config import load_settings

from .conftest import WHY, new_world


def havre(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    captured = capsys.readouterr()
    code = int(ended.value.code or 0)
    out = json.loads(captured.out) if "--json" in args and captured.out.strip() else captured.out
    return code, out, captured.err


def test_workspace_and_query_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hub, world = new_world(load_settings(), SystemClock())
    with hub:
        project = world.active_project()
        token = world.researcher.token
        outsider = world.outsider.token
    common = ("--project", project, "--token", token)

    code, refused, _ = havre(capsys, "workspace", "build", *common, "--json")
    assert code == 2 and "justification" in refused["message"]
    code, built, _ = havre(capsys, "workspace", "build", *common, "--justification", WHY, "--json")
    assert code == 0 and built["persons"] == 200 and built["version"] == 1

    code, status, _ = havre(capsys, "workspace", "status", *common, "--json")
    assert code == 0 and status["rows"] == 1400 and status["data_version"] == 1
    code, text, _ = havre(capsys, "workspace", "status", *common)
    assert code == 0 and "snds@v1" in text

    sql = "SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY 1"
    code, result, _ = havre(
        capsys, "query", *common, "--sql", sql, "--justification", WHY, "--json"
    )
    assert code == 0 and result["columns"] == ["gender_concept_id", "n"]
    assert sum(row[1] for row in result["rows"]) == 200
    assert result["cold_load_seconds"] is not None  # one process per command: loaded each time

    file = tmp_path / "q.sql"
    file.write_text("SELECT * FROM condition_occurrence", encoding="utf-8")
    code, text, err = havre(
        capsys,
        "query",
        *common,
        "--sql-file",
        str(file),
        "--max-rows",
        "3",
        "--justification",
        WHY,
    )
    assert code == 0 and "truncated at 3 rows" in err

    code, refused, _ = havre(
        capsys,
        "query",
        *common,
        "--sql",
        "COPY person TO '/tmp/x.csv'",
        "--justification",
        WHY,
        "--json",
    )
    assert code == 5 and refused["error"] == "permission_denied"
    code, refused, _ = havre(
        capsys,
        "query",
        "--project",
        project,
        "--token",
        outsider,
        "--sql",
        sql,
        "--justification",
        WHY,
        "--json",
    )
    assert code == 5 and "not a named person" in refused["message"]

    code, refreshed, _ = havre(
        capsys, "workspace", "refresh", *common, "--justification", WHY, "--json"
    )
    assert code == 0 and refreshed["version"] == 2 and refreshed["new_persons"] == 0

    code, refused, _ = havre(
        capsys, "workspace", "purge", *common, "--justification", WHY, "--json"
    )
    assert code == 5  # a researcher does not purge, and the project is not closed
