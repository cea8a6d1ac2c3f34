"""Project pseudonyms: compact, stable across refreshes, unlinkable across projects; date
offsets per person and per project."""

from __future__ import annotations

import datetime as dt
import math

from havre.governance.projects import workspace_key_name
from havre.hub import Hub
from havre.keys.parquet import ParquetCrypto
from havre.scenarios.world import hub_pseudonym, publish_version, synthetic_omop
from havre.workspace import registry
from havre.workspace.pseudonyms import ProjectSecrets

from .conftest import WHY, HubWorld

PERIOD_TABLES = {
    "person": ["person_id", "year_of_birth"],
    "condition_occurrence": ["person_id", "condition_occurrence_id", "condition_source_value"],
    "observation_period": ["person_id", "observation_period_start_date"],
}


def secrets_of(hub: Hub, project: str) -> ProjectSecrets:
    key, version = hub.keys.data_key(workspace_key_name(project), 1)
    return ProjectSecrets.derive(key, version, hub.settings.workspace_shift_days)


def mapping_of(hub: Hub, project: str) -> dict[str, int]:
    """Hub pseudonym → project pseudonym, read back from the encrypted workspace."""
    files = hub.workspaces.files
    with hub.db.transaction() as session:
        row = registry.current(session, project)
    assert row is not None
    manifest = files.read_manifest(row.path, row.manifest_sha256, project)
    crypto = ParquetCrypto(hub.keys)
    mapping = files.open_file(row.path, manifest.pseudonyms, crypto, project).read()
    by_key = dict(
        zip(
            mapping.column("project_key").to_pylist(),
            mapping.column("project_person_id").to_pylist(),
            strict=True,
        )
    )
    secrets = secrets_of(hub, project)
    found = {}
    for number in range(manifest.persons_mapped + 100):
        key = secrets.project_key_of(hub_pseudonym(number))
        if key in by_key:
            found[hub_pseudonym(number)] = by_key[key]
    assert len(found) == manifest.persons_mapped
    return found


def test_pseudonyms_are_compact_and_stable_across_refreshes(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project()
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)
    first = mapping_of(hub, project)
    assert sorted(first.values()) == list(range(1, 201))
    secrets = secrets_of(hub, project)
    by_hmac = sorted(first, key=secrets.project_key_of)
    assert [first[h] for h in by_hmac] == list(range(1, 201))  # numbered in HMAC order

    publish_version(hub.lake, synthetic_omop(260))
    hub.projects.refresh(sqlite_world.actor(sqlite_world.steward), project)
    hub.workspaces.refresh(researcher, project)
    second = mapping_of(hub, project)
    assert {h: second[h] for h in first} == first  # everyone keeps their number
    newcomers = sorted(set(second) - set(first), key=secrets.project_key_of)
    assert [second[h] for h in newcomers] == list(range(201, 261))


def test_two_projects_cannot_link_their_persons_or_records(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    projects = [sqlite_world.active_project(tables=PERIOD_TABLES) for _ in range(2)]
    columns = {}
    for project in projects:
        hub.workspaces.build(sqlite_world.actor(sqlite_world.researcher, project, WHY), project)
    maps = [mapping_of(hub, p) for p in projects]
    assert set(maps[0]) == set(maps[1])  # the same 200 persons in both
    # a join of the two workspaces on person_id pairs the same person only by chance
    same = sum(1 for h in maps[0] if maps[0][h] == maps[1][h])
    assert same <= 8, f"{same} persons share their project pseudonym (chance: about 1)"
    assert abs(_spearman([maps[0][h] for h in maps[0]], [maps[1][h] for h in maps[0]])) < 0.3

    for project, mapping in zip(projects, maps, strict=True):
        reverse = {number: h for h, number in mapping.items()}
        result = hub.workspaces.query(
            sqlite_world.actor(sqlite_world.researcher, project, WHY),
            project,
            "SELECT condition_occurrence_id, person_id FROM condition_occurrence",
        )
        columns[project] = {
            record: reverse[person]
            for record, person in result.rows()  # record id -> hub pseudonym
        }
    a, b = (columns[p] for p in projects)
    assert set(a) == set(b) == set(range(1, 1201))
    linked = sum(1 for record in a if a[record] == b[record])
    per_person: dict[str, int] = {}
    for owner in a.values():
        per_person[owner] = per_person.get(owner, 0) + 1
    chance = sum(n * n for n in per_person.values()) / len(a)
    assert linked <= chance + 5 * math.sqrt(chance) + 5, (linked, chance)


def test_dates_move_by_one_offset_per_person_and_project(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    projects = [sqlite_world.active_project(tables=PERIOD_TABLES) for _ in range(2)]
    offsets = []
    for project in projects:
        hub.workspaces.build(sqlite_world.actor(sqlite_world.researcher, project, WHY), project)
        mapping = mapping_of(hub, project)
        reverse = {number: h for h, number in mapping.items()}
        secrets = secrets_of(hub, project)
        rows = hub.workspaces.query(
            sqlite_world.actor(sqlite_world.researcher, project, WHY),
            project,
            "SELECT person_id, observation_period_start_date FROM observation_period",
        ).rows()
        shifts = {}
        for person, start in rows:
            shift = (start - dt.date(2015, 1, 1)).days
            hub_id = reverse[person]
            assert shift == secrets.shift_of(hub_id)  # the SQL agrees with the Python oracle
            assert 1 <= abs(shift) <= hub.settings.workspace_shift_days
            shifts[hub_id] = shift
        offsets.append(shifts)
    equal = sum(1 for h in offsets[0] if offsets[0][h] == offsets[1][h])
    assert equal <= 5, "two projects' offsets for the same person agree more than chance"


def _spearman(x: list[int], y: list[int]) -> float:
    n = len(x)
    rx = {v: i for i, v in enumerate(sorted(x))}
    ry = {v: i for i, v in enumerate(sorted(y))}
    d2 = sum((rx[a] - ry[b]) ** 2 for a, b in zip(x, y, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))
