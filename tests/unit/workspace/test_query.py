"""Queries: aggregate-only checks and the threshold, the row cap, the cache of loaded
workspaces, and access ending while a workspace is loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.core.errors import ConfigError, PermissionDenied, UsageError
from havre.workspace.screen import QueryRefused

from .conftest import WHY, HubWorld, audit_lines, new_world

TABLES = {
    "person": ["person_id", "gender_concept_id", "year_of_birth"],
    "condition_occurrence": ["person_id", "condition_source_value", "condition_start_date"],
}


def test_aggregate_only_returns_checked_aggregates(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project(tables=TABLES, access_level="aggregate-only")
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)

    by_sex = hub.workspaces.query(
        researcher, project, "SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1"
    )
    assert by_sex.columns == ["gender_concept_id", "n"]  # the persons column is not shown
    assert sum(n for _, n in by_sex.rows()) == 200 and by_sex.suppressed_rows == 0

    by_year = hub.workspaces.query(
        researcher,
        project,
        "SELECT year_of_birth, count(*) AS n FROM person GROUP BY year_of_birth",
    )
    assert by_year.suppressed_rows > 0 and by_year.rules_fired == ("threshold",)
    assert by_year.threshold == 10
    assert all(n >= 10 for _, n in by_year.rows())

    # persons, not rows, are counted: conditions per code stand for fewer persons than rows
    codes = hub.workspaces.query(
        researcher,
        project,
        "SELECT c.condition_source_value, count(*) AS records FROM condition_occurrence c "
        "JOIN person p USING (person_id) GROUP BY 1",
    )
    assert codes.table.num_rows + codes.suppressed_rows == 10

    for sql, why in [
        ("SELECT * FROM person", "star"),
        ("SELECT person_id, count(*) FROM condition_occurrence GROUP BY 1", "one row per person"),
        ("SELECT max(year_of_birth) FROM person", "own value"),
        ("SELECT list(condition_source_value) FROM condition_occurrence", "own value"),
        ("SELECT year_of_birth FROM person", "neither grouped"),
    ]:
        with pytest.raises(QueryRefused, match=why):
            hub.workspaces.query(researcher, project, sql)
    # engine messages that could quote a value are withheld
    with pytest.raises(UsageError, match="withheld") as failure:
        hub.workspaces.query(
            researcher,
            project,
            "SELECT sum(CAST(condition_source_value AS INTEGER)) FROM condition_occurrence",
        )
    assert "E11" not in str(failure.value) and "I10" not in str(failure.value)
    outcomes = [line["outcome"] for line in audit_lines(hub, "workspace.query")]
    assert outcomes == ["ok"] * 3 + ["denied"] * 5 + ["error"]


def test_row_cap_and_cache(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project(tables=TABLES)
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)
    first = hub.workspaces.query(
        researcher, project, "SELECT * FROM condition_occurrence", max_rows=50
    )
    assert (first.table.num_rows, first.truncated, first.max_rows) == (50, True, 50)
    assert first.cold_load_seconds is not None  # loaded for this query
    second = hub.workspaces.query(researcher, project, "SELECT count(*) FROM condition_occurrence")
    assert second.rows() == [[1200]] and not second.truncated
    assert second.cold_load_seconds is None  # served by the loaded workspace
    assert audit_lines(hub, "workspace.query")[0]["details"]["truncated"] is True


def test_suspension_stops_queries_and_unloads(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project(tables=TABLES)
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)
    hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert [k[0] for k in hub.workspaces.loaded()] == [project]

    steward = sqlite_world.actor(sqlite_world.steward)
    hub.projects.suspend(steward, project, "Inquiry into a possible breach.")
    with pytest.raises(PermissionDenied, match="suspended"):
        hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert hub.workspaces.loaded() == []
    hub.projects.reinstate(steward, project, "Inquiry closed.")
    again = hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert again.rows() == [[200]] and again.cold_load_seconds is not None


def test_aggregate_only_applies_the_hub_policy_file(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[parameters]\nthreshold = 10\n\n[datasets."snds"]\nthreshold = 60\n')
    hub, world = new_world(make_settings(disclosure_policy_file=policy), clock)
    try:
        project = world.active_project(tables=TABLES, access_level="aggregate-only")
        researcher = world.actor(world.researcher, project, WHY)
        hub.workspaces.build(researcher, project)
        by_year = hub.workspaces.query(
            researcher, project, "SELECT year_of_birth, count(*) AS n FROM person GROUP BY 1"
        )
        assert by_year.threshold == 60  # the policy's, for this dataset, not the base 10
        assert all(n >= 60 for _, n in by_year.rows())
        # the threshold is kept between queries, but not past a change of the file
        policy.write_text('[parameters]\nthreshold = 10\n\n[datasets."snds"]\nthreshold = 100\n')
        again = hub.workspaces.query(
            researcher, project, "SELECT year_of_birth, count(*) AS n FROM person GROUP BY 1"
        )
        assert again.threshold == 100
        policy.unlink()  # a named policy file that is gone is an error, not a fallback
        with pytest.raises(ConfigError, match="policy file"):
            hub.workspaces.query(
                researcher, project, "SELECT gender_concept_id, count(*) FROM person GROUP BY 1"
            )
    finally:
        hub.workspaces.close()
        hub.close()
