"""governance change counter: one row raised by triggers on every governance change

Accounts, second factors, role grants, sessions, API tokens, projects, permits and workspace
versions: any INSERT, UPDATE or DELETE (PostgreSQL: and TRUNCATE) raises
``governance_changes.counter`` in the same transaction. A process may keep what it read of
those tables while the counter stays where it was before it read them (``havre.db.changes``).

Revision ID: 0009_governance_changes
Revises: 0008_audit_canonical
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_governance_changes"
down_revision = "0008_audit_canonical"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# the tables whose changes a cached read depends on (havre.db.changes), as this revision made them
COUNTED = (
    "users",
    "user_totp",
    "role_grants",
    "user_sessions",
    "api_tokens",
    "projects",
    "permits",
    "workspace_versions",
)
# A use of a session or token writes its last use (at most once a minute): that alone changes
# nothing a cached read relies on, and counting it would empty every process's cache each time
# any user is active. Updates of these columns only do not raise the counter (the triggers are
# on UPDATE OF every other column, listed when this revision runs: a later revision adding a
# column to these tables recreates their update triggers).
UNCOUNTED_UPDATES = {"user_sessions": "last_seen_at", "api_tokens": "last_used_at"}
RAISE = "UPDATE governance_changes SET counter = counter + 1 WHERE id = 1"


def _update_of(table: str) -> str:
    """``UPDATE`` or ``UPDATE OF`` the columns whose change is counted."""
    skipped = UNCOUNTED_UPDATES.get(table)
    if skipped is None:
        return "UPDATE"
    names = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)]
    return "UPDATE OF " + ", ".join(n for n in names if n != skipped)


def upgrade() -> None:
    op.create_table(
        "governance_changes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("counter", BIG, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_changes")),
    )
    op.execute("INSERT INTO governance_changes (id, counter) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION havre_governance_changed() RETURNS trigger AS $$ "
            f"BEGIN {RAISE}; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        for table in COUNTED:
            op.execute(
                f"CREATE TRIGGER {table}_counted AFTER INSERT OR {_update_of(table)} OR DELETE "
                f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                "EXECUTE FUNCTION havre_governance_changed()"
            )
        return
    for table in COUNTED:
        for verb in ("INSERT", _update_of(table), "DELETE"):
            name = verb.split()[0].lower()
            op.execute(
                f"CREATE TRIGGER {table}_counted_{name} AFTER {verb} ON {table} BEGIN {RAISE}; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in COUNTED:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_counted ON {table}")
        else:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_counted_{verb}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS havre_governance_changed()")
    op.drop_table("governance_changes")
