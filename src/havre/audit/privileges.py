"""PostgreSQL privilege separation: the application's role may only INSERT and SELECT audit
entries, checkpoints and archive records.

Triggers stop mistakes, not the table's owner: an owner can disable them. In production the
hub therefore runs as a role that owns nothing (``havre_app``), while migrations, archive
removal and these grants run as the owner. Without UPDATE, DELETE and TRUNCATE on the audit
tables, the application role cannot rewrite the trail even with the triggers gone.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from havre.core.errors import ConfigError, NotFoundError, UsageError
from havre.db.database import Database

APPEND_ONLY_TABLES = ("audit_entries", "audit_checkpoints", "audit_archives")
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role_statements(role: str) -> list[str]:
    """The GRANTs that make ``role`` the application's role (run them as the owner)."""
    if not _ROLE.match(role):
        raise UsageError(
            f"'{role}' is not a plain PostgreSQL role name (lower case, digits, _).",
        )
    audit = ", ".join(APPEND_ONLY_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {role}",
        # tables created by later migrations get the ordinary grants; audit tables exist already
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


def apply_app_role(database: Database, role: str) -> list[str]:
    """Apply the GRANTs with the hub's own (owner) connection."""
    if database.dialect != "postgresql":
        raise ConfigError(
            "Privilege separation applies to PostgreSQL; this hub uses "
            f"{database.dialect} (whoever can write the file can rewrite it: protect it with "
            "file permissions and rely on the signed checkpoints)."
        )
    statements = app_role_statements(role)
    with database.engine.begin() as connection:
        found = connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :name"),
            {"name": role},
        ).first()
        if found is None:
            raise NotFoundError(
                f"PostgreSQL role '{role}' does not exist.",
                hint=f"create it first: CREATE ROLE {role} LOGIN PASSWORD '...'",
            )
        if found[0]:
            raise UsageError(
                f"Role '{role}' is a superuser: privileges do not bind it.",
                hint="use an ordinary login role for the application",
            )
        current = connection.execute(text("SELECT current_user")).scalar()
        if current == role:
            raise UsageError(
                f"Run this as the database owner, not as '{role}' itself.",
            )
        for statement in statements:
            connection.execute(text(statement))
    return statements
