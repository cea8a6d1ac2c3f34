"""hub facts

Revision ID: 0001_hub
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_hub"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_info",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(4000), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_info")),
    )


def downgrade() -> None:
    op.drop_table("hub_info")
