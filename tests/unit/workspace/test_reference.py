"""The public reference tables of the sandbox (ref_commune, ref_departement): joined to the
extract in both access levels; they bear no person, so an aggregate-only query still counts
persons from the extract, and a query over them alone is not an aggregate of persons."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from havre.core.errors import HavreError
from havre.workspace.reference import REF_COMMUNE, REF_DEPARTEMENT, reference_tables

from .conftest import WHY, HubWorld, audit_lines

TABLES = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "location_id"],
    "location": ["location_id", "location_source_value", "county"],
}
IDENTIFIERS = [
    {"kind": "commune", "justification": "Rurality is a property of the commune of residence."}
]

# persons by commune, with its rurality and deprivation from the public reference table
BY_COMMUNE = """
SELECT r.name, r.rural, r.deprivation_quintile, count(DISTINCT p.person_id) AS persons
FROM person p
JOIN location l ON l.location_id = p.location_id
JOIN ref_commune r ON r.code_commune = l.location_source_value
GROUP BY ALL
ORDER BY ALL
"""
BY_REGION = """
SELECT d.code_region, count(*) AS persons
FROM person p
JOIN location l ON l.location_id = p.location_id
JOIN ref_departement d ON d.code_departement = l.county
GROUP BY ALL
ORDER BY ALL
"""


def _project(world: HubWorld, access_level: str) -> str:
    project = world.active_project(
        tables=TABLES,
        access_level=access_level,
        potential_identifiers=IDENTIFIERS,
        period={"start": "2015-01-01", "end": "2024-12-31"},
    )
    world.hub.workspaces.build(world.actor(world.researcher, project, WHY), project)
    return project


def test_reference_tables_hold_places_not_persons() -> None:
    tables = reference_tables()
    assert set(tables) == {REF_COMMUNE, REF_DEPARTEMENT}
    for table in tables.values():
        assert table.num_rows > 90
        assert not any("person" in name for name in table.column_names)
    communes = tables[REF_COMMUNE]
    assert communes.column("code_commune").null_count == 0
    for table in tables.values():  # every place's region has a name
        assert table.column("region_name").null_count == 0
    named = dict(
        zip(
            tables[REF_DEPARTEMENT].column("code_departement").to_pylist(),
            tables[REF_DEPARTEMENT].column("region_name").to_pylist(),
            strict=True,
        )
    )
    assert (named["76"], named["13"], named["974"]) == (
        "Normandie",
        "Provence-Alpes-Côte d'Azur",
        "La Réunion",
    )
    rouen = communes.filter(pc.field("code_commune") == "76540").to_pylist()
    assert [(c["name"], c["region_name"]) for c in rouen] == [("Rouen", "Normandie")]
    assert set(communes.column("rural").unique().to_pylist()) <= {True, False, None}


def test_joins_in_both_access_levels_and_aggregates_count_persons(
    sqlite_world: HubWorld,
) -> None:
    hub = sqlite_world.hub
    rows_project = _project(sqlite_world, "row-level")
    aggregate_project = _project(sqlite_world, "aggregate-only")
    rows_actor = sqlite_world.actor(sqlite_world.researcher, rows_project, WHY)
    aggregate_actor = sqlite_world.actor(sqlite_world.researcher, aggregate_project, WHY)

    withheld = {}
    for sql in (BY_COMMUNE, BY_REGION):
        full = hub.workspaces.query(rows_actor, rows_project, sql)
        counted = {tuple(row[:-1]): row[-1] for row in full.rows()}
        # the synthetic lake has 21 places, 14 of them real communes: the join finds persons
        assert 0 < sum(counted.values()) <= 200
        assert full.suppressed_rows == 0 and full.threshold is None

        checked = hub.workspaces.query(aggregate_actor, aggregate_project, sql)
        assert checked.columns == full.columns  # the persons column is not shown
        kept = {tuple(row[:-1]): row[-1] for row in checked.rows()}
        # both extracts hold the same persons (their pseudonyms differ, not their counts): the
        # aggregate-only result is the row-level one without groups of fewer than 10 persons,
        # persons of the extract (a reference row stands for none)
        assert checked.threshold == 10
        assert kept == {key: n for key, n in counted.items() if n >= 10}
        assert checked.suppressed_rows == sum(1 for n in counted.values() if n < 10)
        withheld[sql] = checked.suppressed_rows
    assert withheld[BY_COMMUNE] > 0  # some 14 communes for 200 persons: some are small


def test_a_reference_table_alone_is_not_an_aggregate_of_persons(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = _project(sqlite_world, "aggregate-only")
    actor = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    with pytest.raises(HavreError):
        hub.workspaces.query(
            actor, project, "SELECT code_departement, count(*) AS n FROM ref_commune GROUP BY 1"
        )
    assert audit_lines(hub, "workspace.query")[-1]["outcome"] in {"denied", "error"}


def test_reference_tables_are_read_only(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = _project(sqlite_world, "row-level")
    actor = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    with pytest.raises(HavreError):
        hub.workspaces.query(actor, project, "DELETE FROM ref_commune")
    after = hub.workspaces.query(actor, project, "SELECT count(*) AS n FROM ref_commune")
    assert [list(row) for row in after.rows()] == [[reference_tables()[REF_COMMUNE].num_rows]]
