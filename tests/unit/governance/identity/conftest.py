"""Identity tests: a hub with a clock moved by hand, on SQLite and PostgreSQL, with argon2 at
its cheapest (the real cost is checked in tests/security)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER, People
from havre.hub import Hub

START = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)
POSTGRES_ADMIN_URL = os.environ.get(
    "HAVRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", FAST_TEST_HASHER)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, str]]]:
    """One initialised hub per governance store, cloned for each test: a hub's set-up
    (migrations, key store) costs far more than the identity work a test does."""
    made: dict[str, tuple[Path, str]] = {}
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        for kind in ("sqlite", "postgresql"):
            home = tmp_path_factory.mktemp(f"identity-template-{kind}") / "home"
            url = f"sqlite:///{home / 'havre.db'}"
            if kind == "postgresql":
                name = f"havre_tpl_{uuid.uuid4().hex[:12]}"
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
            template, _ = Hub.init(load_settings(home=home, database_url=url))
            template.close()
            made[kind] = (home, url)
        yield made
    finally:
        if "postgresql" in made:
            name = str(make_url(made["postgresql"][1]).database)
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ihub(
    request: pytest.FixtureRequest,
    _templates: dict[str, tuple[Path, str]],
    tmp_path: Path,
    clock: FixedClock,
) -> Iterator[Hub]:
    """A fresh hub on both governance stores, on a hand-moved clock."""
    template_home, template_url = _templates[request.param]
    home = tmp_path / "havre-home"
    shutil.copytree(template_home, home)
    url = f"sqlite:///{home / 'havre.db'}"
    admin = None
    if request.param == "postgresql":
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"havre_t_{uuid.uuid4().hex[:12]}"
        template = str(make_url(template_url).database)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    opened = Hub.open(load_settings(home=home, database_url=url), clock=clock)
    try:
        yield opened
    finally:
        opened.close()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
            admin.dispose()


@pytest.fixture
def people(ihub: Hub) -> People:
    return People(ihub.identity)


AuditLines = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def audit_lines(ihub: Hub) -> AuditLines:
    """The audit entries so far (optionally of one action), oldest first, as plain dicts."""
    import json

    from sqlalchemy import select

    from havre.audit.models import AuditEntryRow

    def read(action: str | None = None) -> list[dict[str, Any]]:
        with ihub.db.transaction() as session:
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
                    "actor_name": row.actor_name,
                    "target": row.target_id,
                    "project": row.project_id,
                    "session": row.session_id,
                    "token": row.token_id,
                }
                for row in session.execute(query).scalars()
            ]

    return read
