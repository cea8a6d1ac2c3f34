"""A governed project, ready for work: a hub with a small lake, people holding their roles
(signed in with their second factor), a project taken to an active permit, its workspace
built, and output checkers seated.

Everything goes through the services a person would use (``World`` does the people and the
project); tests, benchmarks and the demo start from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from havre.core.actor import Actor
from havre.core.clock import Clock
from havre.core.config import Settings
from havre.governance.identity import Role
from havre.governance.identity.testing import Person
from havre.hub import Hub
from havre.scenarios.world import World, publish_version, synthetic_omop

TABLES: Mapping[str, Sequence[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth"],
    "condition_occurrence": [
        "person_id",
        "condition_occurrence_id",
        "condition_start_date",
        "condition_source_value",
    ],
}
CHECKER_NAMES = ("Chloé Checker", "Claude Checker", "Camille Checker")
WHY = "Describe the cohort for the approved protocol."


@dataclass
class GovernedProject:
    hub: Hub
    world: World
    project_id: str
    checkers: tuple[Person, ...]

    @property
    def lead(self) -> Person:
        return self.world.lead

    @property
    def researcher(self) -> Person:
        return self.world.researcher

    @property
    def steward(self) -> Person:
        return self.world.steward

    def actor(self, person: Person, justification: str | None = None) -> Actor:
        """``person`` acting for the project (their roles on it included)."""
        return self.world.actor(person, self.project_id, justification)


def governed_project(
    hub: Hub,
    *,
    persons: int = 200,
    seed: int = 7,
    tables: Mapping[str, Sequence[str]] | None = None,
    access_level: str = "row-level",
    checkers: int = 3,
    **application: Any,
) -> GovernedProject:
    """On an initialised hub: the cast seated, ``persons`` synthetic persons published as
    ``snds`` v1, a project of the lead and the researcher with an active permit
    (``application`` replaces fields of its data part), its workspace built by the
    researcher, and ``checkers`` hub-wide output checkers."""
    world = World.seat(hub.identity, hub.projects)
    publish_version(hub.lake, synthetic_omop(persons, seed))
    grant = {name: list(columns) for name, columns in (tables or TABLES).items()}
    project_id = world.active_project(tables=grant, access_level=access_level, **application)
    seated = tuple(
        world.people.person([(Role.CHECKER, None)], name=CHECKER_NAMES[i % len(CHECKER_NAMES)])
        for i in range(checkers)
    )
    hub.workspaces.build(world.actor(world.researcher, project_id, WHY), project_id)
    return GovernedProject(hub=hub, world=world, project_id=project_id, checkers=seated)


def new_governed_hub(
    settings: Settings, clock: Clock | None = None, **options: Any
) -> GovernedProject:
    """A fresh hub at ``settings.home`` with a governed project (see ``governed_project``)."""
    hub, _ = Hub.init(settings, clock=clock)
    try:
        return governed_project(hub, **options)
    except BaseException:
        hub.close()
        raise
