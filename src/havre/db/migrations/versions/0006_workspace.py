"""workspace tables (filled in by the workspace room)

Revision ID: 0006_workspace
Revises: 0005_lake
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0006_workspace"
down_revision = "0005_lake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
