"""lake registry and opt-out register

Revision ID: 0005_lake
Revises: 0004_projects
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lake"
down_revision = "0004_projects"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lake_versions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("delivery_sha256", sa.String(64), nullable=False),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("pseudonym_scheme", sa.String(200), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("records_read", BIG, nullable=False),
        sa.Column("records_loaded", BIG, nullable=False),
        sa.Column("records_quarantined", BIG, nullable=False),
        sa.Column("records_opted_out", BIG, nullable=False),
        sa.Column("records_duplicates", BIG, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lake_versions")),
        sa.UniqueConstraint("dataset", "version", name="uq_lake_versions_dataset_version"),
    )
    op.create_index("ix_lake_versions_delivery", "lake_versions", ["dataset", "delivery_sha256"])
    op.create_table(
        "optouts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("objected_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(320), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(320), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optouts")),
        sa.UniqueConstraint("scheme", "key_version", "subject_key", name="uq_optouts_subject"),
    )
    op.create_index("ix_optouts_active", "optouts", ["withdrawn_at"])


def downgrade() -> None:
    op.drop_index("ix_optouts_active", table_name="optouts")
    op.drop_table("optouts")
    op.drop_index("ix_lake_versions_delivery", table_name="lake_versions")
    op.drop_table("lake_versions")
