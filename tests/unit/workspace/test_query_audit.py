"""A query that runs leaves two entries: its start, committed before anything is handed back,
and its outcome; a permit suspended while the query runs releases nothing; a failed start
entry withholds the result; a failed outcome entry leaves the start entry standing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from havre.audit.log import AuditLog, PendingEntry
from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.db.database import Database
from havre.hub import Hub
from havre.workspace.sandbox import SandboxDatabase

from .conftest import WHY, HubWorld, audit_lines

TABLES = {"person": ["person_id", "gender_concept_id", "year_of_birth"]}
SQL = "SELECT count(*) AS n FROM person"


def _project(world: HubWorld) -> str:
    project = world.active_project(tables=TABLES)
    world.hub.workspaces.build(world.actor(world.researcher, project, WHY), project)
    return project


def test_a_query_has_a_start_entry_then_its_outcome(world: HubWorld) -> None:
    hub = world.hub
    project = _project(world)
    researcher = world.actor(world.researcher, project, WHY)
    for _ in range(3):  # the first query loads the workspace; the others are warm
        assert hub.workspaces.query(researcher, project, SQL).rows() == [[200]]
    lines = [line for line in audit_lines(hub) if line["action"].startswith("workspace.query")]
    assert [line["action"] for line in lines] == ["workspace.query_start", "workspace.query"] * 3
    start, outcome = lines[-2:]
    assert start["justification"] == outcome["justification"] == WHY
    assert start["actor"] == outcome["actor"] and start["project"] == project
    assert set(start["details"]) == {
        "sql_sha256",
        "sql_chars",
        "permit_version",
        "access_level",
        "workspace_version",
    }
    assert {k: outcome["details"][k] for k in start["details"]} == start["details"]
    assert (outcome["outcome"], outcome["details"]["rows"]) == ("ok", 1)
    assert hub.audit_trail.verify().ok


def test_a_suspension_while_the_query_runs_releases_nothing(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, project, researcher = _warm(world)
    run = SandboxDatabase.run

    def suspended_meanwhile(self: SandboxDatabase, *args: Any, **kwargs: Any) -> Any:
        result = run(self, *args, **kwargs)
        hub.projects.suspend(world.actor(world.steward), project, "Inquiry into a breach.")
        return result

    monkeypatch.setattr(SandboxDatabase, "run", suspended_meanwhile)
    with pytest.raises(PermissionDenied, match="suspended"):
        hub.workspaces.query(researcher, project, SQL)
    lines = [line for line in audit_lines(hub) if line["action"].startswith("workspace.query")]
    assert [(line["action"], line["outcome"]) for line in lines[-2:]] == [
        ("workspace.query_start", "ok"),
        ("workspace.query", "denied"),
    ]
    assert hub.workspaces.loaded() == []


def _warm(world: HubWorld) -> tuple[Hub, str, Actor]:
    """A project whose workspace is loaded, and its researcher."""
    project = _project(world)
    researcher = world.actor(world.researcher, project, WHY)
    world.hub.workspaces.query(researcher, project, SQL)
    return world.hub, project, researcher


def _failing_to_write(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """The audit log's ``write`` fails for the entries of ``action``."""
    write = AuditLog.write

    def failing(self: AuditLog, db: Database, entry: PendingEntry) -> None:
        if entry.action == action:
            raise OSError("disk full")
        write(self, db, entry)

    monkeypatch.setattr(AuditLog, "write", failing)


def test_no_result_without_its_start_entry(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, project, researcher = _warm(world)
    _failing_to_write(monkeypatch, "workspace.query_start")
    with pytest.raises(OSError, match="disk full"):
        hub.workspaces.query(researcher, project, SQL)
    last = audit_lines(hub)[-1]
    assert (last["action"], last["outcome"]) == ("workspace.query", "error")


def test_a_failed_outcome_entry_leaves_the_start_entry(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hub, project, researcher = _warm(world)
    _failing_to_write(monkeypatch, "workspace.query")
    with caplog.at_level(logging.ERROR, logger="havre.workspace.querying"):
        assert hub.workspaces.query(researcher, project, SQL).rows() == [[200]]
        hub.db.background.settle()
    assert "outcome entry of a query" in caplog.text
    last = audit_lines(hub)[-1]
    assert (last["action"], last["outcome"]) == ("workspace.query_start", "ok")
    assert hub.audit_trail.verify().ok
