"""Signing in (password + second factor), sessions, and turning a bearer token into an Actor.

Failures are written to the audit log (outcome ``denied``) in the same transaction as the
failure count they add to, and only then raised. A wrong password, an unknown e-mail, a wrong
or replayed code, a locked or suspended account all give the same message, and an unknown
e-mail is checked against a dummy hash so it takes as long as a wrong password.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit import Outcome, Target
from havre.core.actor import Actor
from havre.core.errors import AuthenticationError, UsageError
from havre.core.ids import new_id
from havre.governance.identity import lockout, store
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.base import IdentityBase, user_target
from havre.governance.identity.digests import new_session_token
from havre.governance.identity.models import RecoveryCodeRow, SessionRow, TotpRow, UserRow
from havre.governance.identity.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from havre.governance.identity.totp import matching_step
from havre.governance.identity.views import LoginResult, SessionInfo

SIGN_IN_REFUSED = "Sign-in refused: the e-mail, password or second factor was not accepted."
SIGN_IN_HINT = (
    "check them and try again; repeated failures first slow down, then lock the account "
    "until an administrator unlocks it"
)
SECOND_FACTORS = ("totp", "recovery_code", "idp")


INACTIVITY_RULE = "inactivity-rule"
"""Who the audit log names for a suspension found at sign-in (no person decided it)."""


def anonymous(client_address: str | None) -> Actor:
    """Who the audit log names when a sign-in or token matches no account."""
    return Actor(user_id=None, name="unauthenticated", client_address=client_address)


def person(
    user: UserRow,
    *,
    session_id: str | None = None,
    token_id: str | None = None,
    client_address: str | None = None,
    project_id: str | None = None,
    roles: frozenset[str] = frozenset(),
    justification: str | None = None,
) -> Actor:
    return Actor(
        user_id=user.id,
        name=user.name,
        roles=roles,
        project_id=project_id,
        justification=justification,
        token_id=token_id,
        session_id=session_id,
        client_address=client_address,
    )


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


@dataclass
class _Attempt:
    failure: str | None = None
    counts: bool = False
    second_factor: str = "totp"
    enrolment_confirmed: bool = False


class AuthenticationMixin(IdentityBase):
    # -- sign-in -------------------------------------------------------------------------------
    def authenticate(
        self,
        email: str,
        password: str,
        totp: str | None = None,
        *,
        recovery_code: str | None = None,
        client_address: str | None = None,
    ) -> LoginResult:
        """Check password and second factor; open a session. Confirms TOTP enrolment on the
        first valid code."""
        if (totp is None) == (recovery_code is None):
            raise UsageError(
                "Give a code from the authenticator app or a recovery code (one of the two).",
                hint="--totp CODE or --recovery-code CODE",
            )
        now = self.now()
        with self.db.transaction() as session:
            user = store.user_by_email(session, email, lock=True)
            # the hash is always verified, so an unknown e-mail costs what a wrong password does
            password_ok = verify_password(
                user.password_hash if user is not None else dummy_hash(), password
            )
            if user is None:
                self._refuse_unknown(session, email, client_address)
            else:
                attempt = self._check(session, user, password_ok, totp, recovery_code, now)
                if attempt.failure is None:
                    if needs_rehash(user.password_hash):
                        user.password_hash = hash_password(password)
                    return self._succeed(session, user, attempt, client_address, now)
                self._refuse(session, user, attempt, client_address, now)
        raise AuthenticationError(SIGN_IN_REFUSED, hint=SIGN_IN_HINT)

    def _check(
        self,
        session: Session,
        user: UserRow,
        password_ok: bool,
        totp: str | None,
        recovery_code: str | None,
        now: dt.datetime,
    ) -> _Attempt:
        if user.status != store.ACTIVE:
            return _Attempt("account_suspended")
        if store.is_dormant(user, now, self.settings.inactivity_days):
            # what the inactivity job would have done, done now: it may not have run
            self._suspend_dormant(session, user, now)
            return _Attempt("account_inactive")
        if store.is_locked(user):
            return _Attempt("account_locked")
        if user.not_before is not None and now < user.not_before:
            return _Attempt("too_soon_after_failure")
        if not password_ok:
            return _Attempt("wrong_password", counts=True)
        factor = session.execute(
            select(TotpRow).where(TotpRow.user_id == user.id).with_for_update()
        ).scalar_one_or_none()
        if factor is None:
            return _Attempt("no_second_factor", counts=True)
        if totp is not None:
            secret = self.totp.unseal(user.id, factor.secret_sealed)
            step = matching_step(secret, totp, now)
            if step is None:
                return _Attempt("wrong_totp", counts=True)
            if factor.last_step is not None and step <= factor.last_step:
                return _Attempt("replayed_totp", counts=True)
            factor.last_step = step
            confirmed = factor.confirmed_at is None
            if confirmed:
                factor.confirmed_at = now
            return _Attempt(second_factor="totp", enrolment_confirmed=confirmed)
        if factor.confirmed_at is None:
            return _Attempt("enrolment_not_confirmed", counts=True)
        digests = self.digests.candidates(normalize_recovery_code(recovery_code or ""))
        code = session.execute(
            select(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.user_id == user.id,
                RecoveryCodeRow.code_digest.in_(digests),
                RecoveryCodeRow.used_at.is_(None),
            )
            .with_for_update()
        ).scalar_one_or_none()
        if code is None:
            return _Attempt("wrong_recovery_code", counts=True)
        code.used_at = now
        return _Attempt(second_factor="recovery_code")

    def _suspend_dormant(self, session: Session, user: UserRow, now: dt.datetime) -> None:
        days = self.settings.inactivity_days
        reason = f"no sign-in for {days} days"
        user.status = store.SUSPENDED
        user.suspended_at = now
        user.suspended_reason = reason
        sessions, tokens = store.revoke_credentials(
            session, user.id, now, INACTIVITY_RULE, "account suspended"
        )
        self.audit.append(
            session,
            Actor(user_id=None, name=INACTIVITY_RULE),
            IdentityAction.USER_SUSPEND,
            user_target(user.id),
            reason=reason,
            details={
                "inactive_days": days,
                "found_at": "sign-in",
                "sessions_ended": sessions,
                "tokens_revoked": tokens,
            },
        )

    def _refuse_unknown(self, session: Session, email: str, client_address: str | None) -> None:
        self.audit.append(
            session,
            anonymous(client_address),
            IdentityAction.USER_LOGIN,
            user_target(None),
            Outcome.DENIED,
            reason="unknown_account",
            details={"email_fingerprint": self._fingerprint(email)},
        )

    def _refuse(
        self,
        session: Session,
        user: UserRow,
        attempt: _Attempt,
        client_address: str | None,
        now: dt.datetime,
    ) -> None:
        actor = person(user, client_address=client_address)
        locked_now = False
        if attempt.counts:
            locked_now = lockout.register_failure(user, now, self.settings.lockout_threshold)
        self.audit.append(
            session,
            actor,
            IdentityAction.USER_LOGIN,
            user_target(user.id),
            Outcome.DENIED,
            reason=attempt.failure,
            details={"failed_attempts": user.failed_attempts},
        )
        if locked_now:
            self.audit.append(
                session,
                actor,
                IdentityAction.USER_LOCK,
                user_target(user.id),
                Outcome.OK,
                reason=f"{user.failed_attempts} consecutive failed sign-ins",
                details={"failed_attempts": user.failed_attempts},
            )

    def _succeed(
        self,
        session: Session,
        user: UserRow,
        attempt: _Attempt,
        client_address: str | None,
        now: dt.datetime,
    ) -> LoginResult:
        lockout.clear(user)
        user.last_login_at = now
        row, token = self._open_session(session, user, attempt.second_factor, client_address, now)
        codes_left = self._codes_left(session, user.id)
        notes = []
        if attempt.enrolment_confirmed:
            notes.append(
                "Second factor confirmed. Create recovery codes now: havre user recovery-codes"
            )
        if attempt.second_factor == "recovery_code":
            notes.append(f"A recovery code was used; {codes_left} left.")
        self.audit.append(
            session,
            person(user, session_id=row.id, client_address=client_address),
            IdentityAction.USER_LOGIN,
            user_target(user.id),
            details={
                "second_factor": attempt.second_factor,
                "enrolment_confirmed": attempt.enrolment_confirmed,
                "recovery_codes_left": codes_left,
            },
        )
        return LoginResult(
            user_id=user.id,
            token=token,
            session=self._session_info(row),
            second_factor=attempt.second_factor,
            enrolment_confirmed=attempt.enrolment_confirmed,
            recovery_codes_left=codes_left,
            notes=tuple(notes),
        )

    def _fingerprint(self, email: str) -> str:
        """A keyed fingerprint of an e-mail: repeated tries on one unknown address can be told
        apart in the audit log without writing the address there."""
        raw = self.digests.digest("email:" + store.normalize_email(email))
        mac = hashlib.sha256(raw.encode()).digest()
        return base64.urlsafe_b64encode(mac[:15]).decode("ascii")

    @staticmethod
    def _codes_left(session: Session, user_id: str) -> int:
        rows = session.execute(
            select(RecoveryCodeRow.id).where(
                RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None)
            )
        ).all()
        return len(rows)

    # -- sessions ------------------------------------------------------------------------------
    def _open_session(
        self,
        session: Session,
        user: UserRow,
        second_factor: str,
        client_address: str | None,
        now: dt.datetime,
    ) -> tuple[SessionRow, str]:
        token = new_session_token()
        row = SessionRow(
            id=new_id("ses"),
            user_id=user.id,
            token_digest=self.digests.digest(token),
            second_factor=second_factor,
            client_address=client_address,
            created_at=now,
            last_seen_at=now,
            absolute_expires_at=now + dt.timedelta(hours=self.settings.session_absolute_hours),
        )
        session.add(row)
        session.flush()
        return row, token

    def create_session(
        self, user_id: str, *, second_factor: str, client_address: str | None = None
    ) -> LoginResult:
        """Open a session for someone whose identity was proved elsewhere: a verified OpenID
        Connect login whose ``amr``/``acr`` show a second factor (``second_factor="idp"``).
        Never call it without such a proof: it checks no password."""
        if second_factor not in SECOND_FACTORS:
            raise UsageError(f"Unknown second factor '{second_factor}'.")
        now = self.now()
        with self.db.transaction() as session:
            user = store.get_user(session, user_id, lock=True)
            if user.status == store.ACTIVE and not store.is_locked(user):
                user.last_login_at = now
                row, token = self._open_session(session, user, second_factor, client_address, now)
                self.audit.append(
                    session,
                    person(user, session_id=row.id, client_address=client_address),
                    IdentityAction.SESSION_CREATE,
                    Target("session", row.id),
                    details={"second_factor": second_factor},
                )
                return LoginResult(user.id, token, self._session_info(row), second_factor)
            self.audit.append(
                session,
                person(user, client_address=client_address),
                IdentityAction.SESSION_CREATE,
                user_target(user.id),
                Outcome.DENIED,
                reason="account_suspended" if user.status != store.ACTIVE else "account_locked",
            )
        raise AuthenticationError(SIGN_IN_REFUSED, hint=SIGN_IN_HINT)

    def _session_info(self, row: SessionRow) -> SessionInfo:
        return SessionInfo(
            id=row.id,
            user_id=row.user_id,
            second_factor=row.second_factor,
            client_address=row.client_address,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            idle_expires_at=row.last_seen_at + self._idle(),
            absolute_expires_at=row.absolute_expires_at,
            revoked_at=row.revoked_at,
        )

    def _idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.session_idle_minutes)
