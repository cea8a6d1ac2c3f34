"""audit log: append-only entries and the head row

Revision ID: 0002_audit
Revises: 0001_hub
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001_hub"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", BIG, nullable=False, autoincrement=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.String(64)),
        sa.Column("actor_name", sa.String(320), nullable=False),
        sa.Column("actor_roles", sa.Text(), nullable=False),
        sa.Column("token_id", sa.String(64)),
        sa.Column("session_id", sa.String(64)),
        sa.Column("client_address", sa.String(64)),
        sa.Column("project_id", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(128)),
        sa.Column("justification", sa.Text()),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_ts", "audit_entries", ["ts"])
    op.create_index("ix_audit_entries_actor", "audit_entries", ["actor_user_id"])
    op.create_index("ix_audit_entries_project", "audit_entries", ["project_id"])
    op.create_index("ix_audit_entries_action", "audit_entries", ["action"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("seq", BIG, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("number", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("tree_size", BIG, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(128), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index("ix_audit_checkpoints_tree_size", "audit_checkpoints", ["tree_size"])
    op.create_table(
        "audit_archives",
        sa.Column("number", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("first_seq", BIG, nullable=False),
        sa.Column("last_seq", BIG, nullable=False),
        sa.Column("entry_count", BIG, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(128), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_audit_archives")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        _postgresql_triggers()


# Entries may be deleted only when a signed archive record marked their range as removed
# (the archive is written and recorded first, in the same transaction).
_REMOVABLE = (
    "EXISTS (SELECT 1 FROM audit_archives a WHERE a.removed "
    "AND OLD.seq BETWEEN a.first_seq AND a.last_seq)"
)
_FROZEN = ("audit_checkpoints", "audit_archives")


def _sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
    )
    op.execute(
        f"CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
        f"WHEN NOT {_REMOVABLE} "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
    )
    for table in _FROZEN:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
            )


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION havre_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION havre_audit_entries_guard() RETURNS trigger AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND {_REMOVABLE} THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION havre_audit_entries_guard()"
    )
    for table in ("audit_entries", *_FROZEN):
        if table != "audit_entries":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION havre_audit_append_only()"
            )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION havre_audit_append_only()"
        )


def downgrade() -> None:
    op.drop_table("audit_archives")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    op.drop_table("audit_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS havre_audit_entries_guard()")
        op.execute("DROP FUNCTION IF EXISTS havre_audit_append_only()")
