"""Project tests: a hub per governance store (SQLite and PostgreSQL) on a hand-moved clock,
people seated through the identity service, and a small catalog."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.db.models import metadata
from havre.governance.identity import Role, passwords
from havre.governance.identity.testing import FAST_TEST_HASHER, People, Person
from havre.governance.projects import (
    PROHIBITED_PURPOSES,
    CatalogVersion,
    IdentifierKind,
    ProjectService,
)
from havre.governance.projects.catalog import TableColumns
from havre.hub import Hub

TEMPLATE = pytest.StashKey["Template"]()
ORIGINAL_HASHER = passwords.HASHER
START = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
POSTGRES_ADMIN_URL = os.environ.get(
    "HAVRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
K = IdentifierKind
# for tests whose subject does not depend on the governance store
SQLITE_ONLY = pytest.mark.parametrize("phub", ["sqlite"], indirect=True)

# A small OMOP-shaped catalog: two versions of "snds" (v2 adds the death table).
TABLES_V1: TableColumns = {
    "person": {
        "person_id": None,
        "gender_concept_id": None,
        "year_of_birth": None,
        "month_of_birth": K.BIRTH_MONTH,
        "location_id": K.COMMUNE,
    },
    "condition_occurrence": {
        "condition_occurrence_id": None,
        "person_id": None,
        "condition_start_date": K.EXACT_DATE,
        "condition_source_value": None,
    },
    "location": {"location_id": None, "county": None, "city": K.COMMUNE},
}
TABLES_V2: TableColumns = {
    **TABLES_V1,
    "death": {"person_id": None, "death_date": K.DEATH_DATE, "death_commune": K.DEATH_COMMUNE},
}


class FakeCatalog:
    def __init__(self) -> None:
        self.data: dict[str, list[tuple[CatalogVersion, TableColumns]]] = {
            "snds": [
                (CatalogVersion("dv_snds_1", "snds", 1), TABLES_V1),
                (CatalogVersion("dv_snds_2", "snds", 2), TABLES_V2),
            ]
        }

    def publish(self, dataset: str, tables: TableColumns) -> CatalogVersion:
        versions = self.data.setdefault(dataset, [])
        made = CatalogVersion(f"dv_{dataset}_{len(versions) + 1}", dataset, len(versions) + 1)
        versions.append((made, tables))
        return made

    def versions(self, dataset: str) -> list[CatalogVersion]:
        return [v for v, _ in self.data.get(dataset, [])]

    def columns(self, dataset: str, version: int) -> TableColumns:
        return next(t for v, t in self.data[dataset] if v.version == version)


def application(team: list[str] | tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """A complete application; ``overrides`` replace top-level fields (None removes one)."""
    doc: dict[str, Any] = {
        "title": "Type 2 diabetes and chronic kidney disease in Normandy",
        "public_summary": "How often people with type 2 diabetes develop kidney disease, "
        "and whether this differs between territories.",
        "purpose": "Describe the incidence of chronic kidney disease after a diagnosis of "
        "type 2 diabetes, by age, sex and département.",
        "public_interest": "Guide screening for kidney disease in primary care.",
        "controller": "Université de Rouen Normandie",
        "lead_organisation": "CHU de Rouen",
        "team": [{"user": user, "role": "researcher"} for user in team],
        "funding": [{"funder": "Agence nationale de la recherche", "reference": "ANR-26-0001"}],
        "declaration_of_interests": "None declared.",
        "legal_route": {"kind": "cnil_authorisation"},
        "data": {
            "dataset": "snds",
            "tables": {
                "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth"],
                "condition_occurrence": [
                    "person_id",
                    "condition_start_date",
                    "condition_source_value",
                ],
            },
            "period": {"start": "2018-01-01", "end": "2023-12-31"},
            "population": {"age_min": 40, "age_max": 80, "conditions": ["E11"]},
            "potential_identifiers": [
                {
                    "kind": "birth_month",
                    "justification": "Age at diagnosis to the month for the incidence model.",
                }
            ],
            "date_policy": "shifted",
        },
        "access_level": "row-level",
        "duration_months": 24,
        "excluded_purposes": list(PROHIBITED_PURPOSES),
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", FAST_TEST_HASHER)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@dataclass
class Template:
    home: Path
    url: str
    persons: dict[str, Person]
    admins: list[Person]
    next_step: dict[str, int]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [dict(r._mapping) for r in connection.execute(table.select())]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _reset(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Put a PostgreSQL database back as the template left it: far quicker than creating a
    database per test. The audit tables' append-only triggers are bypassed for this one
    transaction only (a superuser's replication role), as a restore would."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            for table in metadata.sorted_tables:
                if rows[table.name]:
                    connection.execute(table.insert(), rows[table.name])
    finally:
        engine.dispose()


def _seat_cast(hub: Hub) -> tuple[dict[str, Person], People]:
    people = People(hub.identity)
    persons = {
        "admin": people.admin(),
        "lead": people.person(name="Léa Lead"),
        "researcher": people.person(name="Rémi Researcher"),
        "steward": people.person([(Role.DATA_STEWARD, None)], name="Sam Steward"),
        "steward2": people.person([(Role.DATA_STEWARD, None)], name="Sacha Steward"),
        "reviewer": people.person([(Role.REVIEWER, None)], name="Rose Reviewer"),
        "outsider": people.person(name="Otto Outsider"),
    }
    return persons, people


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Template]]:
    """One hub per governance store with the cast already seated, cloned for each test
    (seating people costs more than the project work a test does)."""
    made: dict[str, Template] = {}
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        # the cheap hasher only while seating the cast: a session fixture must not leave it in
        # place for the tests that check the real argon2id cost and timing
        passwords.HASHER = FAST_TEST_HASHER
        for kind in ("sqlite", "postgresql"):
            home = tmp_path_factory.mktemp(f"projects-template-{kind}") / "home"
            url = f"sqlite:///{home / 'havre.db'}"
            if kind == "postgresql":
                name = f"havre_ptpl_{uuid.uuid4().hex[:12]}"
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
            template, _ = Hub.init(
                load_settings(home=home, database_url=url), clock=FixedClock(START)
            )
            persons, people = _seat_cast(template)
            template.close()
            made[kind] = Template(home, url, persons, list(people._admins), dict(people._next_step))
            if kind == "postgresql":
                made[kind].rows = _snapshot(url)
        passwords.HASHER = ORIGINAL_HASHER
        yield made
    finally:
        passwords.HASHER = ORIGINAL_HASHER
        if "postgresql" in made:
            dropped = make_url(made["postgresql"].url).database
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{dropped}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def phub(
    request: pytest.FixtureRequest,
    _templates: dict[str, Template],
    tmp_path: Path,
    clock: FixedClock,
) -> Iterator[Hub]:
    """A fresh hub on both governance stores, on a hand-moved clock."""
    made = _templates[request.param]
    template_home, template_url = made.home, made.url
    request.node.stash[TEMPLATE] = made
    home = tmp_path / "havre-home"
    shutil.copytree(template_home, home)
    url = f"sqlite:///{home / 'havre.db'}"
    if request.param == "postgresql":
        url = template_url  # one database, reset to the template's rows before each test
        _reset(url, made.rows)
    opened = Hub.open(load_settings(home=home, database_url=url), clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def projects(phub: Hub, catalog: FakeCatalog) -> ProjectService:
    return ProjectService(phub.db, phub.audit, phub.keys, phub.identity, catalog, phub.clock)


@dataclass
class Cast:
    """The people of a project's life, seated through the identity service."""

    people: People
    admin: Person
    lead: Person
    researcher: Person
    steward: Person
    steward2: Person
    reviewer: Person
    outsider: Person

    def actor(self, person: Person, project: str | None = None) -> Actor:
        return self.people.actor(person, project)


