"""The migrations build exactly the tables the models declare (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from havre.db.models import metadata
from havre.hub import Hub


def test_no_drift_between_models_and_migrations(hub: Hub) -> None:
    with hub.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    # indexes created by hand in migrations are compared too; nothing may differ
    assert diff == [], f"models and migrations differ: {diff}"
