"""Accounts: one personal account per person, created by an administrator (or, for the very
first administrator, by the local operator); attestations, suspension, unlocking, passwords,
second-factor reset and recovery codes."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from havre.audit import Outcome
from havre.core.actor import Actor
from havre.core.errors import AuthenticationError, PermissionDenied, StateError, UsageError
from havre.core.ids import ALPHABET, new_id
from havre.governance.identity import lockout, store
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.base import by_name, user_target
from havre.governance.identity.bearer import BearerMixin
from havre.governance.identity.duties import require_distinct, require_person
from havre.governance.identity.grants import GrantsMixin, append_grant_entry, place_grant
from havre.governance.identity.models import RecoveryCodeRow, TotpRow, UserRow
from havre.governance.identity.passwords import check_password, hash_password, verify_password
from havre.governance.identity.roles import BOOTSTRAP_ADMINS, Role, parse_role
from havre.governance.identity.totp import provisioning_uri
from havre.governance.identity.views import NewUser, UserView

RECOVERY_CODE_COUNT = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# Role mailboxes are read by several people: an account on one would be a shared account.
SHARED_MAILBOXES = frozenset(
    {
        "accueil", "admin", "administrateur", "administrator", "commun", "contact", "direction",
        "dpo", "equipe", "group", "groupe", "hello", "help", "info", "infos", "lab", "labo",
        "no-reply", "noreply", "office", "postmaster", "recherche", "research", "rgpd",
        "secretariat", "service", "shared", "staff", "support", "team", "webmaster",
    }
)  # fmt: skip


def new_recovery_code() -> str:
    """16 symbols of the ids' 32 (Crockford base32): 80 bits, in four groups of four."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def check_email(email: str) -> str:
    email = store.normalize_email(email)
    if not store.is_plain(email) or not _EMAIL.match(email):
        raise UsageError(f"'{email}' is not an e-mail address.")
    local = email.split("@", 1)[0].split("+", 1)[0]
    if local in SHARED_MAILBOXES:
        raise UsageError(
            f"'{local}@...' looks like a shared mailbox; accounts are personal.",
            hint="use the person's own professional address",
        )
    return email


def _check_text(value: str, what: str) -> str:
    value = " ".join(value.split())
    if not 1 <= len(value) <= 200 or not store.is_plain(value):
        raise UsageError(f"The {what} must be 1 to 200 printable characters.")
    return value


