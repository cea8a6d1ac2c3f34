"""A warm query keeps what it read of the permit and the registry while the governance counter
stands still (havre.db.changes); a suspension, closure or expiry must still stop the very next
query, whichever process made the change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from havre.audit.checkpoints import CheckpointPolicy
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.core.errors import PermissionDenied
from havre.db import changes
from havre.hub import Hub
from havre.workspace.actions import WorkspaceAction

from .conftest import WHY, HubWorld, audit_lines

TABLES = {"person": ["person_id", "gender_concept_id", "year_of_birth"]}
SQL = "SELECT count(*) AS n FROM person"


def _warm(world: HubWorld) -> str:
    """A project whose workspace is loaded and whose permit was read at the current counter."""
    hub = world.hub
    project = world.active_project(tables=TABLES)
    researcher = world.actor(world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)
    for _ in range(2):
        assert hub.workspaces.query(researcher, project, SQL).rows() == [[200]]
    counter = changes.counter_now(hub.db)
    hub.workspaces.query(researcher, project, SQL)
    assert changes.counter_now(hub.db) == counter  # a query changes no counted table
    return project


def test_a_suspension_stops_the_next_query(world: HubWorld) -> None:
    hub = world.hub
    project = _warm(world)
    researcher = world.actor(world.researcher, project, WHY)
    hub.projects.suspend(world.actor(world.steward), project, "Inquiry into a possible breach.")
    with pytest.raises(PermissionDenied, match="suspended"):
        hub.workspaces.query(researcher, project, SQL)
    assert hub.workspaces.loaded() == []


def test_a_change_by_another_process_stops_the_next_query(world: HubWorld) -> None:
    """Written straight into the table by a second connection, as another process would:
    only the database's counter can tell this process."""
    hub = world.hub
    project = _warm(world)
    researcher = world.actor(world.researcher, project, WHY)
    settings = load_settings(
        home=hub.settings.home, database_url=str(hub.settings.resolved_database_url)
    )
    other = Hub.open(settings, clock=hub.clock)
    try:
        with other.db.transaction() as session:
            session.execute(
                text("UPDATE permits SET status = 'suspended' WHERE project_id = :p"),
                {"p": project},
            )
    finally:
        other.close()
    with pytest.raises(PermissionDenied, match="suspended"):
        hub.workspaces.query(researcher, project, SQL)
    outcomes = [line["outcome"] for line in audit_lines(hub, "workspace.query")]
    assert outcomes[-1] == "denied"


def test_closing_the_project_stops_the_next_query(world: HubWorld) -> None:
    hub = world.hub
    project = _warm(world)
    researcher = world.actor(world.researcher, project, WHY)
    hub.projects.close(world.actor(world.lead, project), project, "Study finished.")
    with pytest.raises(PermissionDenied, match="closed"):
        hub.workspaces.query(researcher, project, SQL)


def test_expiry_on_the_clock_stops_the_next_query(world: HubWorld, clock: FixedClock) -> None:
    """Nothing in the database changes when a permit expires: the clock is read every time."""
    hub = world.hub
    project = _warm(world)
    researcher = world.actor(world.researcher, project, WHY)
    counter = changes.counter_now(hub.db)
    permit = hub.workspaces.permits.current(project)
    assert permit is not None
    clock.advance(seconds=(permit.expires_at - clock.now()).total_seconds())
    with pytest.raises(PermissionDenied, match="expired"):
        hub.workspaces.query(researcher, project, SQL)
    assert changes.counter_now(hub.db) == counter
    assert hub.workspaces.loaded() == []


def _sessions_used(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The projects whose query completions went through a session (``_recording``)."""
    used: list[str] = []
    recording = hub.workspaces._recording

    def counted(actor: Actor, action: WorkspaceAction, project_id: str) -> Any:
        used.append(project_id)
        return recording(actor, action, project_id)

    monkeypatch.setattr(hub.workspaces, "_recording", counted)
    return used


def _watched(world: HubWorld, monkeypatch: pytest.MonkeyPatch) -> tuple[Hub, str, Actor, list[str]]:
    """A warm project, its researcher, and the list of completions that took a session."""
    project = _warm(world)
    researcher = world.actor(world.researcher, project, WHY)
    return world.hub, project, researcher, _sessions_used(world.hub, monkeypatch)


def _entry_shape(line: dict[str, Any]) -> dict[str, Any]:
    details = {k: v for k, v in line["details"].items() if k != "seconds"}
    return {**line, "details": details}


def test_a_warm_query_is_audited_by_plain_statements_alike(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the steady state the completion writes its entry without a session: the same entry
    as the session path's, in the same chain."""
    hub, project, researcher, used = _watched(world, monkeypatch)
    with monkeypatch.context() as patched:
        patched.setattr(hub.workspaces.permits, "kept_access", lambda *args: None)
        hub.workspaces.query(researcher, project, SQL)
    assert used == [project]
    hub.workspaces.query(researcher, project, SQL)
    assert used == [project]  # the second went by plain statements
    by_session, plainly = audit_lines(hub, "workspace.query")[-2:]
    assert _entry_shape(plainly) == _entry_shape(by_session)
    assert plainly["outcome"] == "ok" and plainly["details"]["rows"] == 1
    assert hub.audit_trail.verify().ok


def test_a_due_checkpoint_takes_the_session_path_and_is_made(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of the query's two entries finds a checkpoint due: the writing thread appends it
    through a session, which makes the checkpoint."""
    hub, project, researcher, used = _watched(world, monkeypatch)
    checkpointer = hub.audit.checkpointer
    assert checkpointer is not None
    made = len(hub.audit_trail.checkpoints())
    checkpointer.policy = CheckpointPolicy(every_entries=1)
    hub.workspaces.query(researcher, project, SQL)
    assert used == []  # the permit still held: no completion through ``_recording``
    assert len(hub.audit_trail.checkpoints()) == made + 2
    assert [line["action"] for line in audit_lines(hub)][-4:] == [
        "workspace.query_start",
        "audit.checkpoint",
        "workspace.query",
        "audit.checkpoint",
    ]
    assert hub.audit_trail.verify().ok


def test_after_a_change_the_completion_reads_through_a_session(
    world: HubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The permit kept at an older counter is no answer: the session path reads it again."""
    hub, project, researcher, used = _watched(world, monkeypatch)
    with hub.db.transaction() as session:  # any change to a counted table raises the counter
        session.execute(text("UPDATE users SET name = name"))
    hub.workspaces.query(researcher, project, SQL)  # the admission reads and keeps again
    assert used == []  # ... so the completion finds it kept at the new counter
    monkeypatch.setattr(hub.workspaces.permits, "kept_access", lambda *args: None)
    hub.workspaces.query(researcher, project, SQL)
    assert used == [project]
    assert [line["outcome"] for line in audit_lines(hub, "workspace.query")][-2:] == ["ok", "ok"]
    assert hub.audit_trail.verify().ok
