"""airlock tables: release requests, outputs, reviews, consolidations, released records,
privacy budgets and ledger

Revision ID: 0007_airlock
Revises: 0006_workspace
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_airlock"
down_revision = "0006_workspace"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = 40
USER = 32


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "release_requests",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("requester_user_id", sa.String(USER), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _when("checked_at"),
        _when("submitted_at", True),
        _when("reviewed_at", True),
        _when("decided_at", True),
        sa.Column("decided_by", sa.String(USER), nullable=True),
        _when("released_at", True),
        sa.Column("released_by", sa.String(USER), nullable=True),
        sa.Column("release_path", sa.String(300), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        _when("withdrawn_at", True),
        sa.Column("withdraw_reason", sa.Text(), nullable=True),
        _fk("release_requests", "project_id", "projects.id"),
        _fk("release_requests", "requester_user_id", "users.id"),
        _fk("release_requests", "decided_by", "users.id"),
        _fk("release_requests", "released_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_requests")),
    )
    op.create_index("ix_release_requests_project", "release_requests", ["project_id", "state"])
    op.create_index("ix_release_requests_state", "release_requests", ["state"])

    op.create_table(
        "release_outputs",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("sql_sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=True),
        sa.Column("data_version", sa.Integer(), nullable=True),
        sa.Column("data_version_id", sa.String(ID), nullable=True),
        sa.Column("workspace_version", sa.Integer(), nullable=True),
        sa.Column("permit_version", sa.Integer(), nullable=False),
        sa.Column("permit_sha256", sa.String(64), nullable=False),
        sa.Column("population_hash", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("content_bytes", BIG, nullable=True),
        sa.Column("attachment_name", sa.String(200), nullable=True),
        sa.Column("attachment_sha256", sa.String(64), nullable=True),
        sa.Column("attachment_bytes", BIG, nullable=True),
        sa.Column("dp_epsilon", sa.Float(), nullable=True),
        _when("created_at"),
        _fk("release_outputs", "request_id", "release_requests.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_outputs")),
        sa.UniqueConstraint("request_id", "name", "version", name="uq_release_outputs_request_id"),
    )
    op.create_index("ix_release_outputs_current", "release_outputs", ["request_id", "current"])

    op.create_table(
        "release_reviews",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(ID), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("checker_user_id", sa.String(USER), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("verdicts", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _when("created_at"),
        _fk("release_reviews", "request_id", "release_requests.id"),
        _fk("release_reviews", "checker_user_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_reviews")),
        sa.UniqueConstraint(
            "request_id", "round", "checker_user_id", name="uq_release_reviews_request_id"
        ),
    )

    op.create_table(
        "release_consolidations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(ID), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("by_user_id", sa.String(USER), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("agreed", sa.Boolean(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        _when("created_at"),
        _fk("release_consolidations", "request_id", "release_requests.id"),
        _fk("release_consolidations", "by_user_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_consolidations")),
        sa.UniqueConstraint("request_id", "round", name="uq_release_consolidations_request_id"),
    )

    op.create_table(
        "released_records",
        sa.Column("output_id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dims", sa.Text(), nullable=False),
        sa.Column("population_base", sa.String(200), nullable=False),
        sa.Column("population_hash", sa.String(64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        _when("released_at"),
        _fk("released_records", "output_id", "release_outputs.id"),
        _fk("released_records", "request_id", "release_requests.id"),
        _fk("released_records", "project_id", "projects.id"),
        sa.PrimaryKeyConstraint("output_id", name=op.f("pk_released_records")),
    )
    op.create_index("ix_released_records_project", "released_records", ["project_id"])

    op.create_table(
        "privacy_budgets",
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("total_epsilon", sa.Float(), nullable=False),
        sa.Column("set_by", sa.String(USER), nullable=False),
        _when("set_at"),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("privacy_budgets", "project_id", "projects.id"),
        _fk("privacy_budgets", "set_by", "users.id"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_privacy_budgets")),
    )

    op.create_table(
        "privacy_ledger",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(ID), nullable=False),
        sa.Column("output_id", sa.String(ID), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("total_epsilon", sa.Float(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("spent_by", sa.String(USER), nullable=False),
        _when("spent_at"),
        _fk("privacy_ledger", "project_id", "projects.id"),
        _fk("privacy_ledger", "request_id", "release_requests.id"),
        _fk("privacy_ledger", "output_id", "release_outputs.id"),
        _fk("privacy_ledger", "spent_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_ledger")),
    )
    op.create_index("ix_privacy_ledger_project", "privacy_ledger", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_privacy_ledger_project", table_name="privacy_ledger")
    op.drop_table("privacy_ledger")
    op.drop_table("privacy_budgets")
    op.drop_index("ix_released_records_project", table_name="released_records")
    op.drop_table("released_records")
    op.drop_table("release_consolidations")
    op.drop_table("release_reviews")
    op.drop_index("ix_release_outputs_current", table_name="release_outputs")
    op.drop_table("release_outputs")
    op.drop_index("ix_release_requests_state", table_name="release_requests")
    op.drop_index("ix_release_requests_project", table_name="release_requests")
    op.drop_table("release_requests")
