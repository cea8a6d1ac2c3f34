"""audit log: each entry keeps the canonical text its hash covers

Verification hashes this text in bulk and checks in one SQL pass that it still equals the
text rebuilt from the entry's columns. Entries appended before this revision keep NULL there
and are verified from their columns alone (the audit tables are append-only: no backfill).

Revision ID: 0008_audit_canonical
Revises: 0007_airlock
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_canonical"
down_revision = "0007_airlock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("canonical", sa.Text(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy would lose the triggers
    op.drop_column("audit_entries", "canonical")
