"""A small world for tests, demos and benchmarks: an OMOP data version in the lake, people
seated, and a project taken to an active permit through the projects service (the hub,
a layer above, hands the services in).

Nothing in the hub calls this module. Everything goes through the same services a person
would use (the lake's version builder, identity, projects).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from havre.cdm.omop import omop_table
from havre.core.actor import Actor
from havre.core.clock import isoformat
from havre.governance.identity import IdentityService, Role
from havre.governance.identity.testing import People, Person
from havre.governance.projects import PROHIBITED_PURPOSES, ProjectService
from havre.lake import DataVersionInfo, Lake
from havre.lake.manifest import (
    ColumnInfo,
    Counts,
    Encryption,
    Lineage,
    Manifest,
    QuarantineInfo,
    Reconciliation,
    TableInfo,
)
from havre.lake.optout_link import OPTOUT_LINK, OPTOUT_LINK_SCHEMA

DEPARTEMENTS = ("14", "50", "61", "76", "27", "2A", "971")
CODES = ("E119", "E110", "I10", "I214", "J189", "C509", "F03", "N184", "E785", "K359")
DRUGS = ("A10BA02", "C09AA05", "C10AA05", "N02BE01", "B01AC06")


def hub_pseudonym(number: int) -> str:
    return hashlib.sha256(f"test-person-{number}".encode()).hexdigest()


def synthetic_omop(persons: int, seed: int = 7) -> dict[str, pa.Table]:
    """Deterministic OMOP tables (the lake's exact schemas) for ``persons`` persons."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, persons + 1, dtype=np.int64) * 7919 + 10**12
    years = rng.integers(1930, 2015, persons)
    communes = rng.integers(0, len(DEPARTEMENTS) * 3, persons)
    person: dict[str, Any] = {
        "person_id": ids,
        "gender_concept_id": rng.choice([8507, 8532], persons),
        "year_of_birth": years,
        "month_of_birth": rng.integers(1, 13, persons),
        "race_concept_id": np.zeros(persons, dtype=np.int64),
        "ethnicity_concept_id": np.zeros(persons, dtype=np.int64),
        "location_id": communes + 1,
        "gender_source_value": None,
        "hub_pseudonym": [hub_pseudonym(i) for i in range(persons)],
    }
    location: dict[str, Any] = {
        "location_id": np.arange(1, len(DEPARTEMENTS) * 3 + 1, dtype=np.int64),
        "county": [DEPARTEMENTS[i // 3] for i in range(len(DEPARTEMENTS) * 3)],
        "city": [f"Commune {i}" for i in range(len(DEPARTEMENTS) * 3)],
        "location_source_value": [
            f"{DEPARTEMENTS[i // 3]}{100 + i:03d}" for i in range(len(DEPARTEMENTS) * 3)
        ],
        "country_source_value": ["FR"] * (len(DEPARTEMENTS) * 3),
    }
    events = persons * 6
    owner = rng.integers(0, persons, events)
    start = np.datetime64("2018-01-01") + rng.integers(0, 6 * 365, events).astype("timedelta64[D]")
    visit_ids = np.arange(1, events + 1, dtype=np.int64) * 104729 + 5 * 10**12
    visits = {
        "visit_occurrence_id": visit_ids,
        "person_id": ids[owner],
        "visit_concept_id": rng.choice([9201, 9202], events),
        "visit_start_date": start,
        "visit_end_date": start + rng.integers(0, 5, events).astype("timedelta64[D]"),
        "visit_type_concept_id": np.full(events, 32810),
        "care_site_id": rng.integers(1, 6, events),
    }
    conditions = {
        "condition_occurrence_id": visit_ids + 1,
        "person_id": ids[owner],
        "condition_concept_id": np.zeros(events, dtype=np.int64),
        "condition_start_date": start,
        "condition_type_concept_id": np.full(events, 32810),
        "visit_occurrence_id": visit_ids,
        "condition_source_value": rng.choice(CODES, events),
    }
    drugs = {
        "drug_exposure_id": visit_ids + 2,
        "person_id": ids[owner],
        "drug_concept_id": np.zeros(events, dtype=np.int64),
        "drug_exposure_start_date": start,
        "drug_exposure_end_date": start,
        "drug_type_concept_id": np.full(events, 32810),
        "quantity": rng.integers(1, 4, events).astype(np.float64),
        "visit_occurrence_id": visit_ids,
        "drug_source_value": rng.choice(DRUGS, events),
    }
    periods = {
        "observation_period_id": ids + 3,
        "person_id": ids,
        "observation_period_start_date": np.full(persons, np.datetime64("2015-01-01")),
        "observation_period_end_date": np.full(persons, np.datetime64("2024-12-31")),
        "period_type_concept_id": np.full(persons, 32810),
    }
    dead = np.flatnonzero(rng.random(persons) < 0.1)
    death_days = rng.integers(0, 6 * 365, len(dead)).astype("timedelta64[D]")
    death = {
        "person_id": ids[dead],
        "death_date": np.datetime64("2018-01-01") + death_days,
        "death_type_concept_id": np.full(len(dead), 32815),
        "cause_source_value": rng.choice(CODES, len(dead)),
        "death_commune": [location["location_source_value"][communes[i]] for i in dead],
        "death_departement": [location["county"][communes[i]] for i in dead],
    }
    care_sites = {
        "care_site_id": np.arange(1, 6, dtype=np.int64),
        "care_site_source_value": [f"14000000{i}" for i in range(1, 6)],
        "place_of_service_source_value": ["hospital"] * 5,
    }
    given: dict[str, dict[str, Any]] = {
        "person": person,
        "location": location,
        "visit_occurrence": visits,
        "condition_occurrence": conditions,
        "drug_exposure": drugs,
        "observation_period": periods,
        "death": death,
        "care_site": care_sites,
    }
    return {name: omop_arrow(name, columns) for name, columns in given.items()}


def omop_arrow(name: str, columns: Mapping[str, Any]) -> pa.Table:
    """A table with the lake's exact schema; absent columns are empty."""
    spec = omop_table(name)
    length = len(next(iter(columns.values())))
    arrays = []
    for column in spec.columns:
        values = columns.get(column.name)
        if values is None:
            arrays.append(pa.nulls(length, column.arrow_type))
        else:
            arrays.append(pa.array(values).cast(column.arrow_type))
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def publish_version(
    lake: Lake,
    tables: Mapping[str, pa.Table],
    dataset: str = "snds",
    *,
    link: pa.Table | None = None,
) -> DataVersionInfo:
    """Publish ``tables`` as the next version of ``dataset`` (with identifier tags), and
    ``link`` as its ``optout_link`` table when given."""
    with lake.begin(dataset) as builder:
        infos = []
        for name, table in tables.items():
            spec = omop_table(name)
            files = builder.write_table(name, table.to_reader())
            columns = tuple(c.info() for c in spec.columns)
            infos.append(TableInfo(name=name, rows=table.num_rows, columns=columns, files=files))
        if link is not None:
            files = builder.write_table(OPTOUT_LINK, link.cast(OPTOUT_LINK_SCHEMA).to_reader())
            columns = tuple(ColumnInfo(name=f.name, type=str(f.type)) for f in OPTOUT_LINK_SCHEMA)
            infos.append(
                TableInfo(name=OPTOUT_LINK, rows=link.num_rows, columns=columns, files=files)
            )
        counts = Counts(read=1, loaded=1)
        manifest = Manifest(
            dataset=dataset,
            version=builder.version,
            created_at=isoformat(lake.clock.now()),
            created_by="operator:test",
            encryption=Encryption(key=builder.key_name, key_version=builder.key_version),
            tables=tuple(infos),
            quarantine=QuarantineInfo(
                rows=0,
                by_reason={},
                files=(),
                encryption=Encryption(
                    key=builder.quarantine_key_name, key_version=builder.quarantine_key_version
                ),
            ),
            reconciliation=Reconciliation(tables={"test": counts}, total=counts),
            lineage=Lineage(
                source_kind="test",
                source_name="test",
                delivery_sha256=hashlib.sha256(str(builder.version).encode()).hexdigest(),
                source_files=(),
                steps=("written by havre.scenarios.world",),
                software={},
                pseudonym_scheme={"label": "test"},
            ),
        )
        with lake.db.transaction() as session:
            return builder.publish(session, manifest)


def application(team: list[str], **data: Any) -> dict[str, Any]:
    """A complete application; ``data`` replaces fields of its ``data`` part, and
    ``access_level`` the access level."""
    access = data.pop("access_level", "row-level")
    request: dict[str, Any] = {
        "dataset": "snds",
        "tables": {
            "person": ["person_id", "gender_concept_id", "year_of_birth"],
            "condition_occurrence": [
                "person_id",
                "condition_occurrence_id",
                "condition_start_date",
                "condition_source_value",
            ],
        },
        "period": {"start": "2018-01-01", "end": "2023-12-31"},
        "population": {},
        "potential_identifiers": [],
        "date_policy": "shifted",
    }
    request.update(data)
    return {
        "title": "Type 2 diabetes and chronic kidney disease in Normandy",
        "public_summary": "How often people with type 2 diabetes develop kidney disease.",
        "purpose": "Describe the incidence of chronic kidney disease after type 2 diabetes.",
        "public_interest": "Guide screening for kidney disease in primary care.",
        "controller": "Université de Rouen Normandie",
        "lead_organisation": "CHU de Rouen",
        "team": [{"user": user, "role": "researcher"} for user in team],
        "funding": [{"funder": "Agence nationale de la recherche", "reference": "ANR-26-0001"}],
        "declaration_of_interests": "None declared.",
        "legal_route": {"kind": "cnil_authorisation"},
        "data": request,
        "access_level": access,
        "duration_months": 12,
        "excluded_purposes": list(PROHIBITED_PURPOSES),
    }


@dataclass
class World:
    """People of a project's life on one hub, and the services that move a project."""

    identity: IdentityService
    projects: ProjectService
    people: People
    lead: Person
    researcher: Person
    outsider: Person
    steward: Person
    steward2: Person
    reviewer: Person

    @classmethod
    def seat(cls, identity: IdentityService, projects: ProjectService) -> World:
        people = People(identity)
        people.admin()
        return cls(
            identity=identity,
            projects=projects,
            people=people,
            lead=people.person(name="Léa Lead"),
            researcher=people.person(name="Rémi Researcher"),
            outsider=people.person(name="Otto Outsider"),
            steward=people.person([(Role.DATA_STEWARD, None)], name="Sam Steward"),
            steward2=people.person([(Role.DATA_STEWARD, None)], name="Sacha Steward"),
            reviewer=people.person([(Role.REVIEWER, None)], name="Rose Reviewer"),
        )

    def actor(
        self, person: Person, project_id: str | None = None, justification: str | None = None
    ) -> Actor:
        return self.people.actor(person, project_id, justification)

    def active_project(self, members: list[Person] | None = None, **data: Any) -> str:
        """A project of the lead and ``members`` (default: the researcher), taken to an
        active permit."""
        projects = self.projects
        team = [self.researcher] if members is None else members
        doc = application([p.user_id for p in team], **data)
        project_id = projects.create(self.actor(self.lead), doc)
        projects.submit(self.actor(self.lead, project_id), project_id)
        projects.check_completeness(self.actor(self.steward), project_id, True)
        projects.give_opinion(self.actor(self.reviewer), project_id, "favourable", "Sound.")
        projects.decide(
            self.actor(self.steward2),
            project_id,
            "authorised",
            reference="DR-2027-001",
            decided_on=self.identity.now().date(),
        )
        projects.issue(self.actor(self.steward), project_id)
        projects.activate(self.actor(self.steward2), project_id)
        return project_id
