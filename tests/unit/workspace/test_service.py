"""Build, status, query and refresh through ``hub.workspaces``, on both governance stores."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.scenarios.world import publish_version, synthetic_omop

from .conftest import WHY, HubWorld, audit_lines


def test_build_status_query_are_audited(world: HubWorld) -> None:
    hub = world.hub
    project = world.active_project()
    researcher = world.actor(world.researcher, project, WHY)

    built = hub.workspaces.build(researcher, project)
    assert built.version == 1 and built.persons == 200
    assert {t.name: t.rows for t in built.tables} == {"person": 200, "condition_occurrence": 1200}
    assert not built.optouts_checked  # the hand-made version carries no opt-out link

    status = hub.workspaces.status(researcher, project)
    assert status.readable and status.persons == 200 and status.rows == 1400
    assert status.data_version == 1 and status.permit_version == 1
    assert status.date_policy == "shifted" and status.access_level == "row-level"
    assert status.bytes == built.bytes > 0

    sql = "SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY 1"
    result = hub.workspaces.query(researcher, project, sql)
    assert result.columns == ["gender_concept_id", "n"]
    assert sum(row[1] for row in result.rows()) == 200

    lines = audit_lines(hub)
    build = [line for line in lines if line["action"] == "workspace.build"]
    assert [b["outcome"] for b in build] == ["ok"]
    assert build[0]["justification"] == WHY and build[0]["project"] == project
    assert build[0]["details"]["persons"] == 200
    created = [line for line in lines if line["action"] == "key.create"]
    assert created and created[-1]["project"] == project
    queries = [line for line in lines if line["action"] == "workspace.query"]
    assert [q["outcome"] for q in queries] == ["ok"]
    details = queries[0]["details"]
    assert details["sql_sha256"] == result.sql_sha256
    assert (details["rows"], details["columns"], details["truncated"]) == (2, 2, False)
    assert "SELECT" not in str(details)  # the hash is audited, never the text
    assert hub.workspaces.journal(project).text(result.sql_sha256) == sql


def test_build_refusals_are_audited(world: HubWorld) -> None:
    hub = world.hub
    project = world.active_project()
    with pytest.raises(UsageError, match="justification"):
        hub.workspaces.build(world.actor(world.researcher, project), project)
    with pytest.raises(PermissionDenied, match="not a named person"):
        hub.workspaces.build(world.actor(world.outsider, project, WHY), project)
    hub.workspaces.build(world.actor(world.steward, None, WHY), project)  # hub staff may
    with pytest.raises(StateError, match="already has a workspace"):
        hub.workspaces.build(world.actor(world.lead, project, WHY), project)
    outcomes = [line["outcome"] for line in audit_lines(hub, "workspace.build")]
    assert outcomes == ["denied", "denied", "ok", "denied"]


def test_operator_builds_but_cannot_query(world: HubWorld) -> None:
    hub = world.hub
    project = world.active_project()
    hub.workspaces.build(Actor.operator(WHY), project)
    with pytest.raises(PermissionDenied, match="named person"):
        hub.workspaces.query(Actor.operator(WHY), project, "SELECT count(*) FROM person")


def test_refresh_follows_a_newer_data_version(world: HubWorld) -> None:
    hub = world.hub
    project = world.active_project()
    researcher = world.actor(world.researcher, project, WHY)
    first = hub.workspaces.build(researcher, project)
    old_path = hub.settings.home / "workspaces" / project / "v0001"
    assert old_path.is_dir()

    publish_version(hub.lake, synthetic_omop(260))  # the same 200 persons and 60 more
    hub.projects.refresh(world.actor(world.steward), project)
    with pytest.raises(StateError, match="refresh the workspace"):
        hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")

    second = hub.workspaces.refresh(researcher, project)
    assert (second.version, second.refreshed, second.superseded) == (2, True, 1)
    assert second.data_version == 2 and second.persons == 260
    assert second.new_persons == 60 and first.new_persons == 200
    assert not old_path.exists()  # the superseded version's files are removed
    count = hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert count.rows() == [[260]]
    ids = hub.workspaces.query(researcher, project, "SELECT person_id FROM person")
    assert sorted(pc.cast(ids.table.column(0), pa.int64()).to_pylist()) == list(range(1, 261))
    history = hub.workspaces.status(researcher, project).history
    assert [(h["version"], h["state"]) for h in history] == [(1, "superseded"), (2, "current")]


def test_refresh_needs_a_workspace(world: HubWorld) -> None:
    project = world.active_project()
    with pytest.raises(StateError, match="build it first"):
        world.hub.workspaces.refresh(world.actor(world.researcher, project, WHY), project)
