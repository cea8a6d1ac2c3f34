"""identity: users, TOTP state, recovery codes, role grants, sessions, API tokens, access
review campaigns

Revision ID: 0003_identity
Revises: 0002_audit
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_identity"
down_revision = "0002_audit"
branch_labels = None
depends_on = None

ID = 32
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(ID), nullable=False)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users")
    )


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("active_since", TS, nullable=False),
        sa.Column("created_by", sa.String(ID)),
        sa.Column("created_by_name", sa.String(320), nullable=False),
        sa.Column("training_attested_on", sa.Date()),
        sa.Column("terms_signed_on", sa.Date()),
        sa.Column("terms_version", sa.String(32)),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", TS),
        sa.Column("locked_at", TS),
        sa.Column("last_login_at", TS),
        sa.Column("suspended_at", TS),
        sa.Column("suspended_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS),
        sa.Column("last_step", sa.BigInteger()),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_totp")),
        _user_fk("user_totp"),
    )
    op.create_table(
        "user_recovery_codes",
        _id(),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("code_digest", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_recovery_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_user_recovery_codes_code_digest")),
        _user_fk("user_recovery_codes"),
    )
    op.create_index("ix_user_recovery_codes_user", "user_recovery_codes", ["user_id"])
    op.create_table(
        "role_grants",
        _id(),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(ID)),
        sa.Column("requested_by_name", sa.String(320), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("approved_by", sa.String(ID)),
        sa.Column("approved_at", TS),
        sa.Column("ended_by", sa.String(320)),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
        _user_fk("role_grants"),
    )
    op.create_index("ix_role_grants_user", "role_grants", ["user_id"])
    op.create_index("ix_role_grants_project", "role_grants", ["project_id"])
    op.create_table(
        "user_sessions",
        _id(),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("token_digest", sa.String(80), nullable=False),
        sa.Column("second_factor", sa.String(16), nullable=False),
        sa.Column("client_address", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("absolute_expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column("revoked_by", sa.String(320)),
        sa.Column("revoke_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_user_sessions_token_digest")),
        _user_fk("user_sessions"),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("token_digest", sa.String(80), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_in_session", sa.String(ID)),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
        sa.Column("revoked_by", sa.String(320)),
        sa.Column("revoke_reason", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_api_tokens_token_digest")),
        _user_fk("api_tokens"),
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id"])
    op.create_table(
        "access_campaigns",
        _id(),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("opened_by", sa.String(ID)),
        sa.Column("opened_by_name", sa.String(320), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("closed_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_campaigns")),
    )
    op.create_index("ix_access_campaigns_project", "access_campaigns", ["project_id"])
    op.create_table(
        "access_campaign_items",
        _id(),
        sa.Column("campaign_id", sa.String(ID), nullable=False),
        sa.Column("grant_id", sa.String(ID), nullable=False),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(8)),
        sa.Column("decided_by", sa.String(ID)),
        sa.Column("decided_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_campaign_items")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["access_campaigns.id"],
            name=op.f("fk_access_campaign_items_campaign_id_access_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["role_grants.id"],
            name=op.f("fk_access_campaign_items_grant_id_role_grants"),
        ),
        _user_fk("access_campaign_items"),
    )
    op.create_index("ix_access_campaign_items_campaign", "access_campaign_items", ["campaign_id"])


def downgrade() -> None:
    op.drop_table("access_campaign_items")
    op.drop_table("access_campaigns")
    op.drop_table("api_tokens")
    op.drop_table("user_sessions")
    op.drop_table("role_grants")
    op.drop_table("user_recovery_codes")
    op.drop_table("user_totp")
    op.drop_table("users")
