"""Identity tables (migration 0003_identity).

Secrets are never stored in clear: passwords as argon2id hashes, TOTP secrets sealed with the
key store's envelope encryption, session and API tokens and recovery codes as keyed digests.
``project_id`` is a plain string: projects arrive in a later migration, which adds the checks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base

ID = 32
USER_FK = "users.id"


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # active | suspended
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    active_since: Mapped[dt.datetime]  # creation or reinstatement: inactivity counts from here
    created_by: Mapped[str | None] = mapped_column(String(ID))  # None: the local operator
    created_by_name: Mapped[str] = mapped_column(String(320))
    training_attested_on: Mapped[dt.date | None]
    terms_signed_on: Mapped[dt.date | None]
    terms_version: Mapped[str | None] = mapped_column(String(32))
    failed_attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[dt.datetime | None]  # growing delay after failed sign-ins
    locked_at: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    suspended_at: Mapped[dt.datetime | None]
    suspended_reason: Mapped[str | None] = mapped_column(String(200))


class TotpRow(Base):
    __tablename__ = "user_totp"

    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK), primary_key=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)  # replay guard


class RecoveryCodeRow(Base):
    __tablename__ = "user_recovery_codes"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    code_digest: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_user_recovery_codes_user", "user_id"),)


class RoleGrantRow(Base):
    """A role, global (project_id None) or on one project; pending until approved when the
    role needs four eyes."""

    __tablename__ = "role_grants"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    role: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending | active | rejected | revoked
    basis: Mapped[str] = mapped_column(String(16))  # direct | four_eyes | bootstrap | delegated
    requested_by: Mapped[str | None] = mapped_column(String(ID))
    requested_by_name: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[dt.datetime]
    approved_by: Mapped[str | None] = mapped_column(String(ID))
    approved_at: Mapped[dt.datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(320))
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_role_grants_user", "user_id"),
        Index("ix_role_grants_project", "project_id"),
    )


class SessionRow(Base):
    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    token_digest: Mapped[str] = mapped_column(String(80), unique=True)
    second_factor: Mapped[str] = mapped_column(String(16))  # totp | recovery_code | idp
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    absolute_expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(320))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    token_digest: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)  # canonical JSON list of role names, or ["all"]
    created_at: Mapped[dt.datetime]
    created_in_session: Mapped[str | None] = mapped_column(String(ID))
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(320))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)


class AccessCampaignRow(Base):
    """A periodic review of who holds which role on a project, attested by its lead."""

    __tablename__ = "access_campaigns"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    opened_by: Mapped[str | None] = mapped_column(String(ID))
    opened_by_name: Mapped[str] = mapped_column(String(320))
    opened_at: Mapped[dt.datetime]
    due_on: Mapped[dt.date]
    state: Mapped[str] = mapped_column(String(16))  # open | closed
    closed_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_access_campaigns_project", "project_id"),)


class AccessCampaignItemRow(Base):
    __tablename__ = "access_campaign_items"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("access_campaigns.id"))
    grant_id: Mapped[str] = mapped_column(ForeignKey("role_grants.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    role: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str | None] = mapped_column(String(8))  # keep | remove
    decided_by: Mapped[str | None] = mapped_column(String(ID))
    decided_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_access_campaign_items_campaign", "campaign_id"),)
