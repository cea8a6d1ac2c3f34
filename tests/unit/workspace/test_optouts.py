"""Persons who object after the ingest are removed at the next build or refresh, through the
data version's link to the opt-out register."""

from __future__ import annotations

import pyarrow as pa

from havre.core.actor import Actor
from havre.pseudo import Pseudonymizer
from havre.pseudo.scheme import SchemeId
from havre.scenarios.world import publish_version, synthetic_omop

from .conftest import WHY, HubWorld


def nir(body: str) -> str:
    return body + f"{97 - int(body) % 97:02d}"


def test_an_objection_removes_the_person_at_refresh(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    pseudonymizer = Pseudonymizer(hub.keys)
    scheme = pseudonymizer.scheme(SchemeId.OPTOUT_NIR)
    tables = synthetic_omop(200)
    lake_ids = tables["person"].column("person_id").to_pylist()
    nirs = [nir(f"18412764{51000 + i:05d}") for i in range(200)]
    link = pa.table(
        {
            "person_id": lake_ids,
            "scheme": [scheme.scheme_id.value] * 200,
            "key_version": [scheme.key_version] * 200,
            "subject_key": [pseudonymizer.pseudonym(scheme, n[:13]) for n in nirs],
        }
    )
    publish_version(hub.lake, tables, link=link)
    project = sqlite_world.active_project()
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    first = hub.workspaces.build(researcher, project)
    assert first.optouts_checked and first.persons == 200 and first.objectors_removed == 0
    assert "optout_link" not in {t.name for t in first.tables}

    hub.optouts.add(Actor.operator("objection by letter"), nirs[5])
    second = hub.workspaces.refresh(researcher, project)
    assert second.persons == 199 and second.objectors_removed == 1
    remaining = hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert remaining.rows() == [[199]]
    status = hub.workspaces.status(researcher, project)
    assert status.optouts["checked"] and status.optouts["register_entries"] == 1
