"""lake tables (filled in by the lake room)

Revision ID: 0005_lake
Revises: 0004_projects
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0005_lake"
down_revision = "0004_projects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
