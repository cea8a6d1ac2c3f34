"""Reading and updating identity rows inside a caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import Session

from havre.core.errors import NotFoundError, UsageError
from havre.governance.identity.models import (
    ApiTokenRow,
    RecoveryCodeRow,
    RoleGrantRow,
    SessionRow,
    TotpRow,
    UserRow,
)
from havre.governance.identity.roles import Held, Role
from havre.governance.identity.views import GrantView, UserView

CHUNK = 500  # ids per IN (...) list
ACTIVE = "active"
PENDING = "pending"
SUSPENDED = "suspended"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_plain(value: str, limit: int = 320) -> bool:
    """Short and free of control characters (PostgreSQL refuses NUL in text; nothing we store
    as an e-mail or id ever holds them)."""
    return len(value) <= limit and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def clean_text(value: str | None, limit: int = 200) -> str | None:
    """Free text a person typed (a reason), kept printable and short."""
    if value is None:
        return None
    text = "".join(ch if ord(ch) >= 32 and ord(ch) != 127 else " " for ch in value)
    return " ".join(text.split())[:limit] or None


def check_project(project_id: str | None) -> None:
    if project_id is not None and (not project_id.strip() or not is_plain(project_id, 64)):
        raise UsageError(
            f"Invalid project id {project_id[:70]!r}: 1 to 64 printable characters expected."
        )


def get_user(session: Session, user_id: str, *, lock: bool = False) -> UserRow:
    if not is_plain(user_id, 64):
        raise NotFoundError("No such user.", hint="list users with 'havre user list'")
    query = select(UserRow).where(UserRow.id == user_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"No user {user_id}.", hint="list users with 'havre user list'")
    return row


def user_by_email(session: Session, email: str, *, lock: bool = False) -> UserRow | None:
    if not is_plain(email):
        return None
    query = select(UserRow).where(UserRow.email == normalize_email(email))
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def find_user(session: Session, ref: str, *, lock: bool = False) -> UserRow:
    """A user by id (``usr_...``) or e-mail."""
    if "@" in ref:
        row = user_by_email(session, ref, lock=lock)
        if row is None:
            raise NotFoundError(
                "No user with that e-mail.", hint="list users with 'havre user list'"
            )
        return row
    return get_user(session, ref.strip(), lock=lock)


def grants_of(
    session: Session, user_id: str, states: Sequence[str] = (ACTIVE,)
) -> list[RoleGrantRow]:
    query = select(RoleGrantRow).where(RoleGrantRow.user_id == user_id)
    if states:
        query = query.where(RoleGrantRow.state.in_(states))
    return list(session.execute(query.order_by(RoleGrantRow.requested_at)).scalars())


def held(grants: Iterable[RoleGrantRow]) -> list[Held]:
    return [(Role(g.role), g.project_id) for g in grants]


def roles_for(session: Session, user_id: str, project_id: str | None) -> frozenset[str]:
    """Hub-wide roles, plus the roles on ``project_id`` when given."""
    out = set()
    for grant in grants_of(session, user_id):
        if grant.project_id is None or grant.project_id == project_id:
            out.add(grant.role)
    return frozenset(out)


def is_locked(user: UserRow) -> bool:
    return user.locked_at is not None


def is_dormant(user: UserRow, now: dt.datetime, days: int) -> bool:
    """No successful sign-in, creation or reinstatement for ``days``: the rule of
    ``suspend_inactive``, also applied when the account is used."""
    cutoff = now - dt.timedelta(days=days)
    last = user.last_login_at
    return user.active_since < cutoff and (last is None or last < cutoff)


def active_admins(session: Session) -> int:
    """Administrators who can act (active account, not locked)."""
    query = (
        select(func.count(func.distinct(RoleGrantRow.user_id)))
        .select_from(RoleGrantRow)
        .join(UserRow, UserRow.id == RoleGrantRow.user_id)
        .where(
            RoleGrantRow.role == Role.ADMIN.value,
            RoleGrantRow.state == ACTIVE,
            UserRow.status == ACTIVE,
            UserRow.locked_at.is_(None),
        )
    )
    return int(session.execute(query).scalar_one())


def team_of(session: Session, project_id: str) -> set[str]:
    """User ids holding a team role (researcher, project lead) on a project."""
    query = select(RoleGrantRow.user_id).where(
        RoleGrantRow.project_id == project_id,
        RoleGrantRow.state == ACTIVE,
        RoleGrantRow.role.in_([Role.RESEARCHER.value, Role.PROJECT_LEAD.value]),
    )
    return set(session.execute(query).scalars())


def grant_view(row: RoleGrantRow) -> GrantView:
    return GrantView(
        id=row.id,
        user_id=row.user_id,
        role=Role(row.role),
        project_id=row.project_id,
        state=row.state,
        basis=row.basis,
        requested_by=row.requested_by,
        requested_by_name=row.requested_by_name,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        ended_by=row.ended_by,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


def user_view(session: Session, row: UserRow, *, all_grants: bool = False) -> UserView:
    totp = session.get(TotpRow, row.id)
    codes_left = session.execute(
        select(func.count())
        .select_from(RecoveryCodeRow)
        .where(RecoveryCodeRow.user_id == row.id, RecoveryCodeRow.used_at.is_(None))
    ).scalar_one()
    states: tuple[str, ...] = () if all_grants else (ACTIVE, PENDING)
    return UserView(
        id=row.id,
        email=row.email,
        name=row.name,
        organisation=row.organisation,
        status=row.status,
        locked=is_locked(row),
        locked_at=row.locked_at,
        failed_attempts=row.failed_attempts,
        created_at=row.created_at,
        created_by=row.created_by,
        last_login_at=row.last_login_at,
        suspended_at=row.suspended_at,
        suspended_reason=row.suspended_reason,
        training_attested_on=row.training_attested_on,
        terms_signed_on=row.terms_signed_on,
        terms_version=row.terms_version,
        mfa_confirmed_at=totp.confirmed_at if totp is not None else None,
        recovery_codes_left=int(codes_left),
        grants=tuple(grant_view(g) for g in grants_of(session, row.id, states)),
    )


def revoke_credentials(
    session: Session,
    user_ids: str | Sequence[str],
    now: dt.datetime,
    by: str,
    reason: str,
    *,
    keep_session: str | None = None,
) -> tuple[int, int]:
    """End every live session and API token of one or more users (a few statements per
    chunk of users, whatever their number). Returns (sessions, tokens) ended."""
    ids = [user_ids] if isinstance(user_ids, str) else list(user_ids)
    sessions = tokens = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        sessions += _rowcount(
            session,
            update(SessionRow)
            .where(
                SessionRow.user_id.in_(chunk),
                SessionRow.revoked_at.is_(None),
                SessionRow.id != (keep_session or ""),
            )
            .values(revoked_at=now, revoked_by=by, revoke_reason=reason),
        )
        tokens += _rowcount(
            session,
            update(ApiTokenRow)
            .where(ApiTokenRow.user_id.in_(chunk), ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=by, revoke_reason=reason),
        )
    return sessions, tokens


def suspend_many(
    session: Session, user_ids: Sequence[str], now: dt.datetime, by: str, reason: str
) -> tuple[int, int]:
    """Suspend active accounts and end their credentials, in bulk."""
    for start in range(0, len(user_ids), CHUNK):
        chunk = list(user_ids[start : start + CHUNK])
        _rowcount(
            session,
            update(UserRow)
            .where(UserRow.id.in_(chunk), UserRow.status == ACTIVE)
            .values(status=SUSPENDED, suspended_at=now, suspended_reason=clean_text(reason)),
        )
    return revoke_credentials(session, user_ids, now, by, "account suspended")


def _rowcount(session: Session, statement: Update) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(cast(CursorResult[Any], result).rowcount or 0)
