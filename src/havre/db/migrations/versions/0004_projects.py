"""projects tables (filled in by the projects room)

Revision ID: 0004_projects
Revises: 0003_identity
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0004_projects"
down_revision = "0003_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
