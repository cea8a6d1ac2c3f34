"""Workspace tests: a hub with a small OMOP data version and people seated, on a clock moved
by hand; a project with an active permit when asked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from havre.audit.models import AuditEntryRow
from havre.core.clock import Clock, FixedClock
from havre.core.config import Settings
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER
from havre.hub import Hub
from havre.scenarios.world import World, publish_version, synthetic_omop

START = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
WHY = "Describe the cohort for the approved protocol."


@dataclass
class HubWorld(World):
    """The cast, with the hub they act on."""

    hub: Hub


def new_world(settings: Settings, clock: Clock, *, persons: int = 200) -> tuple[Hub, HubWorld]:
    """A fresh hub with ``persons`` synthetic persons in ``snds`` v1 and the cast seated."""
    hub, _ = Hub.init(settings, clock=clock)
    seated = World.seat(hub.identity, hub.projects)
    publish_version(hub.lake, synthetic_omop(persons))
    return hub, HubWorld(**vars(seated), hub=hub)


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", FAST_TEST_HASHER)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def world(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock
) -> Iterator[HubWorld]:
    """On SQLite and on PostgreSQL."""
    hub, made = new_world(make_settings(database_url=database_url), clock)
    try:
        yield made
    finally:
        hub.workspaces.close()
        hub.close()


@pytest.fixture
def sqlite_world(make_settings: Callable[..., Settings], clock: FixedClock) -> Iterator[HubWorld]:
    hub, made = new_world(make_settings(), clock)
    try:
        yield made
    finally:
        hub.workspaces.close()
        hub.close()


def audit_lines(hub: Hub, action: str | None = None) -> list[dict[str, Any]]:
    with hub.db.transaction() as session:
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
                "project": row.project_id,
                "justification": row.justification,
            }
            for row in session.execute(query).scalars()
        ]