@pytest.fixture
def cast(phub: Hub, request: pytest.FixtureRequest) -> Cast:
    made = request.node.stash[TEMPLATE]
    people = People(phub.identity)
    # the people were seated in the template this hub was cloned from
    people._admins = [copy.copy(p) for p in made.admins]
    people._next_step = dict(made.next_step)
    persons = {name: copy.copy(p) for name, p in made.persons.items()}
    persons["admin"] = people._admins[0]
    return Cast(people=people, **persons)


AuditLines = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def audit_lines(phub: Hub) -> AuditLines:
    """The audit entries so far (optionally of one action), oldest first."""

    def read(action: str | None = None) -> list[dict[str, Any]]:
        with phub.db.transaction() as session:
            query = select(AuditEntryRow).order_by(AuditEntryRow.seq)
            if action is not None:
                query = query.where(AuditEntryRow.action == action)
            return [
                {
                    "action": row.action,
                    "outcome": row.outcome,
                    "reason": row.reason,
                    "details": json.loads(row.details),
                    "actor": row.actor_user_id,
                    "target": row.target_id,
                    "project": row.project_id,
                    "justification": row.justification,
                }
                for row in session.execute(query).scalars()
            ]

    return read


ORDER = (
    "draft",
    "submitted",
    "in_review",
    "awaiting_authorisation",
    "authorised",
    "permit_issued",
    "active",
)
DECIDED_ON = START.date()


class Flow:
    """Moves a project along the review path with the cast's usual people."""

    def __init__(self, projects: ProjectService, cast: Cast) -> None:
        self.projects = projects
        self.cast = cast

    def create(self, team: list[str] | None = None, **overrides: Any) -> str:
        members = [self.cast.researcher.user_id] if team is None else team
        doc = application(members, **overrides)
        return self.projects.create(self.cast.actor(self.cast.lead), doc)

    def step(self, project_id: str, status: str) -> None:
        """Take the one step that leads from the state before ``status`` to it."""
        c, p = self.cast, self.projects
        if status == "submitted":
            p.submit(c.actor(c.lead, project_id), project_id)
        elif status == "in_review":
            p.check_completeness(c.actor(c.steward), project_id, True)
        elif status == "awaiting_authorisation":
            p.give_opinion(c.actor(c.reviewer), project_id, "favourable", "Sound and minimal.")
        elif status == "authorised":
            p.decide(
                c.actor(c.steward2),
                project_id,
                "authorised",
                reference="DR-2027-042",
                decided_on=DECIDED_ON,
            )
        elif status == "permit_issued":
            p.issue(c.actor(c.steward), project_id)
        elif status == "active":
            p.activate(c.actor(c.steward2), project_id)
        else:
            raise ValueError(status)

    def to(self, project_id: str, status: str, start: str = "draft") -> str:
        for next_status in ORDER[ORDER.index(start) + 1 : ORDER.index(status) + 1]:
            self.step(project_id, next_status)
        return project_id

    def active(self, **overrides: Any) -> str:
        return self.to(self.create(**overrides), "active")


@pytest.fixture
def flow(projects: ProjectService, cast: Cast) -> Flow:
    return Flow(projects, cast)
