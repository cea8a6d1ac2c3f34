"""identity tables (filled in by the identity room)

Revision ID: 0003_identity
Revises: 0002_audit
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0003_identity"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
