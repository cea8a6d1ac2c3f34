"""Alembic migrations, run from code (no alembic.ini needed by a user).

Every command opens the hub and checks its schema revision, so that check reads the version
table with a plain statement and compares it with ``HEAD_REVISION``: loading Alembic (and
Mako with it) took a tenth of a second of every command's start. Alembic is loaded only to
migrate; a test checks ``HEAD_REVISION`` against the newest migration script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from havre.db.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# the revision of the newest script in migrations/versions (a new migration moves it)
HEAD_REVISION = "0009_governance_changes"
VERSION_TABLE = "alembic_version"  # Alembic's default, as env.py leaves it


def alembic_config(database: Database) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database"] = database
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(database: Database) -> str | None:
    """The database's schema revision (None before the first migration)."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(found) > 1:
        raise RuntimeError(f"the schema has {len(found)} revisions at once (branches)")
    return str(found[0][0]) if found else None


def script_head() -> str | None:
    """The newest revision as Alembic reads it from the scripts (for the test of
    ``HEAD_REVISION``)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
