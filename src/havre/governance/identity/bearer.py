"""Bearer tokens in use: a session token (``hvs_``, from signing in) or an API token
(``hvt_``) becomes an ``Actor``; sessions slide their idle expiry and can be revoked.

Every refusal is audited (``token.use``, outcome ``denied``). The messages are specific
(expired, revoked, suspended...): whoever sends a token already holds it, so saying why it no
longer works tells them nothing they could not learn otherwise.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit import Outcome, Target
from havre.core.actor import Actor
from havre.core.errors import AuthenticationError, HavreError, NotFoundError, PermissionDenied
from havre.db import changes
from havre.governance.identity import store
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.authentication import AuthenticationMixin, anonymous, person
from havre.governance.identity.base import by_name
from havre.governance.identity.digests import API_TOKEN_PREFIX, SESSION_PREFIX
from havre.governance.identity.models import ApiTokenRow, SessionRow, TotpRow, UserRow
from havre.governance.identity.views import SessionInfo

ALL_SCOPES = "all"
# A use writes the token's last use (a session's last activity) only when the stored one is
# this old: a write makes the use's transaction a durable commit (an fsync), which would
# otherwise be paid on every request. A session's idle expiry then runs from a time at most
# this much earlier than its last use: it can end sooner, never later.
TOUCH_EVERY = dt.timedelta(seconds=60)
SIGN_IN_AGAIN = "sign in again (havre login) or create a new token"


@dataclass
class _Use:
    """The outcome of looking a bearer token up."""

    user: UserRow | None = None
    session_row: SessionRow | None = None
    token_row: ApiTokenRow | None = None
    error: HavreError | None = None
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def refuse(self, reason: str, error: HavreError) -> _Use:
        self.reason = reason
        self.error = error
        return self


@dataclass(frozen=True)
class _Known:
    """A token that resolved, as the governance store held it at one counter value: every
    check that does not depend on the clock passed then and holds while the counter stands.
    The clock's checks (expiry, idle time) and the due write of the last use are made again
    at each use, from the times stored then."""

    actor: Actor  # without justification and client address, which vary per use
    session_expires_at: dt.datetime | None
    session_last_seen_at: dt.datetime | None
    token_expires_at: dt.datetime | None
    token_last_used_at: dt.datetime | None

    @classmethod
    def of(cls, actor: Actor, use: _Use) -> _Known:
        session_row, token_row = use.session_row, use.token_row
        return cls(
            actor=actor,
            session_expires_at=session_row.absolute_expires_at if session_row else None,
            session_last_seen_at=session_row.last_seen_at if session_row else None,
            token_expires_at=token_row.expires_at if token_row else None,
            token_last_used_at=token_row.last_used_at if token_row else None,
        )

    def usable(self, now: dt.datetime, idle: dt.timedelta) -> bool:
        """False sends the use through the full check (which refuses and audits, or writes)."""
        if self.session_expires_at is not None and self.session_last_seen_at is not None:
            return (
                now < self.session_expires_at
                and now < self.session_last_seen_at + idle
                and not _touch_due(self.session_last_seen_at, now)
            )
        if self.token_expires_at is not None:
            return now < self.token_expires_at and not _touch_due(self.token_last_used_at, now)
        return False


class BearerMixin(AuthenticationMixin):
    def actor_from_token(
        self,
        token: str,
        *,
        project_id: str | None = None,
        justification: str | None = None,
        client_address: str | None = None,
    ) -> Actor:
        """The person behind a token, with their hub-wide roles plus their roles on
        ``project_id`` (narrowed to the token's scopes). Raises ``AuthenticationError`` for an
        unknown, expired or revoked token or an account that cannot act, ``PermissionDenied``
        for a project outside the token's restriction."""
        store.check_project(project_id)
        now = self.now()
        key = (tuple(self.digests.candidates(token.strip())), project_id)
        known = self._known.get(changes.counter_now(self.db), key)
        if known is not None and known.usable(now, self._idle_limit()):
            return replace(known.actor, justification=justification, client_address=client_address)
        with self.db.transaction() as session:
            counter = changes.counter(session)  # before the rows (see havre.db.changes)
            use = self._resolve(session, token, now)
            if use.error is None and use.token_row is not None:
                restricted = use.token_row.project_id
                if restricted is not None and project_id not in (None, restricted):
                    use.refuse(
                        "project_outside_token",
                        PermissionDenied(
                            f"This API token is restricted to project {restricted}.",
                            hint="use a token made for this project, or your session token",
                        ),
                    )
                project_id = project_id or restricted
            if use.error is None and use.user is not None:
                roles = store.roles_for(session, use.user.id, project_id)
                if use.token_row is not None:
                    scopes = set(json.loads(use.token_row.scopes))
                    if ALL_SCOPES not in scopes:
                        roles = roles & frozenset(scopes)
                    if _touch_due(use.token_row.last_used_at, now):
                        use.token_row.last_used_at = now
                if use.session_row is not None and _touch_due(use.session_row.last_seen_at, now):
                    use.session_row.last_seen_at = now
                actor = person(
                    use.user,
                    roles=roles,
                    project_id=project_id,
                    session_id=use.session_row.id if use.session_row else None,
                    token_id=use.token_row.id if use.token_row else None,
                )
                self._known.put(counter, key, _Known.of(actor, use))
                return replace(actor, justification=justification, client_address=client_address)
            self._audit_refusal(session, use, client_address, project_id)
        assert use.error is not None
        raise use.error

    def touch_session(self, token: str, *, client_address: str | None = None) -> SessionInfo:
        """Check a web session and push its idle expiry back (never past the absolute one)."""
        now = self.now()
        with self.db.transaction() as session:
            use = self._resolve(session, token, now, kind="session")
            if use.error is None and use.session_row is not None:
                use.session_row.last_seen_at = now
                return self._session_info(use.session_row)
            self._audit_refusal(session, use, client_address, None)
        assert use.error is not None
        raise use.error

    def logout(self, token: str, *, client_address: str | None = None) -> SessionInfo:
        """End the session this token belongs to."""
        now = self.now()
        with self.db.transaction() as session:
            use = self._resolve(session, token, now, kind="session")
            if use.error is None and use.session_row is not None and use.user is not None:
                row = use.session_row
                row.revoked_at = now
                row.revoked_by = use.user.id
                row.revoke_reason = "logout"
                actor = person(use.user, session_id=row.id, client_address=client_address)
                self.audit.append(
                    session, actor, IdentityAction.USER_LOGOUT, Target("session", row.id)
                )
                return self._session_info(row)
            self._audit_refusal(session, use, client_address, None)
        assert use.error is not None
        raise use.error

    def revoke_session(self, actor: Actor, session_id: str, reason: str | None = None) -> None:
        """The session's owner, an administrator or the operator may end a session."""
        target = Target("session", session_id)
        with self._audited(actor, IdentityAction.SESSION_REVOKE, target) as scope:
            row = None
            if store.is_plain(session_id, 64):
                row = scope.session.get(SessionRow, session_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"No session {session_id}.")
            if actor.user_id != row.user_id:
                self._require_admin(actor, "end another person's session", operator_may=True)
            scope.details["user_id"] = row.user_id
            if row.revoked_at is None:
                row.revoked_at = self.now()
                row.revoked_by = by_name(actor)
                row.revoke_reason = store.clean_text(reason) or "revoked"

    # -- internals -----------------------------------------------------------------------------
    @functools.cached_property
    def _known(self) -> changes.Kept[tuple[tuple[str, ...], str | None], _Known]:
        """Tokens resolved at the current governance counter (keyed by their digests under
        every live key version: a destroyed version changes the key, so such a token is
        looked up again and refused)."""
        return changes.Kept()

    def _idle_limit(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.session_idle_minutes)

    def _resolve(self, session: Session, token: str, now: dt.datetime, kind: str = "") -> _Use:
        use = _Use()
        token = token.strip()
        if token.startswith(SESSION_PREFIX) and kind in ("", "session"):
            use.session_row = session.execute(
                select(SessionRow)
                .where(SessionRow.token_digest.in_(self.digests.candidates(token)))
                .with_for_update()
            ).scalar_one_or_none()
            row: SessionRow | ApiTokenRow | None = use.session_row
        elif token.startswith(API_TOKEN_PREFIX) and kind in ("", "api"):
            use.token_row = session.execute(
                select(ApiTokenRow)
                .where(ApiTokenRow.token_digest.in_(self.digests.candidates(token)))
                .with_for_update()
            ).scalar_one_or_none()
            row = use.token_row
        else:
            row = None
        if row is None:
            what = "session token" if kind == "session" else "token"
            return use.refuse(
                "unknown_token",
                AuthenticationError(
                    f"This {what} is not known here (mistyped, or from another hub).",
                    hint=SIGN_IN_AGAIN,
                ),
            )
        use.user = store.get_user(session, row.user_id)
        noun = "session" if use.session_row is not None else "API token"
        if row.revoked_at is not None:
            return use.refuse(
                "revoked",
                AuthenticationError(
                    f"This {noun} was revoked ({row.revoke_reason or 'no reason given'}).",
                    hint=SIGN_IN_AGAIN,
                ),
            )
        if use.session_row is not None:
            idle = dt.timedelta(minutes=self.settings.session_idle_minutes)
            if now >= use.session_row.absolute_expires_at:
                return use.refuse(
                    "session_expired",
                    AuthenticationError(
                        f"This session reached its {self.settings.session_absolute_hours}-hour "
                        "limit.",
                        hint="sign in again (havre login)",
                    ),
                )
            if now >= use.session_row.last_seen_at + idle:
                return use.refuse(
                    "session_idle",
                    AuthenticationError(
                        f"This session expired after {self.settings.session_idle_minutes} "
                        "minutes without activity.",
                        hint="sign in again (havre login)",
                    ),
                )
        if use.token_row is not None and now >= use.token_row.expires_at:
            return use.refuse(
                "token_expired",
                AuthenticationError("This API token has expired.", hint=SIGN_IN_AGAIN),
            )
        return self._check_account(session, use)

    @staticmethod
    def _check_account(session: Session, use: _Use) -> _Use:
        user = use.user
        assert user is not None
        if user.status != store.ACTIVE:
            return use.refuse(
                "account_suspended",
                AuthenticationError(
                    "The account is suspended.", hint="an administrator can reinstate it"
                ),
            )
        if store.is_locked(user):
            return use.refuse(
                "account_locked",
                AuthenticationError(
                    "The account is locked after repeated failed sign-ins.",
                    hint="an administrator can unlock it (havre user unlock)",
                ),
            )
        factor = session.get(TotpRow, user.id)
        if (factor is None or factor.confirmed_at is None) and not _via_idp(session, use):
            # second factor first: nothing but completing enrolment is allowed without it
            return use.refuse(
                "second_factor_not_enrolled",
                AuthenticationError(
                    "The account has not confirmed its second factor.",
                    hint="sign in with a code from the authenticator app (havre login --totp)",
                ),
            )
        return use

    def _audit_refusal(
        self, session: Session, use: _Use, client_address: str | None, project_id: str | None
    ) -> None:
        if use.user is None:
            actor = anonymous(client_address)
        else:
            actor = person(
                use.user,
                session_id=use.session_row.id if use.session_row else None,
                token_id=use.token_row.id if use.token_row else None,
                client_address=client_address,
            )
        if use.session_row is not None:
            target = Target("session", use.session_row.id)
        elif use.token_row is not None:
            target = Target("token", use.token_row.id)
        else:
            target = Target("token")
        self.audit.append(
            session,
            actor,
            IdentityAction.TOKEN_USE,
            target,
            Outcome.DENIED,
            reason=use.error.message if use.error else use.reason,
            details={"reason": use.reason},
            project_id=project_id,
        )


def _touch_due(last: dt.datetime | None, now: dt.datetime) -> bool:
    return last is None or now - last >= TOUCH_EVERY


def _via_idp(session: Session, use: _Use) -> bool:
    """Was the second factor proved by an identity provider (OpenID Connect amr/acr) rather
    than by our TOTP? Then the missing TOTP enrolment is not a gap."""
    if use.session_row is not None:
        return use.session_row.second_factor == "idp"
    if use.token_row is not None and use.token_row.created_in_session is not None:
        origin = session.get(SessionRow, use.token_row.created_in_session)
        return origin is not None and origin.second_factor == "idp"
    return False
