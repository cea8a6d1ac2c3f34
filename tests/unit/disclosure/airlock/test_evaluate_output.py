"""The workspace's door for the airlock (``WorkspaceService.evaluate_output``): person-level
rows for the airlock only, under the same permit, screening and limits as a query, with an
audit entry of its own; a person column that is not a person is refused; a result past the
row limit is refused, never truncated. An aggregate-only permit gets its outputs checked
without ever seeing a row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.core.errors import ConfigError, PermissionDenied, UsageError
from havre.core.hashing import sha256_text
from havre.disclosure.airlock import Airlock
from havre.scenarios.governed import GovernedProject, new_governed_hub
from havre.workspace.outputs import OutputRows
from havre.workspace.screen import QueryRefused

from .conftest import BY_SEX, WHY, as_, audit_lines, count_by_sex, researcher, spec

CONDITIONS = "SELECT person_id, condition_source_value AS code FROM condition_occurrence"
POLICY = """
name = "hub-policy"
[parameters]
threshold = 10
[datasets."snds"]
threshold = 12
"""


@pytest.fixture
def aggregate_only(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> Iterator[GovernedProject]:
    """An aggregate-only permit on a hub with its own policy file and a low row limit."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    settings = make_settings(release_max_rows=500, disclosure_policy_file=policy)
    made = new_governed_hub(settings, clock, access_level="aggregate-only")
    try:
        yield made
    finally:
        made.hub.workspaces.close()
        made.hub.close()


def test_the_door_for_the_airlock(aggregate_only: GovernedProject) -> None:
    g = aggregate_only
    ws = g.hub.workspaces

    def run(sql: str, person: str = "person_id", actor: object = None) -> OutputRows:
        return ws.evaluate_output(
            actor or researcher(g),  # type: ignore[arg-type]
            g.project_id,
            sql,
            person_column=person,
            request_id="rel_test",
            output_name="by_sex",
        )

    with pytest.raises(QueryRefused, match="not a workspace table's person_id"):
        run(
            "SELECT condition_occurrence_id AS person_id, condition_source_value AS code "
            "FROM condition_occurrence"
        )
    with pytest.raises(QueryRefused, match="not a workspace table's person_id"):
        run("SELECT year_of_birth AS pid, gender_concept_id FROM person", person="pid")
    with pytest.raises(UsageError, match="more than 500 rows"):
        run(CONDITIONS)
    with pytest.raises(QueryRefused):
        run("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(UsageError, match="justification"):
        run(BY_SEX, actor=as_(g, g.researcher))
    with pytest.raises(PermissionDenied, match="not a named person"):
        run(BY_SEX, actor=as_(g, g.world.outsider, WHY))
    with pytest.raises(PermissionDenied, match="not a named person"):
        run(BY_SEX, actor=as_(g, g.checkers[0], WHY))
    outcomes = [e["outcome"] for e in audit_lines(g.hub, "workspace.evaluate")]
    assert outcomes == ["denied", "denied", "error", "denied", "denied", "denied", "denied"]

    # the researcher cannot see these rows...
    with pytest.raises(QueryRefused, match="aggregate results only"):
        ws.query(researcher(g), g.project_id, BY_SEX)
    # ...the airlock can compute from them
    rows = run(BY_SEX)
    assert rows.table.num_rows == 200 and rows.table.column_names == ["person_id", "sex"]
    assert (rows.dataset, rows.data_version, rows.workspace_version) == ("snds", 1, 1)
    assert rows.sql_sha256 == sha256_text(BY_SEX)
    assert ws.journal(g.project_id).text(rows.sql_sha256) == BY_SEX  # for the provenance
    entry = audit_lines(g.hub, "workspace.evaluate")[-1]
    assert entry["outcome"] == "ok"
    assert entry["details"]["rows"] == 200 and entry["details"]["request_id"] == "rel_test"
    assert entry["details"]["access_level"] == "aggregate-only"
    assert "sql" not in entry["details"]

    # through the airlock, a refusal reaches the requester and the request is not created
    airlock = g.hub.airlock
    with pytest.raises(UsageError, match="more than 500 rows"):
        airlock.request(
            researcher(g),
            g.project_id,
            spec({"name": "codes", "kind": "count", "sql": CONDITIONS, "dims": ["code"]}),
        )
    assert airlock.list_requests(researcher(g)) == []
    assert audit_lines(g.hub, "release.create")[-1]["outcome"] == "error"

    # the checked table is what the researcher gets, under the hub's policy file
    view = airlock.request(researcher(g), g.project_id, spec(count_by_sex()))
    report = view.output("by_sex").report
    assert view.output("by_sex").status == "pass"
    assert report["policy"]["name"] == "hub-policy+dataset:snds"
    assert report["parameters"]["threshold"] == 12

    # a policy file that is not there is an error, not the built-in policy
    hub = g.hub
    missing = hub.settings.model_copy(update={"disclosure_policy_file": Path("/no/policy.toml")})
    broken = Airlock(
        missing, hub.db, hub.audit, hub.keys, hub.projects.permits, hub.identity, hub.workspaces
    )
    with pytest.raises(ConfigError, match="does not exist"):
        broken.request(researcher(g), g.project_id, spec(count_by_sex()))