class AccountsMixin(GrantsMixin, BearerMixin):
    def add_user(
        self,
        actor: Actor,
        *,
        email: str,
        name: str,
        organisation: str,
        password: str,
        roles: Sequence[tuple[Role | str, str | None]] = (),
        training_attested_on: dt.date | None = None,
        terms_signed_on: dt.date | None = None,
        terms_version: str | None = None,
    ) -> NewUser:
        """Create a personal account, its (unconfirmed) TOTP secret and its roles."""
        with self._audited(actor, IdentityAction.USER_ADD, user_target(None)) as scope:
            session = scope.session
            wanted = [(parse_role(r), p) for r, p in roles]
            if actor.is_operator:
                seats_admin = any(r is Role.ADMIN for r, _ in wanted)
                if not seats_admin or store.active_admins(session) >= BOOTSTRAP_ADMINS:
                    raise PermissionDenied(
                        f"The local operator can only create the first {BOOTSTRAP_ADMINS} "
                        "administrators; accounts are created by a named administrator.",
                        hint="sign in as an administrator (havre login) and pass --token",
                    )
            else:
                self._require_admin(actor, "create accounts")
            email = check_email(email)
            name = _check_text(name, "name")
            organisation = _check_text(organisation, "organisation")
            existing = store.user_by_email(session, email)
            if existing is not None:
                raise StateError(
                    f"An account with this e-mail already exists ({existing.id}); "
                    "each person has one account.",
                    hint="grant roles to the existing account instead",
                )
            check_password(password, email=email, name=name)
            now = self.now()
            user = UserRow(
                id=new_id("usr"),
                email=email,
                name=name,
                organisation=organisation,
                status=store.ACTIVE,
                password_hash=hash_password(password),
                password_changed_at=now,
                created_at=now,
                active_since=now,
                created_by=actor.user_id,
                created_by_name=actor.name,
                failed_attempts=0,
            )
            _apply_attestations(user, now, training_attested_on, terms_signed_on, terms_version)
            session.add(user)
            session.flush()
            scope.target = user_target(user.id)
            secret = self.totp.new_secret()
            session.add(
                TotpRow(
                    user_id=user.id, secret_sealed=self.totp.seal(user.id, secret), created_at=now
                )
            )
            for role, project_id in wanted:
                basis, state = self._authorize_grant(session, actor, user, role, project_id)
                row = place_grant(
                    session, actor, user, role, project_id, now, basis=basis, state=state
                )
                action = (
                    IdentityAction.ROLE_REQUEST
                    if state == store.PENDING
                    else IdentityAction.ROLE_GRANT
                )
                append_grant_entry(self.audit, session, actor, action, row)
            scope.details = {"user_id": user.id, "roles": [r.value for r, _ in wanted]}
            return NewUser(store.user_view(session, user), provisioning_uri(secret, email))

    # -- reading -------------------------------------------------------------------------------
    def list_users(self, actor: Actor, status: str | None = None) -> list[UserView]:
        self._require_reader(actor, "list accounts")
        if status not in (None, store.ACTIVE, store.SUSPENDED):
            raise UsageError(f"Unknown status '{status}'.", hint="use 'active' or 'suspended'")
        with self.db.transaction() as session:
            query = select(UserRow).order_by(UserRow.created_at, UserRow.id)
            if status is not None:
                query = query.where(UserRow.status == status)
            return [store.user_view(session, row) for row in session.execute(query).scalars()]

    def show_user(self, actor: Actor, user_ref: str) -> UserView:
        with self.db.transaction() as session:
            row = store.find_user(session, user_ref)
            if row.id != actor.user_id:
                self._require_reader(actor, "see another person's account")
            return store.user_view(session, row, all_grants=True)

    @staticmethod
    def _require_reader(actor: Actor, what: str) -> None:
        if not (actor.is_operator or actor.has_role(Role.ADMIN) or actor.has_role(Role.AUDITOR)):
            raise PermissionDenied(f"Only administrators and auditors can {what}.")

    # -- administration ------------------------------------------------------------------------
    def attest(
        self,
        actor: Actor,
        user_ref: str,
        *,
        training_attested_on: dt.date | None = None,
        terms_signed_on: dt.date | None = None,
        terms_version: str | None = None,
    ) -> UserView:
        """Record a training attestation and/or signed terms of use."""
        with self._audited(actor, IdentityAction.USER_ATTEST, user_target(None)) as scope:
            self._require_admin(actor, "record attestations")
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            require_distinct(actor.user_id, user.id, "record their own attestations")
            if training_attested_on is None and terms_signed_on is None and terms_version is None:
                raise UsageError("Nothing to record: give a training date or the signed terms.")
            _apply_attestations(
                user, self.now(), training_attested_on, terms_signed_on, terms_version
            )
            scope.details = {
                "training_attested_on": training_attested_on,
                "terms_signed_on": user.terms_signed_on if terms_version else None,
                "terms_version": terms_version,
            }
            return store.user_view(scope.session, user)

    def suspend_user(self, actor: Actor, user_ref: str, reason: str | None = None) -> UserView:
        """Suspend an account and end its sessions and tokens (administrator or operator)."""
        with self._audited(actor, IdentityAction.USER_SUSPEND, user_target(None)) as scope:
            self._require_admin(actor, "suspend accounts", operator_may=True)
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            if user.status == store.SUSPENDED:
                raise StateError(f"User {user.id} is already suspended.")
            sessions, tokens = suspend(
                scope.session, user, self.now(), by_name(actor), reason or "suspended"
            )
            scope.details = {"sessions_ended": sessions, "tokens_revoked": tokens}
            return store.user_view(scope.session, user)

    def reinstate_user(self, actor: Actor, user_ref: str) -> UserView:
        """Lift a suspension: an administrator decides the person still needs access."""
        with self._audited(actor, IdentityAction.USER_REINSTATE, user_target(None)) as scope:
            self._require_admin(actor, "reinstate accounts")
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            require_distinct(actor.user_id, user.id, "reinstate their own account")
            if user.status != store.SUSPENDED:
                raise StateError(f"User {user.id} is not suspended.")
            user.status = store.ACTIVE
            user.suspended_at = None
            user.suspended_reason = None
            user.active_since = self.now()
            return store.user_view(scope.session, user)

    def unlock_user(self, actor: Actor, user_ref: str) -> UserView:
        """Lift a lockout after failed sign-ins (administrator or operator)."""
        with self._audited(actor, IdentityAction.USER_UNLOCK, user_target(None)) as scope:
            self._require_admin(actor, "unlock accounts", operator_may=True)
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            if actor.user_id is not None:
                require_distinct(actor.user_id, user.id, "unlock their own account")
            if not store.is_locked(user) and user.failed_attempts == 0:
                raise StateError(f"User {user.id} is not locked.")
            scope.details = {"failed_attempts": user.failed_attempts}
            lockout.clear(user)
            return store.user_view(scope.session, user)

    # -- credentials ---------------------------------------------------------------------------
    def change_password(self, actor: Actor, current_password: str, new_password: str) -> None:
        """Change one's own password (signed-in session). Other sessions and all API tokens end."""
        user_id = require_person(actor, "change a password")
        if actor.session_id is None:
            raise PermissionDenied("Passwords are changed from a signed-in session.")
        now = self.now()
        with self.db.transaction() as session:
            user = store.get_user(session, user_id, lock=True)
            if not verify_password(user.password_hash, current_password):
                locked = lockout.register_failure(user, now, self.settings.lockout_threshold)
                self.audit.append(
                    session,
                    actor,
                    IdentityAction.PASSWORD_CHANGE,
                    user_target(user.id),
                    Outcome.DENIED,
                    reason="wrong_password",
                    details={"failed_attempts": user.failed_attempts, "locked": locked},
                )
                refused = True
            else:
                refused = False
        if refused:
            raise AuthenticationError("The current password is not correct.")
        with self._audited(actor, IdentityAction.PASSWORD_CHANGE, user_target(user_id)) as scope:
            user = store.get_user(scope.session, user_id, lock=True)
            check_password(new_password, email=user.email, name=user.name)
            user.password_hash = hash_password(new_password)
            user.password_changed_at = now
            # the session that made the change stays open; every other one ends
            sessions, tokens = store.revoke_credentials(
                scope.session,
                user.id,
                now,
                user.id,
                "password changed",
                keep_session=actor.session_id,
            )
            scope.details = {"sessions_ended": sessions, "tokens_revoked": tokens}

    def reset_password(self, actor: Actor, user_ref: str, new_password: str) -> None:
        """An administrator sets a new password for someone else; their sessions and tokens end."""
        with self._audited(actor, IdentityAction.PASSWORD_RESET, user_target(None)) as scope:
            self._require_admin(actor, "reset passwords")
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            require_distinct(actor.user_id, user.id, "reset their own password this way")
            check_password(new_password, email=user.email, name=user.name)
            now = self.now()
            user.password_hash = hash_password(new_password)
            user.password_changed_at = now
            sessions, tokens = store.revoke_credentials(
                scope.session, user.id, now, by_name(actor), "password reset"
            )
            scope.details = {"sessions_ended": sessions, "tokens_revoked": tokens}

    def reset_totp(self, actor: Actor, user_ref: str) -> str:
        """New TOTP secret for someone who lost their authenticator. Returns the provisioning
        URI (once); their recovery codes, sessions and tokens end; the next sign-in with a
        valid code confirms the new enrolment."""
        with self._audited(actor, IdentityAction.TOTP_RESET, user_target(None)) as scope:
            self._require_admin(actor, "reset a second factor")
            user = store.find_user(scope.session, user_ref, lock=True)
            scope.target = user_target(user.id)
            require_distinct(actor.user_id, user.id, "reset their own second factor")
            now = self.now()
            secret = self.totp.new_secret()
            factor = scope.session.get(TotpRow, user.id, with_for_update=True)
            if factor is None:
                factor = TotpRow(user_id=user.id, created_at=now, secret_sealed=b"")
                scope.session.add(factor)
            factor.secret_sealed = self.totp.seal(user.id, secret)
            factor.created_at = now
            factor.confirmed_at = None
            factor.last_step = None
            scope.session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user.id))
            sessions, tokens = store.revoke_credentials(
                scope.session, user.id, now, by_name(actor), "second factor reset"
            )
            scope.details = {"sessions_ended": sessions, "tokens_revoked": tokens}
            return provisioning_uri(secret, user.email)

    def new_recovery_codes(self, actor: Actor) -> list[str]:
        """Fresh single-use recovery codes for the signed-in person (earlier ones stop working).
        Shown this once; only keyed digests are kept."""
        target = user_target(actor.user_id)
        with self._audited(actor, IdentityAction.RECOVERY_CODES, target) as scope:
            user_id = require_person(actor, "create recovery codes")
            if actor.session_id is None:
                raise PermissionDenied("Recovery codes are created from a signed-in session.")
            factor = scope.session.get(TotpRow, user_id)
            if factor is None or factor.confirmed_at is None:
                raise StateError("Confirm the authenticator app first (sign in with a code).")
            codes = self._replace_codes(scope.session, user_id)
            scope.details = {"codes": len(codes)}
            return codes

    def _replace_codes(self, session: Session, user_id: str) -> list[str]:
        session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
        now = self.now()
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        for code in codes:
            session.add(
                RecoveryCodeRow(
                    id=new_id("rec"),
                    user_id=user_id,
                    code_digest=self.digests.digest("".join(c for c in code if c.isalnum())),
                    created_at=now,
                )
            )
        return codes


def suspend(
    session: Session, user: UserRow, now: dt.datetime, by: str, reason: str
) -> tuple[int, int]:
    user.status = store.SUSPENDED
    user.suspended_at = now
    user.suspended_reason = store.clean_text(reason) or "suspended"
    return store.revoke_credentials(session, user.id, now, by, "account suspended")


def _apply_attestations(
    user: UserRow,
    now: dt.datetime,
    training_attested_on: dt.date | None,
    terms_signed_on: dt.date | None,
    terms_version: str | None,
) -> None:
    today = now.date()
    for value, what in ((training_attested_on, "training"), (terms_signed_on, "terms")):
        if value is not None and value > today:
            raise UsageError(f"The {what} date {value.isoformat()} is in the future.")
    if terms_signed_on is not None and not terms_version:
        raise UsageError(
            "Name the version of the terms of use that were signed.", hint="--terms-version V"
        )
    if training_attested_on is not None:
        user.training_attested_on = training_attested_on
    if terms_version:
        version = terms_version.strip()
        if not 1 <= len(version) <= 32 or not store.is_plain(version):
            raise UsageError("A terms-of-use version is 1 to 32 characters.")
        user.terms_version = version
        user.terms_signed_on = terms_signed_on or today
