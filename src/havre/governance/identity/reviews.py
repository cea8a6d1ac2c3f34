"""Access reviews: who holds what (by person or by project), suspension of inactive accounts,
and review campaigns in which a project's lead attests, line by line, who keeps access."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from havre.audit import Target
from havre.core.actor import Actor
from havre.core.errors import NotFoundError, PermissionDenied, StateError, UsageError
from havre.core.ids import new_id
from havre.governance.identity import store
from havre.governance.identity.accounts import AccountsMixin
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.api_tokens import TokensMixin, token_view
from havre.governance.identity.base import by_name, user_target
from havre.governance.identity.duties import require_distinct
from havre.governance.identity.grants import REVOKED, append_grant_entry
from havre.governance.identity.models import (
    AccessCampaignItemRow,
    AccessCampaignRow,
    ApiTokenRow,
    RoleGrantRow,
    SessionRow,
    TotpRow,
    UserRow,
)
from havre.governance.identity.roles import Role
from havre.governance.identity.views import (
    AccessReview,
    AccessRight,
    CampaignItemView,
    CampaignView,
    TokenView,
)

KEEP = "keep"
REMOVE = "remove"
OPEN = "open"
CLOSED = "closed"


def campaign_target(campaign_id: str | None) -> Target:
    return Target("access_campaign", campaign_id)


def _leads_project(actor: Actor, project_id: str) -> bool:
    return actor.project_id == project_id and actor.has_role(Role.PROJECT_LEAD)


def _oversees(actor: Actor) -> bool:
    return actor.is_operator or actor.has_role(Role.ADMIN) or actor.has_role(Role.AUDITOR)


class ReviewsMixin(AccountsMixin, TokensMixin):
    # -- who holds what ------------------------------------------------------------------------
    def access_review(
        self, actor: Actor, *, user_ref: str | None = None, project_id: str | None = None
    ) -> AccessReview:
        """Every right of a person, every person with a right on a project (hub-wide roles
        included: they reach every project), or everything."""
        with self._audited(actor, IdentityAction.ACCESS_REVIEW, Target("access")) as scope:
            store.check_project(project_id)
            session = scope.session
            user_id = store.find_user(session, user_ref).id if user_ref else None
            allowed = (
                _oversees(actor)
                or (user_id is not None and user_id == actor.user_id and project_id is None)
                or (
                    project_id is not None and user_id is None and _leads_project(actor, project_id)
                )
            )
            if not allowed:
                raise PermissionDenied(
                    "Access reviews are for administrators and auditors; a project lead may "
                    "review their project, anyone their own rights.",
                    hint="review your own rights with --user YOUR_ID, or act for your project",
                )
            query = (
                select(RoleGrantRow, UserRow)
                .join(UserRow, UserRow.id == RoleGrantRow.user_id)
                .where(RoleGrantRow.state.in_([store.ACTIVE, store.PENDING]))
                .order_by(UserRow.email, RoleGrantRow.project_id, RoleGrantRow.role)
            )
            if user_id is not None:
                query = query.where(RoleGrantRow.user_id == user_id)
            if project_id is not None:
                query = query.where(
                    or_(RoleGrantRow.project_id == project_id, RoleGrantRow.project_id.is_(None))
                )
            rights = tuple(self._right(session, g, u) for g, u in session.execute(query).all())
            tokens, sessions = self._credentials(session, user_id, project_id)
            scope.project_id = project_id
            scope.details = {"user_id": user_id, "rights": len(rights)}
            return AccessReview(
                generated_at=self.now(),
                user_id=user_id,
                project_id=project_id,
                rights=rights,
                tokens=tokens,
                active_sessions=sessions,
            )

    @staticmethod
    def _right(session: Session, grant: RoleGrantRow, user: UserRow) -> AccessRight:
        factor = session.get(TotpRow, user.id)
        return AccessRight(
            user_id=user.id,
            email=user.email,
            name=user.name,
            organisation=user.organisation,
            status=user.status,
            locked=store.is_locked(user),
            mfa_confirmed=factor is not None and factor.confirmed_at is not None,
            last_login_at=user.last_login_at,
            grant=store.grant_view(grant),
        )

    def _credentials(
        self, session: Session, user_id: str | None, project_id: str | None
    ) -> tuple[tuple[TokenView, ...], int]:
        now = self.now()
        live = and_(ApiTokenRow.revoked_at.is_(None), ApiTokenRow.expires_at > now)
        query = select(ApiTokenRow).where(live).order_by(ApiTokenRow.created_at)
        if user_id is not None:
            query = query.where(ApiTokenRow.user_id == user_id)
        if project_id is not None:
            query = query.where(ApiTokenRow.project_id == project_id)
        tokens = tuple(token_view(r, now) for r in session.execute(query).scalars())
        sessions = 0
        if user_id is not None:
            idle_cutoff = now - dt.timedelta(minutes=self.settings.session_idle_minutes)
            sessions = int(
                session.execute(
                    select(func.count())
                    .select_from(SessionRow)
                    .where(
                        SessionRow.user_id == user_id,
                        SessionRow.revoked_at.is_(None),
                        SessionRow.absolute_expires_at > now,
                        SessionRow.last_seen_at > idle_cutoff,
                    )
                ).scalar_one()
            )
        return tokens, sessions

    # -- inactivity ----------------------------------------------------------------------------
    def suspend_inactive(self, actor: Actor, days: int | None = None) -> list[str]:
        """Suspend every active account without a successful sign-in for ``days`` (the
        ``inactivity_days`` setting by default). Returns the suspended user ids."""
        days = self.settings.inactivity_days if days is None else days
        target = Target("access")
        with self._audited(actor, IdentityAction.ACCESS_SUSPEND_INACTIVE, target) as scope:
            self._require_admin(actor, "suspend inactive accounts", operator_may=True)
            if days < 1:
                raise UsageError("--days must be at least 1.")
            now = self.now()
            cutoff = now - dt.timedelta(days=days)
            suspended = list(
                scope.session.execute(
                    select(UserRow.id)
                    .where(
                        UserRow.status == store.ACTIVE,
                        UserRow.active_since < cutoff,
                        or_(UserRow.last_login_at.is_(None), UserRow.last_login_at < cutoff),
                    )
                    .order_by(UserRow.id)
                ).scalars()
            )
            reason = f"no sign-in for {days} days"
            sessions, tokens = store.suspend_many(
                scope.session, suspended, now, by_name(actor), reason
            )
            for user_id in suspended:  # one entry per account: the log is searched by person
                self.audit.append(
                    scope.session,
                    actor,
                    IdentityAction.USER_SUSPEND,
                    user_target(user_id),
                    reason=reason,
                    details={"inactive_days": days},
                )
            scope.details = {
                "days": days,
                "suspended": len(suspended),
                "sessions_ended": sessions,
                "tokens_revoked": tokens,
            }
            return suspended

    # -- campaigns -----------------------------------------------------------------------------
    def open_campaign(self, actor: Actor, project_id: str, due_on: dt.date) -> CampaignView:
        """Snapshot the project's team roles for its lead to attest by ``due_on``."""
        with self._audited(
            actor, IdentityAction.CAMPAIGN_OPEN, campaign_target(None), project_id=project_id
        ) as scope:
            if actor.is_operator or not (
                actor.has_role(Role.ADMIN) or actor.has_role(Role.AUDITOR)
            ):
                raise PermissionDenied("Only a named administrator or auditor opens a campaign.")
            store.check_project(project_id)
            now = self.now()
            if due_on <= now.date():
                raise UsageError(f"The due date {due_on.isoformat()} is not in the future.")
            session = scope.session
            already = session.execute(
                select(AccessCampaignRow.id).where(
                    AccessCampaignRow.project_id == project_id, AccessCampaignRow.state == OPEN
                )
            ).scalar_one_or_none()
            if already is not None:
                raise StateError(
                    f"Project {project_id} already has an open campaign ({already}).",
                    hint="finish it first (havre access campaign attest)",
                )
            grants = list(
                session.execute(
                    select(RoleGrantRow)
                    .where(
                        RoleGrantRow.project_id == project_id,
                        RoleGrantRow.state == store.ACTIVE,
                    )
                    .order_by(RoleGrantRow.user_id, RoleGrantRow.role)
                ).scalars()
            )
            if not any(g.role == Role.PROJECT_LEAD.value for g in grants):
                raise StateError(
                    f"Project {project_id} has no project lead to attest its access.",
                    hint="grant project_lead first, or revoke the project's roles directly",
                )
            row = AccessCampaignRow(
                id=new_id("acr"),
                project_id=project_id,
                opened_by=actor.user_id,
                opened_by_name=actor.name,
                opened_at=now,
                due_on=due_on,
                state=OPEN,
            )
            session.add(row)
            session.flush()
            for grant in grants:
                session.add(
                    AccessCampaignItemRow(
                        id=new_id("aci"),
                        campaign_id=row.id,
                        grant_id=grant.id,
                        user_id=grant.user_id,
                        role=grant.role,
                    )
                )
            session.flush()
            scope.target = campaign_target(row.id)
            scope.details = {"items": len(grants), "due_on": due_on}
            return self._campaign_view(session, row)

    def attest_campaign(
        self,
        actor: Actor,
        campaign_id: str,
        *,
        keep: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> CampaignView:
        """The project lead decides items (keep or remove; removal revokes the role). A lead's
        own items are decided by another lead or an administrator. The campaign closes when
        every item is decided."""
        target = campaign_target(campaign_id)
        with self._audited(actor, IdentityAction.CAMPAIGN_ATTEST, target) as scope:
            session = scope.session
            row = self._campaign_row(session, campaign_id)
            scope.project_id = row.project_id
            if row.state != OPEN:
                raise StateError(f"Campaign {campaign_id} is {row.state}.")
            if actor.is_operator or not (
                _leads_project(actor, row.project_id) or actor.has_role(Role.ADMIN)
            ):
                raise PermissionDenied(
                    f"Campaign {campaign_id} is attested by the lead of project "
                    f"{row.project_id} (a lead's own items by another lead or an administrator).",
                    hint=f"act for the project as its lead (--project {row.project_id})",
                )
            overlap = set(keep) & set(remove)
            if overlap:
                raise UsageError(f"Items both kept and removed: {', '.join(sorted(overlap))}.")
            if not keep and not remove:
                raise UsageError("Nothing to attest: give items to keep and/or remove.")
            items = {
                i.id: i
                for i in session.execute(
                    select(AccessCampaignItemRow)
                    .where(AccessCampaignItemRow.campaign_id == campaign_id)
                    .with_for_update()
                ).scalars()
            }
            leads = {i.user_id for i in items.values() if i.role == Role.PROJECT_LEAD.value}
            now = self.now()
            for item_id, decision in [(k, KEEP) for k in keep] + [(r, REMOVE) for r in remove]:
                item = items.get(item_id)
                if item is None:
                    raise NotFoundError(f"Campaign {campaign_id} has no item {item_id}.")
                if item.decision is not None:
                    raise StateError(f"Item {item_id} was already decided ({item.decision}).")
                self._authorize_item(actor, row.project_id, item, leads)
                item.decision = decision
                item.decided_by = actor.user_id
                item.decided_at = now
                if decision == REMOVE:
                    self._remove_grant(session, actor, item, campaign_id, now)
            session.flush()
            if all(i.decision is not None for i in items.values()):
                row.state = CLOSED
                row.closed_at = now
            scope.details = {"kept": len(keep), "removed": len(remove), "state": row.state}
            return self._campaign_view(session, row)

    @staticmethod
    def _authorize_item(
        actor: Actor, project_id: str, item: AccessCampaignItemRow, leads: set[str]
    ) -> None:
        require_distinct(actor.user_id, item.user_id, "attest their own access")
        if _leads_project(actor, project_id):
            return
        if actor.has_role(Role.ADMIN) and item.user_id in leads:
            return  # a lead's own access is judged by someone above the project
        raise PermissionDenied(
            f"Item {item.id} is attested by the lead of project {project_id}"
            + (" (a lead's own items by an administrator)." if item.user_id in leads else "."),
            hint=f"act for the project as its lead (--project {project_id})",
        )

    def _remove_grant(
        self,
        session: Session,
        actor: Actor,
        item: AccessCampaignItemRow,
        campaign_id: str,
        now: dt.datetime,
    ) -> None:
        grant = session.get(RoleGrantRow, item.grant_id, with_for_update=True)
        if grant is None or grant.state != store.ACTIVE:
            return
        grant.state = REVOKED
        grant.ended_by = by_name(actor)
        grant.ended_at = now
        grant.end_reason = f"access review {campaign_id}"
        append_grant_entry(
            self.audit, session, actor, IdentityAction.ROLE_REVOKE, grant, grant.end_reason
        )

    def campaign_project(self, campaign_id: str) -> str:
        """The project a campaign reviews (so a face can act for that project)."""
        with self.db.transaction() as session:
            return self._campaign_row(session, campaign_id).project_id

    def show_campaign(self, actor: Actor, campaign_id: str) -> CampaignView:
        with self.db.transaction() as session:
            row = self._campaign_row(session, campaign_id)
            if not (_oversees(actor) or _leads_project(actor, row.project_id)):
                raise PermissionDenied("Only the project's lead, administrators and auditors.")
            return self._campaign_view(session, row)

    def list_campaigns(self, actor: Actor, project_id: str | None = None) -> list[CampaignView]:
        allowed = _oversees(actor) or (project_id is not None and _leads_project(actor, project_id))
        if not allowed:
            raise PermissionDenied("Only the project's lead, administrators and auditors.")
        with self.db.transaction() as session:
            query = select(AccessCampaignRow).order_by(AccessCampaignRow.opened_at)
            if project_id is not None:
                query = query.where(AccessCampaignRow.project_id == project_id)
            return [self._campaign_view(session, r) for r in session.execute(query).scalars()]

    @staticmethod
    def _campaign_row(session: Session, campaign_id: str) -> AccessCampaignRow:
        row = None
        if store.is_plain(campaign_id, 64):
            row = session.execute(
                select(AccessCampaignRow)
                .where(AccessCampaignRow.id == campaign_id)
                .with_for_update()
            ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(
                f"No access review campaign {campaign_id}.",
                hint="list them with 'havre access campaign list'",
            )
        return row

    def _campaign_view(self, session: Session, row: AccessCampaignRow) -> CampaignView:
        items = session.execute(
            select(AccessCampaignItemRow)
            .where(AccessCampaignItemRow.campaign_id == row.id)
            .order_by(AccessCampaignItemRow.user_id, AccessCampaignItemRow.role)
        ).scalars()
        return CampaignView(
            id=row.id,
            project_id=row.project_id,
            opened_by=row.opened_by,
            opened_by_name=row.opened_by_name,
            opened_at=row.opened_at,
            due_on=row.due_on,
            state=row.state,
            closed_at=row.closed_at,
            overdue=row.state == OPEN and self.now().date() > row.due_on,
            items=tuple(
                CampaignItemView(
                    id=i.id,
                    grant_id=i.grant_id,
                    user_id=i.user_id,
                    role=i.role,
                    decision=i.decision,
                    decided_by=i.decided_by,
                    decided_at=i.decided_at,
                )
                for i in items
            ),
        )
