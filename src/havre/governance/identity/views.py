"""What the identity services return: typed, read-only views (never rows, never secrets
other than the one-time ones a caller must hand over: a new token, a TOTP URI, codes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from havre.governance.identity.roles import Role


@dataclass(frozen=True)
class GrantView:
    id: str
    user_id: str
    role: Role
    project_id: str | None
    state: str
    basis: str
    requested_by: str | None
    requested_by_name: str
    requested_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None
    end_reason: str | None

    @property
    def scope(self) -> str:
        return "global" if self.project_id is None else "project"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "role": self.role.value, "scope": self.scope}


@dataclass(frozen=True)
class UserView:
    id: str
    email: str
    name: str
    organisation: str
    status: str
    locked: bool
    locked_at: dt.datetime | None
    failed_attempts: int
    created_at: dt.datetime
    created_by: str | None
    last_login_at: dt.datetime | None
    suspended_at: dt.datetime | None
    suspended_reason: str | None
    training_attested_on: dt.date | None
    terms_signed_on: dt.date | None
    terms_version: str | None
    mfa_confirmed_at: dt.datetime | None
    recovery_codes_left: int
    grants: tuple[GrantView, ...] = ()

    @property
    def mfa_confirmed(self) -> bool:
        return self.mfa_confirmed_at is not None

    @property
    def active_grants(self) -> tuple[GrantView, ...]:
        return tuple(g for g in self.grants if g.state == "active")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mfa_confirmed"] = self.mfa_confirmed
        data["grants"] = [g.to_dict() for g in self.grants]
        return data


@dataclass(frozen=True)
class NewUser:
    """A created account. ``totp_uri`` is shown this once: hand it to the person securely."""

    user: UserView
    totp_uri: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.user.to_dict(), "totp_uri": self.totp_uri}


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    second_factor: str
    client_address: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    idle_expires_at: dt.datetime
    absolute_expires_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def expires_at(self) -> dt.datetime:
        return min(self.idle_expires_at, self.absolute_expires_at)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "expires_at": self.expires_at}


@dataclass(frozen=True)
class LoginResult:
    """A successful sign-in: a session and its bearer token (shown this once)."""

    user_id: str
    token: str
    session: SessionInfo
    second_factor: str
    enrolment_confirmed: bool = False
    recovery_codes_left: int = 0
    notes: tuple[str, ...] = ()

    @property
    def session_id(self) -> str:
        return self.session.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "token": self.token,
            "session_id": self.session.id,
            "expires_at": self.session.expires_at,
            "idle_expires_at": self.session.idle_expires_at,
            "absolute_expires_at": self.session.absolute_expires_at,
            "second_factor": self.second_factor,
            "enrolment_confirmed": self.enrolment_confirmed,
            "recovery_codes_left": self.recovery_codes_left,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class TokenView:
    id: str
    user_id: str
    name: str
    project_id: str | None
    scopes: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    state: str  # active | expired | revoked

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scopes": list(self.scopes)}


@dataclass(frozen=True)
class NewToken:
    """A created API token. ``token`` is shown this once; only its digest is kept."""

    token: str
    info: TokenView

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "token": self.token}


@dataclass(frozen=True)
class AccessRight:
    """One line of an access review: a person and one role they hold (or were asked for)."""

    user_id: str
    email: str
    name: str
    organisation: str
    status: str
    locked: bool
    mfa_confirmed: bool
    last_login_at: dt.datetime | None
    grant: GrantView

    def to_dict(self) -> dict[str, Any]:
        g = self.grant
        return {
            "user_id": self.user_id,
            "email": self.email,
            "name": self.name,
            "organisation": self.organisation,
            "status": self.status,
            "locked": self.locked,
            "mfa_confirmed": self.mfa_confirmed,
            "last_login_at": self.last_login_at,
            "grant_id": g.id,
            "role": g.role.value,
            "project_id": g.project_id,
            "scope": g.scope,
            "state": g.state,
            "basis": g.basis,
            "granted_by": g.requested_by,
            "granted_at": g.requested_at,
            "approved_by": g.approved_by,
            "approved_at": g.approved_at,
        }


@dataclass(frozen=True)
class AccessReview:
    generated_at: dt.datetime
    user_id: str | None
    project_id: str | None
    rights: tuple[AccessRight, ...]
    tokens: tuple[TokenView, ...] = ()
    active_sessions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "filter": {"user": self.user_id, "project": self.project_id},
            "users": len({r.user_id for r in self.rights}),
            "rights": [r.to_dict() for r in self.rights],
            "tokens": [t.to_dict() for t in self.tokens],
            "active_sessions": self.active_sessions,
        }


@dataclass(frozen=True)
class CampaignItemView:
    id: str
    grant_id: str
    user_id: str
    role: str
    decision: str | None
    decided_by: str | None
    decided_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CampaignView:
    id: str
    project_id: str
    opened_by: str | None
    opened_by_name: str
    opened_at: dt.datetime
    due_on: dt.date
    state: str
    closed_at: dt.datetime | None
    overdue: bool
    items: tuple[CampaignItemView, ...] = field(default=())

    @property
    def pending(self) -> int:
        return sum(1 for item in self.items if item.decision is None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["items"] = [i.to_dict() for i in self.items]
        data["pending"] = self.pending
        return data
