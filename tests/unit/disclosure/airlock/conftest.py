"""Airlock tests: a governed project (lake, people, active permit, built workspace, three
checkers) on a clock moved by hand, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.disclosure.airlock import ReleaseSpec, parse_release_spec
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER, Person
from havre.hub import Hub
from havre.scenarios.governed import GovernedProject, new_governed_hub

START = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
WHY = "Tables for the paper on chronic kidney disease after type 2 diabetes."
# a PNG header is all the airlock reads of a figure; the checker looks at the rest
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(32)

BY_SEX = "SELECT person_id, gender_concept_id AS sex FROM person"
BY_SEX_CODE = (
    "SELECT p.person_id, p.gender_concept_id AS sex, c.condition_source_value AS code "
    "FROM person p JOIN condition_occurrence c ON c.person_id = p.person_id"
)
AGE = "SELECT person_id, gender_concept_id AS sex, 2020 - year_of_birth AS age FROM person"


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", FAST_TEST_HASHER)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def _governed(settings: Settings, clock: FixedClock) -> Iterator[GovernedProject]:
    made = new_governed_hub(settings, clock)
    try:
        yield made
    finally:
        made.hub.workspaces.close()
        made.hub.close()


@pytest.fixture
def governed(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock
) -> Iterator[GovernedProject]:
    """On SQLite and on PostgreSQL."""
    yield from _governed(make_settings(database_url=database_url), clock)


@pytest.fixture
def sqlite_governed(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> Iterator[GovernedProject]:
    yield from _governed(make_settings(), clock)


def spec(*outputs: dict[str, Any], context: str = "Paper, tables 1-3") -> ReleaseSpec:
    return parse_release_spec({"context": context, "outputs": list(outputs)})


def count_by_sex(name: str = "by_sex", sql: str = BY_SEX, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "count", "sql": sql, "dims": ["sex"], **more}


def researcher(g: GovernedProject) -> Actor:
    return g.actor(g.researcher, WHY)


def as_(g: GovernedProject, person: Person, justification: str | None = None) -> Actor:
    return g.actor(person, justification)


def audit_lines(hub: Hub, prefix: str | None = None) -> list[dict[str, Any]]:
    with hub.db.transaction() as session:
        query = select(AuditEntryRow).order_by(AuditEntryRow.seq)
        rows = list(session.execute(query).scalars())
    return [
        {
            "action": row.action,
            "outcome": row.outcome,
            "reason": row.reason,
            "details": json.loads(row.details),
            "actor": row.actor_user_id,
            "target": row.target_id,
        }
        for row in rows
        if prefix is None or row.action.startswith(prefix)
    ]


def approve_by_two(g: GovernedProject, request_id: str) -> None:
    """Submitted → reviewed → approved by the first two checkers."""
    airlock = g.hub.airlock
    first, second = g.checkers[0], g.checkers[1]
    airlock.review(as_(g, first), request_id, "approve")
    airlock.review(as_(g, second), request_id, "approve")
    airlock.approve(as_(g, first), request_id)
