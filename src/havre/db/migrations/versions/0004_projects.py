"""projects: calls for projects, projects, application revisions, review steps, permits

Revision ID: 0004_projects
Revises: 0003_identity
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_projects"
down_revision = "0003_identity"
branch_labels = None
depends_on = None

ID = 40
USER = 32
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def upgrade() -> None:
    op.create_table(
        "project_calls",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("themes", sa.Text(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(USER), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_calls")),
        _fk("project_calls", "created_by", "users"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("lead_user_id", sa.String(USER), nullable=False),
        sa.Column("call_id", sa.String(ID)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("submitted_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("workspace_key", sa.String(20)),
        sa.Column("results_due_on", sa.Date()),
        sa.Column("results_summary", sa.Text()),
        sa.Column("results_links", sa.Text()),
        sa.Column("results_recorded_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        _fk("projects", "lead_user_id", "users"),
        _fk("projects", "call_id", "project_calls"),
    )
    op.create_index("ix_projects_status", "projects", ["status"])
    op.create_table(
        "project_revisions",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("submitted_document", sa.Text()),
        sa.Column("submitted_sha256", sa.String(64)),
        sa.Column("withheld", sa.Text(), nullable=False),
        sa.Column("risk_assessment", sa.Text()),
        sa.Column("created_by", sa.String(USER), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("submitted_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_revisions")),
        sa.UniqueConstraint("project_id", "number", name="uq_project_revisions_number"),
        _fk("project_revisions", "project_id", "projects"),
        _fk("project_revisions", "created_by", "users"),
    )
    op.create_table(
        "project_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("actor_user_id", sa.String(USER)),
        sa.Column("actor_name", sa.String(320), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("reference", sa.String(200)),
        sa.Column("decided_on", sa.Date()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_steps")),
        _fk("project_steps", "project_id", "projects"),
        _fk("project_steps", "actor_user_id", "users"),
    )
    op.create_index("ix_project_steps_project", "project_steps", ["project_id"])
    op.create_table(
        "permits",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("terms_sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("issued_by", sa.String(USER), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("activated_at", TS),
        sa.Column("activated_by", sa.String(USER)),
        sa.Column("ended_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits")),
        sa.UniqueConstraint("project_id", "version", name="uq_permits_version"),
        _fk("permits", "project_id", "projects"),
        _fk("permits", "issued_by", "users"),
        _fk("permits", "activated_by", "users"),
    )
    op.create_index("ix_permits_status", "permits", ["status"])


def downgrade() -> None:
    op.drop_table("permits")
    op.drop_table("project_steps")
    op.drop_table("project_revisions")
    op.drop_table("projects")
    op.drop_table("project_calls")
