"""airlock tables (filled in by the airlock room)

Revision ID: 0007_airlock
Revises: 0006_workspace
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0007_airlock"
down_revision = "0006_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
