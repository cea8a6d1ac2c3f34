"""A permit's life: issue, activation (by someone other than the issuer), refresh to a newer
data version, suspension and reinstatement, expiry."""

from __future__ import annotations

from sqlalchemy import select

from havre.core.actor import Actor
from havre.core.errors import HavreError, IntegrityError, PermissionDenied, StateError
from havre.core.ids import new_id
from havre.governance.identity import Role, require_distinct
from havre.governance.projects import completeness, store
from havre.governance.projects.actions import PermitAction
from havre.governance.projects.application import Application, DataRequest
from havre.governance.projects.assessing import RiskMixin
from havre.governance.projects.duties import naming_next_steps, require_judge
from havre.governance.projects.issuing import build_permit
from havre.governance.projects.models import PermitRow
from havre.governance.projects.permit import Permit, PermitStatus, RiskFigures, VersionPolicy
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, Step

STEWARDS = (Role.DATA_STEWARD,)
STEWARDS_OR_ADMINS = (Role.DATA_STEWARD, Role.ADMIN)


def permit_row(permit: Permit, issued_by: str) -> PermitRow:
    return PermitRow(
        id=new_id("pmt"),
        project_id=permit.project_id,
        version=permit.version,
        revision=permit.revision,
        status=permit.status.value,
        terms=permit.terms_json(),
        terms_sha256=permit.sha256,
        issued_at=permit.issued_at,
        issued_by=issued_by,
        expires_at=permit.expires_at,
        activated_at=permit.activated_at,
        activated_by=issued_by if permit.activated_at else None,
    )


def permit_details(permit: Permit) -> dict[str, object]:
    return {
        "version": permit.version,
        "sha256": permit.sha256,
        "dataset": permit.dataset,
        "data_version": permit.data_version,
        "tables": [t.name for t in permit.tables],
        "identifiers": [k.value for k in permit.potential_identifiers_granted],
        "date_policy": permit.date_policy.value,
        "access_level": permit.access_level.value,
        "expires_at": permit.expires_at,
        "risk_report_sha256": permit.risk.report_sha256 if permit.risk else None,
    }


