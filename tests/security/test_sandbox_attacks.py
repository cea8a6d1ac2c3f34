"""Attacks on the workspace sandbox that must fail, each with a clear error and an audited
``denied`` entry carrying the SQL's hash; the service stays usable afterwards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from havre.audit.models import AuditEntryRow
from havre.core.clock import FixedClock
from havre.core.config import Settings, load_settings
from havre.core.errors import HavreError, PermissionDenied
from havre.core.hashing import sha256_text
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER
from havre.hub import Hub
from havre.scenarios.world import World, publish_version, synthetic_omop
from havre.workspace.sandbox import Limits, QueryStopped, SandboxDatabase
from havre.workspace.screen import QueryRefused

START = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
WHY = "Cohort description for the approved protocol."


def new_world(settings: Settings, clock: FixedClock) -> tuple[Hub, World]:
    hub, _ = Hub.init(settings, clock=clock)
    world = World.seat(hub.identity, hub.projects)
    publish_version(hub.lake, synthetic_omop(200))
    return hub, world


@dataclass
class Scene:
    hub: Hub
    world: World
    a: str  # the researcher's project
    b: str  # a project the researcher is not named in
    home: Path


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    original = passwords.HASHER
    passwords.HASHER = FAST_TEST_HASHER
    home = tmp_path_factory.mktemp("sandbox") / "home"
    settings = load_settings(home=home, query_timeout_seconds=2, query_memory_limit="256MB")
    hub, world = new_world(settings, FixedClock(START))
    try:
        a = world.active_project()
        b = world.active_project(members=[world.outsider])
        hub.workspaces.build(world.actor(world.researcher, a, WHY), a)
        hub.workspaces.build(world.actor(world.outsider, b, WHY), b)
        yield Scene(hub, world, a, b, home)
    finally:
        hub.workspaces.close()
        hub.close()
        passwords.HASHER = original


def attempt(scene: Scene, sql: str, error: type[HavreError], match: str, project: str = "") -> None:
    project = project or scene.a
    actor = scene.world.actor(scene.world.researcher, project, WHY)
    with pytest.raises(error, match=match):
        scene.hub.workspaces.query(actor, project, sql)
    entry = last_query_entry(scene.hub)
    assert entry.outcome == "denied", entry.reason
    assert sha256_text(sql) in entry.details and entry.project_id == project


def last_query_entry(hub: Hub) -> AuditEntryRow:
    with hub.db.transaction() as session:
        row = session.execute(
            select(AuditEntryRow)
            .where(AuditEntryRow.action == "workspace.query")
            .order_by(AuditEntryRow.seq.desc())
            .limit(1)
        ).scalar_one()
        session.expunge(row)
        return row


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/hostname')",
        "SELECT * FROM read_parquet('/tmp/anything.parquet')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT count(*) FROM person WHERE EXISTS (SELECT 1 FROM read_csv('/etc/passwd'))",
    ],
)
def test_reading_files_fails(scene: Scene, sql: str) -> None:
    attempt(scene, sql, QueryRefused, "not allowed|not a table")


def test_copy_to_fails(scene: Scene, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    attempt(scene, f"COPY person TO '{target}' (HEADER)", QueryRefused, "COPY")
    attempt(scene, f"COPY (SELECT * FROM person) TO '{target}'", QueryRefused, "COPY")
    assert not target.exists()


def test_attach_fails(scene: Scene, tmp_path: Path) -> None:
    attempt(scene, f"ATTACH '{tmp_path / 'x.duckdb'}' AS x", QueryRefused, "ATTACH")


@pytest.mark.parametrize("sql", ["INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL httpfs"])
def test_extensions_fail(scene: Scene, sql: str) -> None:
    attempt(scene, sql, QueryRefused, "LOAD")


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET threads = 64",
        "SET memory_limit = '100GB'",
        "PRAGMA enable_profiling",
        "PRAGMA threads = 64",
        "RESET memory_limit",
        "SET GLOBAL lock_configuration = false",
    ],
)
def test_setting_changes_fail(scene: Scene, sql: str) -> None:
    attempt(scene, sql, QueryRefused, "SET|PRAGMA")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM person; COPY person TO '/tmp/leak.csv'",
        "SELECT 1; ATTACH '/tmp/x.duckdb'",
        "SELECT 1;SET enable_external_access=true;SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1; -- a comment\nINSTALL httpfs",
    ],
)
def test_a_second_statement_cannot_hide(scene: Scene, sql: str) -> None:
    attempt(scene, sql, QueryRefused, "statements")
    assert not Path("/tmp/leak.csv").exists()


def test_another_projects_tables_cannot_be_named(scene: Scene) -> None:
    other = scene.home / "workspaces" / scene.b / "v0001" / "tables" / "person.parquet"
    assert other.exists()
    attempt(scene, f'SELECT * FROM "{scene.b}".person', QueryRefused, "outside this workspace")
    attempt(scene, f"SELECT * FROM read_parquet('{other}')", QueryRefused, "not allowed")
    attempt(scene, f"SELECT * FROM '{other}'", QueryRefused, "not a table")
    attempt(scene, "SELECT * FROM workspaces.person", QueryRefused, "outside this workspace")


def test_a_runaway_query_is_stopped_and_the_service_stays_up(scene: Scene) -> None:
    sql = (
        "SELECT sum(length(a.condition_source_value || b.condition_source_value "
        "|| c.condition_source_value)) FROM condition_occurrence a, condition_occurrence b, "
        "condition_occurrence c"
    )
    attempt(scene, sql, QueryStopped, "stopped after 2 s|memory")
    actor = scene.world.actor(scene.world.researcher, scene.a, WHY)
    after = scene.hub.workspaces.query(actor, scene.a, "SELECT count(*) FROM person")
    assert after.rows() == [[200]]


def test_a_person_not_named_in_the_permit_cannot_query(scene: Scene) -> None:
    actor = scene.world.actor(scene.world.outsider, scene.a, WHY)
    sql = "SELECT count(*) FROM person"
    with pytest.raises(PermissionDenied, match="not a named person"):
        scene.hub.workspaces.query(actor, scene.a, sql)
    entry = last_query_entry(scene.hub)
    assert entry.outcome == "denied" and entry.actor_user_id == scene.world.outsider.user_id


def test_a_researcher_of_a_cannot_use_b(scene: Scene) -> None:
    sql = "SELECT count(*) FROM person"
    opened_for_a = scene.world.actor(scene.world.researcher, scene.a, WHY)
    with pytest.raises(PermissionDenied, match=f"acts for project {scene.a}"):
        scene.hub.workspaces.query(opened_for_a, scene.b, sql)
    assert last_query_entry(scene.hub).outcome == "denied"
    opened_for_b = scene.world.actor(scene.world.researcher, scene.b, WHY)
    attempt(scene, sql, PermissionDenied, "not a named person", project=scene.b)
    with pytest.raises(PermissionDenied):
        scene.hub.workspaces.status(opened_for_b, scene.b)


def test_a_query_after_the_permit_expired_fails(tmp_path: Path) -> None:
    original = passwords.HASHER
    passwords.HASHER = FAST_TEST_HASHER
    clock = FixedClock(START)
    hub, world = new_world(load_settings(home=tmp_path / "home"), clock)
    try:
        project = world.active_project()
        hub.workspaces.build(world.actor(world.researcher, project, WHY), project)
        # the permit ran 12 months; the researcher kept signing in (dormant accounts are
        # suspended)
        world.people.time_passes(clock, 400, [world.researcher])
        actor = world.actor(world.researcher, project, WHY)
        with pytest.raises(PermissionDenied, match="expired"):
            hub.workspaces.query(actor, project, "SELECT count(*) FROM person")
        assert last_query_entry(hub).outcome == "denied"
    finally:
        hub.workspaces.close()
        hub.close()
        passwords.HASHER = original


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY person TO '{out}'",
        "ATTACH '{out}.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
    ],
)
def test_the_locked_engine_refuses_even_without_screening(sql: str, tmp_path: Path) -> None:
    """Defense in depth: were the screening fooled, the locked database still refuses."""
    table = pa.table({"person_id": [1, 2, 3]})
    database = SandboxDatabase([("person", table.to_reader())], Limits(5, "64MB", 1, 100))
    out = tmp_path / "out.csv"
    try:
        with pytest.raises(HavreError):
            database.run(sql.format(out=out), max_rows=10, quote_errors=True)
        assert not out.exists() and not Path(f"{out}.db").exists()
        assert database.run("SELECT count(*) FROM person", max_rows=10, quote_errors=True).table[
            0
        ].to_pylist() == [3]
    finally:
        database.close()
