"""Role grants: who may give which role, four eyes for admin and data steward, and the rules
that must hold whenever a role is added (prerequisites, scope, combinations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit import AuditLog, Target
from havre.core.actor import Actor
from havre.core.errors import NotFoundError, PermissionDenied, StateError
from havre.core.ids import new_id
from havre.governance.identity import store
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.base import IdentityBase
from havre.governance.identity.duties import require_distinct
from havre.governance.identity.models import RoleGrantRow, UserRow
from havre.governance.identity.roles import (
    BOOTSTRAP_ADMINS,
    DATA_ROLES,
    FOUR_EYES,
    Role,
    check_combination,
    check_scope,
    parse_role,
)
from havre.governance.identity.views import GrantView

REJECTED = "rejected"
REVOKED = "revoked"


def grant_target(grant_id: str | None) -> Target:
    return Target("role_grant", grant_id)


def check_prerequisites(user: UserRow, role: Role) -> None:
    """Every role needs signed terms of use; data roles also a training attestation."""
    if user.status != store.ACTIVE:
        raise StateError(
            f"User {user.id} is {user.status}: no role can be granted.",
            hint="reinstate the account first (havre user reinstate)",
        )
    missing = []
    if user.terms_signed_on is None:
        missing.append("signed terms of use")
    if role in DATA_ROLES and user.training_attested_on is None:
        missing.append("a training attestation")
    if missing:
        raise StateError(
            f"The role '{role}' needs {' and '.join(missing)} on record for user {user.id}.",
            hint="record them with 'havre user attest' before granting the role",
        )


def place_grant(
    session: Session,
    actor: Actor,
    user: UserRow,
    role: Role,
    project_id: str | None,
    now: dt.datetime,
    *,
    basis: str,
    state: str,
) -> RoleGrantRow:
    """Check the rules and add the grant row (the caller has authorized and audits)."""
    store.check_project(project_id)
    check_scope(role, project_id)
    check_prerequisites(user, role)
    existing = store.grants_of(session, user.id, (store.ACTIVE, store.PENDING))
    for grant in existing:
        if grant.role == role.value and grant.project_id == project_id:
            where = f" on project {project_id}" if project_id else ""
            raise StateError(
                f"User {user.id} already has the role '{role}'{where} ({grant.state}, {grant.id}).",
                hint="nothing to do" if grant.state == store.ACTIVE else "approve or reject it",
            )
    check_combination(store.held(existing), role, project_id)
    row = RoleGrantRow(
        id=new_id("rgr"),
        user_id=user.id,
        role=role.value,
        project_id=project_id,
        state=state,
        basis=basis,
        requested_by=actor.user_id,
        requested_by_name=actor.name,
        requested_at=now,
        approved_by=actor.user_id if state == store.ACTIVE else None,
        approved_at=now if state == store.ACTIVE else None,
    )
    session.add(row)
    session.flush()
    return row


class GrantsMixin(IdentityBase):
    # -- granting ------------------------------------------------------------------------------
    def grant_role(
        self, actor: Actor, user_ref: str, role: Role | str, project_id: str | None = None
    ) -> GrantView:
        """Give a role. Admin and data steward start pending until a second admin approves."""
        role = parse_role(role)
        action = IdentityAction.ROLE_REQUEST if role in FOUR_EYES else IdentityAction.ROLE_GRANT
        with self._audited(actor, action, grant_target(None), project_id=project_id) as scope:
            user = store.find_user(scope.session, user_ref, lock=True)
            basis, state = self._authorize_grant(scope.session, actor, user, role, project_id)
            if basis == "bootstrap":
                scope.details["bootstrap"] = True
            row = place_grant(
                scope.session, actor, user, role, project_id, self.now(), basis=basis, state=state
            )
            scope.target = grant_target(row.id)
            scope.details.update(
                {"user_id": user.id, "role": role.value, "state": state, "basis": basis}
            )
            return store.grant_view(row)

    def _authorize_grant(
        self, session: Session, actor: Actor, user: UserRow, role: Role, project_id: str | None
    ) -> tuple[str, str]:
        """Who may give what. Returns (basis, initial state)."""
        if actor.is_operator:
            # The operator holds the master key; it may seat the first administrators so the
            # hub can be run by named people, and nothing else.
            if role is Role.ADMIN and store.active_admins(session) < BOOTSTRAP_ADMINS:
                return "bootstrap", store.ACTIVE
            raise PermissionDenied(
                f"The local operator can only seat the first {BOOTSTRAP_ADMINS} administrators; "
                "roles are granted by a named administrator.",
                hint="sign in as an administrator (havre login) and pass --token",
            )
        require_distinct(actor.user_id, user.id, "grant a role to themselves")
        if actor.has_role(Role.ADMIN):
            if role in FOUR_EYES:
                return "four_eyes", store.PENDING
            return "direct", store.ACTIVE
        if (
            role is Role.RESEARCHER
            and project_id is not None
            and actor.project_id == project_id
            and actor.has_role(Role.PROJECT_LEAD)
        ):
            return "direct", store.ACTIVE
        raise PermissionDenied(
            f"Only an administrator can grant the role '{role}'"
            + (
                "; a project lead can add researchers to their own project."
                if role is Role.RESEARCHER
                else "."
            ),
            hint="ask an administrator of the hub",
        )

    def grant_within(
        self,
        session: Session,
        actor: Actor,
        user_id: str,
        role: Role | str,
        project_id: str | None,
        *,
        reason: str,
    ) -> GrantView:
        """For another service, inside its own audited transaction, once it has authorized the
        change (e.g. the projects service seating the lead of an accepted project). Applies
        every rule but four eyes, which this path refuses; writes a ``role.grant`` entry."""
        role = parse_role(role)
        if role in FOUR_EYES:
            raise PermissionDenied(
                f"The role '{role}' needs two administrators; it cannot be granted by a service."
            )
        user = store.get_user(session, user_id, lock=True)
        row = place_grant(
            session, actor, user, role, project_id, self.now(), basis="delegated", state="active"
        )
        append_grant_entry(self.audit, session, actor, IdentityAction.ROLE_GRANT, row, reason)
        return store.grant_view(row)

    def revoke_within(
        self,
        session: Session,
        actor: Actor,
        project_id: str,
        *,
        reason: str,
        keep: Collection[str] = (),
        roles: Collection[Role] | None = None,
    ) -> list[GrantView]:
        """For another service, inside its own audited transaction: end the active and pending
        grants on ``project_id`` (of ``roles`` only, when given) of every user not in ``keep``
        (e.g. the projects service at closure, or when an amendment leaves someone out of the
        team). Writes a ``role.revoke`` entry per grant ended."""
        query = (
            select(RoleGrantRow)
            .where(
                RoleGrantRow.project_id == project_id,
                RoleGrantRow.state.in_((store.ACTIVE, store.PENDING)),
            )
            .order_by(RoleGrantRow.requested_at, RoleGrantRow.id)
            .with_for_update()
        )
        if roles is not None:
            query = query.where(RoleGrantRow.role.in_([parse_role(r).value for r in roles]))
        ended = []
        for row in session.execute(query).scalars():
            if row.user_id in keep:
                continue
            _end(row, actor, self.now(), REVOKED, reason)
            append_grant_entry(self.audit, session, actor, IdentityAction.ROLE_REVOKE, row, reason)
            ended.append(store.grant_view(row))
        return ended

    # -- four eyes -----------------------------------------------------------------------------
    def approve_grant(self, actor: Actor, grant_id: str) -> GrantView:
        with self._audited(actor, IdentityAction.ROLE_APPROVE, grant_target(grant_id)) as scope:
            self._require_admin(actor, "approve a role")
            row = self._grant_row(scope.session, grant_id)
            scope.project_id = row.project_id
            scope.details.update({"user_id": row.user_id, "role": row.role})
            if row.state != store.PENDING:
                raise StateError(f"Grant {grant_id} is {row.state}, not pending.")
            require_distinct(actor.user_id, row.requested_by, "request and approve a role")
            require_distinct(actor.user_id, row.user_id, "approve a role for themselves")
            user = store.get_user(scope.session, row.user_id, lock=True)
            role = Role(row.role)
            check_prerequisites(user, role)
            others = [
                g for g in store.grants_of(scope.session, user.id, (store.ACTIVE,)) if g is not row
            ]
            check_combination(store.held(others), role, row.project_id)
            row.state = store.ACTIVE
            row.approved_by = actor.user_id
            row.approved_at = self.now()
            return store.grant_view(row)

    def reject_grant(self, actor: Actor, grant_id: str, reason: str | None = None) -> GrantView:
        with self._audited(actor, IdentityAction.ROLE_REJECT, grant_target(grant_id)) as scope:
            self._require_admin(actor, "reject a role request")
            row = self._grant_row(scope.session, grant_id)
            scope.project_id = row.project_id
            if row.state != store.PENDING:
                raise StateError(f"Grant {grant_id} is {row.state}, not pending.")
            _end(row, actor, self.now(), REJECTED, reason)
            scope.details.update({"user_id": row.user_id, "role": row.role})
            return store.grant_view(row)

    def revoke_grant(self, actor: Actor, grant_id: str, reason: str | None = None) -> GrantView:
        with self._audited(actor, IdentityAction.ROLE_REVOKE, grant_target(grant_id)) as scope:
            row = self._grant_row(scope.session, grant_id)
            scope.project_id = row.project_id
            scope.details.update({"user_id": row.user_id, "role": row.role})
            lead_of_project = (
                row.role == Role.RESEARCHER.value
                and row.project_id is not None
                and actor.project_id == row.project_id
                and actor.has_role(Role.PROJECT_LEAD)
            )
            if not lead_of_project:
                self._require_admin(actor, "revoke a role")
            if row.state not in (store.ACTIVE, store.PENDING):
                raise StateError(f"Grant {grant_id} is already {row.state}.")
            _end(row, actor, self.now(), REVOKED, reason)
            return store.grant_view(row)

    def pending_grants(self, actor: Actor) -> list[GrantView]:
        if not (actor.is_operator or actor.has_role(Role.ADMIN) or actor.has_role(Role.AUDITOR)):
            raise PermissionDenied("Only administrators and auditors can list pending grants.")
        with self.db.transaction() as session:
            rows = session.execute(
                select(RoleGrantRow)
                .where(RoleGrantRow.state == store.PENDING)
                .order_by(RoleGrantRow.requested_at)
            ).scalars()
            return [store.grant_view(r) for r in rows]

    # -- questions other services ask ---------------------------------------------------------
    def roles_of(self, user_id: str, project_id: str | None = None) -> frozenset[Role]:
        with self.db.transaction() as session:
            return frozenset(Role(r) for r in store.roles_for(session, user_id, project_id))

    def project_team(self, project_id: str) -> frozenset[str]:
        """User ids of the project's team (researchers and leads), for ``require_not_member``."""
        with self.db.transaction() as session:
            return frozenset(store.team_of(session, project_id))

    def users_with_role(self, role: Role | str, project_id: str | None = None) -> list[str]:
        """Active accounts holding ``role`` hub-wide, or on ``project_id`` when given."""
        role = parse_role(role)
        with self.db.transaction() as session:
            query = (
                select(RoleGrantRow.user_id)
                .join(UserRow, UserRow.id == RoleGrantRow.user_id)
                .where(
                    RoleGrantRow.role == role.value,
                    RoleGrantRow.state == store.ACTIVE,
                    UserRow.status == store.ACTIVE,
                )
            )
            if project_id is None:
                query = query.where(RoleGrantRow.project_id.is_(None))
            else:
                query = query.where(RoleGrantRow.project_id == project_id)
            return sorted(set(session.execute(query).scalars()))

    @staticmethod
    def _grant_row(session: Session, grant_id: str) -> RoleGrantRow:
        row = None
        if store.is_plain(grant_id, 64):
            row = session.execute(
                select(RoleGrantRow).where(RoleGrantRow.id == grant_id).with_for_update()
            ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"No role grant {grant_id}.", hint="see 'havre access review'")
        return row


def _end(row: RoleGrantRow, actor: Actor, now: dt.datetime, state: str, reason: str | None) -> None:
    row.state = state
    row.ended_by = actor.user_id or actor.name
    row.ended_at = now
    row.end_reason = store.clean_text(reason)


def append_grant_entry(
    log: AuditLog,
    session: Session,
    actor: Actor,
    action: IdentityAction,
    row: RoleGrantRow,
    reason: str | None = None,
) -> None:
    log.append(
        session,
        actor,
        action,
        grant_target(row.id),
        reason=reason,
        details={"user_id": row.user_id, "role": row.role, "basis": row.basis},
        project_id=row.project_id,
    )