class LifecycleMixin(RiskMixin):
    def issue(self, actor: Actor, project_id: str, *, risk: RiskFigures | None = None) -> Permit:
        """Write the permit of the authorised revision (it gives no access until activated),
        with the risk figures of the extract it grants (``risk``, else assessed)."""
        draft = self._authorised_snapshot(project_id)
        facts = completeness.look_up(self.catalog, draft.data) if draft else None
        if risk is None and draft is not None and facts is not None:
            risk = self._risk_for_issue(actor, project_id, draft, facts)
        granted = self._granted_team(project_id)
        with self._audited(actor, PermitAction.ISSUE, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_judge(
                actor, loaded, STEWARDS, loaded.team(granted), "issue a permit for"
            )
            revision = loaded.require_open(Step.ISSUE, ReviewStatus.AUTHORISED)
            app = store.document(revision)
            if draft is None or facts is None or draft.sha256 != app.sha256:
                raise loaded.refuse(Step.ISSUE, "the application changed meanwhile; try again")
            now = self.now()
            first = loaded.permits[0].issued_at if loaded.permits else now
            permit = build_permit(
                project_id=loaded.id,
                version=len(loaded.permits) + 1,
                revision=revision.number,
                app=app,
                withheld=store.withheld(revision),
                facts=facts,
                named_persons=[loaded.project.lead_user_id, *app.team_ids()],
                issued_at=now,
                starts_at=first,
                risk=risk,
            )
            if permit.expires_at <= now:
                raise loaded.refuse(
                    Step.ISSUE,
                    f"the {app.duration_months}-month duration, counted from the first permit "
                    f"({first.date()}), ended on {permit.expires_at.date()}; amend the duration",
                )
            scope.session.add(permit_row(permit, user_id))
            revision.status = ReviewStatus.PERMIT_ISSUED.value
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus.PERMIT_ISSUED.value
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "issue",
                f"v{permit.version}",
                actor,
                now,
            )
            scope.details = {"revision": revision.number, **permit_details(permit)}
            return permit

    def activate(self, actor: Actor, project_id: str) -> Permit:
        """Put the issued permit in force; the version it replaces is superseded."""
        granted = self._granted_team(project_id)
        with self._audited(actor, PermitAction.ACTIVATE, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_judge(
                actor, loaded, STEWARDS_OR_ADMINS, loaded.team(granted), "activate the permit of"
            )
            revision = loaded.require_open(Step.ACTIVATE, ReviewStatus.PERMIT_ISSUED)
            if loaded.status is ProjectStatus.SUSPENDED:
                raise loaded.refuse(Step.ACTIVATE, "it is suspended; reinstate it first")
            row = next((p for p in loaded.permits if p.status == PermitStatus.ISSUED), None)
            if row is None:
                raise IntegrityError(
                    f"Project {project_id} awaits activation but has no issued permit.",
                    hint="the governance database is inconsistent; check the audit log",
                )
            with naming_next_steps(loaded):
                require_distinct(user_id, row.issued_by, "issue and activate a permit")
            now = self.now()
            if now >= row.expires_at:
                raise loaded.refuse(
                    Step.ACTIVATE,
                    f"permit v{row.version} expired on {row.expires_at.date()} before activation",
                )
            previous = loaded.in_force
            if previous is not None:
                previous.status, previous.ended_at = PermitStatus.SUPERSEDED.value, now
            for other in loaded.revisions:
                if other.status == ReviewStatus.IN_FORCE:
                    other.status = ReviewStatus.SUPERSEDED.value
            row.status, row.activated_at, row.activated_by = PermitStatus.ACTIVE.value, now, user_id
            revision.status = ReviewStatus.IN_FORCE.value
            team = {loaded.project.lead_user_id, *store.document(revision).team_ids()}
            left = self.identity.revoke_within(
                scope.session,
                actor,
                project_id,
                keep=team,
                roles=(Role.RESEARCHER, Role.PROJECT_LEAD),
                reason=f"not on the team of project {project_id} in permit v{row.version}",
            )
            loaded.project.status = ProjectStatus.ACTIVE.value
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "activate",
                f"v{row.version}",
                actor,
                now,
            )
            scope.details = {
                "version": row.version,
                "sha256": row.terms_sha256,
                "superseded": previous.version if previous is not None else None,
                "team_roles_ended": len(left),
            }
            return store.load_permit(row)

    def refresh(self, actor: Actor, project_id: str) -> Permit:
        """Move a ``latest_at_issue`` permit to the newest data version: a new permit version
        with the same terms, in force at once (an explicit, audited act)."""
        current = self.permits.current(project_id) if self._exists(project_id) else None
        facts = None
        if current is not None:
            facts = completeness.look_up(self.catalog, DataRequest(dataset=current.dataset))
        granted = self._granted_team(project_id)
        with self._audited(actor, PermitAction.REFRESH, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_judge(
                actor, loaded, STEWARDS, loaded.team(granted), "refresh the data of"
            )
            row = loaded.in_force
            if loaded.status is not ProjectStatus.ACTIVE or row is None or facts is None:
                raise loaded.refuse(Step.REFRESH)
            permit = store.load_permit(row)
            if permit.sha256 != (current.sha256 if current else None):
                raise loaded.refuse(Step.REFRESH, "the permit changed meanwhile; try again")
            if permit.data_version_policy is not VersionPolicy.LATEST_AT_ISSUE:
                raise loaded.refuse(Step.REFRESH, "its data version is pinned; amend it instead")
            if facts.version is None or facts.version.version <= permit.data_version:
                raise StateError(
                    f"Project {project_id} already uses the latest version of "
                    f"{permit.dataset} (v{permit.data_version}).",
                    hint="nothing to refresh",
                )
            missing = [
                f"{t.name}.{c}"
                for t in permit.tables
                for c in t.columns
                if c not in (facts.columns or {}).get(t.name, {})
            ]
            if missing:
                raise loaded.refuse(
                    Step.REFRESH,
                    f"{permit.dataset} v{facts.version.version} "
                    f"lacks {', '.join(missing[:10])}; amend the application",
                )
            now = self.now()
            fresh = permit.model_copy(
                update={
                    "version": len(loaded.permits) + 1,
                    "issued_at": now,
                    "data_version": facts.version.version,
                    "data_version_id": facts.version.id,
                    "status": PermitStatus.ACTIVE,
                    "activated_at": now,
                }
            )
            row.status, row.ended_at = PermitStatus.SUPERSEDED.value, now
            scope.session.add(permit_row(fresh, user_id))
            store.add_step(
                scope.session,
                loaded.project,
                permit.revision,
                "refresh",
                f"v{fresh.version}",
                actor,
                now,
            )
            scope.details = {**permit_details(fresh), "superseded": permit.version}
            return fresh

    def suspend(self, actor: Actor, project_id: str, reason: str) -> None:
        """Stop access at once (a breach, an inquiry); the reason is audited."""
        self._set_suspended(actor, project_id, reason, suspend=True)

    def reinstate(self, actor: Actor, project_id: str, reason: str) -> None:
        self._set_suspended(actor, project_id, reason, suspend=False)

    def _set_suspended(self, actor: Actor, project_id: str, reason: str, *, suspend: bool) -> None:
        actor = actor.with_justification(reason)
        action = PermitAction.SUSPEND if suspend else PermitAction.REINSTATE
        step = Step.SUSPEND if suspend else Step.REINSTATE
        granted = self._granted_team(project_id)
        with self._audited(actor, action, project_id, justification_required=True) as scope:
            loaded = self._load(scope.session, project_id)
            what = "suspend" if suspend else "reinstate"
            require_judge(actor, loaded, STEWARDS_OR_ADMINS, loaded.team(granted), what)
            wanted = ProjectStatus.ACTIVE if suspend else ProjectStatus.SUSPENDED
            row = loaded.in_force
            if loaded.status is not wanted or row is None:
                raise loaded.refuse(step)
            status = PermitStatus.SUSPENDED if suspend else PermitStatus.ACTIVE
            row.status = status.value
            loaded.project.status = (
                ProjectStatus.SUSPENDED if suspend else ProjectStatus.ACTIVE
            ).value
            store.add_step(
                scope.session,
                loaded.project,
                row.revision,
                step.value,
                status.value,
                actor,
                self.now(),
                comment=reason,
            )
            scope.details = {"version": row.version}

    def expire_due(self, actor: Actor) -> list[str]:
        """Mark the permits whose time has passed (access already stopped at ``expires_at``:
        this only records it). Returns the projects marked."""
        if not (
            actor.is_operator or actor.has_role(Role.DATA_STEWARD) or actor.has_role(Role.ADMIN)
        ):
            raise PermissionDenied(
                "Only the operator, a data steward or an administrator can mark expired permits."
            )
        now = self.now()
        query = select(PermitRow.project_id, PermitRow.version).where(
            PermitRow.status.in_([PermitStatus.ACTIVE.value, PermitStatus.SUSPENDED.value]),
            PermitRow.expires_at <= now,
        )
        with self.db.transaction() as session:
            due = [(p, v) for p, v in session.execute(query)]
        marked = []
        for project_id, version in sorted(due):
            try:
                self._expire(actor, project_id, version)
                marked.append(project_id)
            except HavreError:
                continue  # changed meanwhile (closed, amended); its own entry says why
        return marked

    def _expire(self, actor: Actor, project_id: str, version: int) -> None:
        with self._audited(actor, PermitAction.EXPIRE, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            row = loaded.in_force
            if row is None or row.version != version or row.status == PermitStatus.EXPIRED:
                raise StateError(
                    f"Permit v{version} of project {project_id} is no longer in force."
                )
            row.status, row.ended_at = PermitStatus.EXPIRED.value, row.expires_at
            loaded.project.status = ProjectStatus.EXPIRED.value
            store.add_step(
                scope.session,
                loaded.project,
                row.revision,
                "expire",
                f"v{row.version}",
                actor,
                self.now(),
            )
            scope.details = {"version": row.version, "expired_at": row.expires_at}

    # -- snapshots read before a transaction ----------------------------------------------------
    def _authorised_snapshot(self, project_id: str) -> Application | None:
        try:
            with self.db.transaction() as session:
                project = store.find_project(session, project_id)
                row = (
                    None
                    if project is None
                    else store.open_revision(store.revisions(session, project.id))
                )
                return None if row is None else store.document(row)
        except HavreError:
            return None

    def _exists(self, project_id: str) -> bool:
        try:
            with self.db.transaction() as session:
                return store.find_project(session, project_id) is not None
        except HavreError:
            return False
