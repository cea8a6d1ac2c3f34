"""PostgreSQL: the application's role may only INSERT and SELECT audit rows, triggers or not."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from havre.audit import HubAction, Target, audited
from havre.audit.privileges import apply_app_role
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.core.errors import ConfigError, NotFoundError, PermissionDenied, UsageError
from havre.hub import Hub

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role(postgres_url: str) -> Iterator[str]:
    role = f"havre_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        yield role
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_app_role_cannot_rewrite_the_trail(
    make_settings: Callable[..., Settings], postgres_url: str, app_role: str, tmp_path: Path
) -> None:
    owner_hub, _ = Hub.init(make_settings(database_url=postgres_url))
    statements = apply_app_role(owner_hub.db, app_role)
    assert any(app_role in s for s in statements)
    with owner_hub.db.engine.begin() as connection:  # an attacker who got the owner to do this
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER ALL"))

    app_url = make_url(postgres_url).set(username=app_role).render_as_string(hide_password=False)
    app_hub = Hub.open(make_settings(database_url=app_url))
    try:
        actor = Actor.operator("runs as the application role")
        with audited(app_hub.db, app_hub.audit, actor, HubAction.OPEN, Target.hub()):
            pass  # INSERT and the head's UPDATE are allowed
        app_hub.audit_trail.checkpoint(actor)
        assert app_hub.audit_trail.verify().ok
        for statement in (
            "UPDATE audit_entries SET reason = 'x' WHERE seq = 1",
            "DELETE FROM audit_entries WHERE seq = 1",
            "TRUNCATE audit_entries",
            "UPDATE audit_checkpoints SET root_hash = 'x'",
            "DELETE FROM audit_archives",
            "ALTER TABLE audit_entries ENABLE TRIGGER ALL",
        ):
            with pytest.raises(ProgrammingError, match=r"(permission denied|must be owner)"):
                with app_hub.db.engine.begin() as connection:
                    connection.execute(text(statement))
        assert app_hub.audit_trail.verify().ok
        now = dt.datetime.now(dt.UTC)
        app_hub.audit.clock = FixedClock(now + dt.timedelta(days=800))  # entries are now old
        with pytest.raises(PermissionDenied, match="owner"):
            app_hub.audit_trail.archive(
                actor, now + dt.timedelta(days=1), tmp_path / "archives", remove=True
            )
        assert list((tmp_path / "archives").iterdir()) == []  # the refused archive left no file
    finally:
        app_hub.close()
        owner_hub.close()


def test_apply_refuses_what_would_not_protect(
    make_settings: Callable[..., Settings], postgres_url: str, sqlite_hub: Hub
) -> None:
    hub, _ = Hub.init(make_settings(database_url=postgres_url))
    try:
        with pytest.raises(UsageError, match="superuser"):
            apply_app_role(hub.db, "postgres")
        with pytest.raises(NotFoundError, match="CREATE ROLE"):
            apply_app_role(hub.db, "no_such_role_here")
    finally:
        hub.close()
    with pytest.raises(ConfigError, match="PostgreSQL"):
        apply_app_role(sqlite_hub.db, "havre_app")
