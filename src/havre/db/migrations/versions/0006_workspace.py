"""workspace tables: the registry of workspace versions

Revision ID: 0006_workspace
Revises: 0005_lake
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_workspace"
down_revision = "0005_lake"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workspace_versions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("permit_version", sa.Integer(), nullable=False),
        sa.Column("permit_sha256", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("data_version_id", sa.String(40), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("tables", sa.Integer(), nullable=False),
        sa.Column("rows", BIG, nullable=False),
        sa.Column("persons", BIG, nullable=False),
        sa.Column("bytes", BIG, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_workspace_versions_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_versions")),
        sa.UniqueConstraint("project_id", "version", name="uq_workspace_versions_project_id"),
    )
    op.create_index("ix_workspace_versions_state", "workspace_versions", ["project_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_workspace_versions_state", table_name="workspace_versions")
    op.drop_table("workspace_versions")
