"""End to end: an ingested data version carries its link to the opt-out register, so a person
who objects after the ingest is left out of the next workspace build — without the lake
holding any identifier."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.hub import Hub
from havre.lake.optout_link import OPTOUT_LINK
from havre.pseudo import Pseudonymizer
from havre.pseudo.scheme import SchemeId
from havre.scenarios.world import World
from havre.synth import SynthOptions, generate

from .conftest import WHY

OPERATOR = Actor.operator("delivery from the insurer")


@pytest.fixture
def ingested(
    make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[Hub, World, Path]]:
    out = tmp_path / "synth"
    generate(SynthOptions(persons=120, seed=11, out=out, formats=("snds",)))
    hub, _ = Hub.init(make_settings(), clock=clock)
    try:
        hub.optouts.import_file(OPERATOR, out / "optout" / "optout.csv")
        hub.ingest.ingest(OPERATOR, out / "snds", "snds")
        yield hub, World.seat(hub.identity, hub.projects), out
    finally:
        hub.workspaces.close()
        hub.close()


def _loaded_nirs(out: Path) -> list[str]:
    """NIRs of the beneficiaries the lake holds (the delivery is clean: all but objectors)."""
    with (out / "optout" / "optout.csv").open(newline="") as handle:
        objected = {row[0][:13] for row in csv.reader(handle) if row and row[0][:1].isdigit()}
    (path,) = (out / "snds").glob("IR_BEN_R*")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return sorted({r["BEN_NIR"] for r in rows if r["BEN_NIR"][:13] not in objected})


def test_the_ingested_link_names_each_person_under_the_register_key(
    ingested: tuple[Hub, World, Path],
) -> None:
    hub, _, out = ingested
    version = hub.lake.open("snds")
    link = version.read(OPTOUT_LINK, ["person_id", "scheme", "key_version", "subject_key"])
    persons = version.read("person", ["person_id"])
    assert set(link.column("person_id").to_pylist()) == set(persons.column("person_id").to_pylist())
    assert set(link.column("scheme").to_pylist()) == {SchemeId.OPTOUT_NIR.value}
    pseudo = Pseudonymizer(hub.keys)
    scheme = pseudo.scheme(SchemeId.OPTOUT_NIR)
    keys = set(link.column("subject_key").to_pylist())
    nirs = [nir[:13] for nir in _loaded_nirs(out)]
    assert {pseudo.pseudonym(scheme, nir) for nir in nirs} <= keys
    assert not any(nir in key for nir in nirs for key in keys)  # keyed hashes, no NIR


def test_an_objection_after_the_ingest_leaves_the_person_out_of_the_refresh(
    ingested: tuple[Hub, World, Path],
) -> None:
    hub, world, out = ingested
    project = world.active_project()
    researcher = world.actor(world.researcher, project, WHY)
    first = hub.workspaces.build(researcher, project)
    assert first.optouts_checked and first.objectors_removed == 0
    hub.optouts.add(Actor.operator("objection by letter"), _loaded_nirs(out)[0])
    second = hub.workspaces.refresh(researcher, project)
    assert second.objectors_removed >= 1
    assert second.persons == first.persons - second.objectors_removed
