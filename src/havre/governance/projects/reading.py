"""Reading projects: the full record for those who work on or oversee a project, a list, a
permit. The public sees the register instead."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.governance.identity import Role
from havre.governance.projects import store
from havre.governance.projects.base import Loaded, ProjectsBase
from havre.governance.projects.models import ProjectRow, RevisionRow
from havre.governance.projects.permit import Permit
from havre.governance.projects.risk import RiskRecord
from havre.governance.projects.views import (
    ProjectSummary,
    ProjectView,
    Results,
    RevisionView,
    StepView,
)
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, allowed_steps, choice

# Hub-wide roles that oversee every project.
OVERSEERS = frozenset({Role.ADMIN, Role.DATA_STEWARD, Role.REVIEWER, Role.AUDITOR, Role.CHECKER})


def oversees(actor: Actor, project_id: str | None = None) -> bool:
    """The operator, a hub-wide overseer, or a reviewer/checker appointed on this project
    (the actor's roles then include those of ``actor.project_id``)."""
    if actor.is_operator:
        return True
    overseer = any(actor.has_role(r) for r in OVERSEERS)
    return overseer and actor.project_id in (None, project_id)


class ReadingMixin(ProjectsBase):
    def show(self, actor: Actor, project_id: str) -> ProjectView:
        granted = self._granted_team(project_id)
        with self.db.reading() as session:
            loaded = self._load(session, project_id, lock=False)
            self._require_reader(actor, loaded, granted)
            return self._view(session, loaded)

    def risk_assessment(self, actor: Actor, project_id: str) -> RiskRecord | None:
        """The risk assessment of the project's latest revision (what the review page
        shows before the decision), or None when none was made."""
        return self.show(actor, project_id).risk

    def permit(self, actor: Actor, project_id: str, version: int | None = None) -> Permit:
        """A permit version (default: the one in force, else the latest issued)."""
        granted = self._granted_team(project_id)
        with self.db.reading() as session:
            self._require_reader(actor, self._load(session, project_id, lock=False), granted)
            return self.permits.get(project_id, version, session=session)

    def list_projects(
        self, actor: Actor, status: ProjectStatus | str | None = None
    ) -> list[ProjectSummary]:
        """Every project for overseers; one's own projects for everyone else."""
        wanted = choice(ProjectStatus, status, "project status") if status is not None else None
        now = self.now()
        out = []
        with self.db.reading() as session:
            rows = session.execute(select(ProjectRow).order_by(ProjectRow.created_at)).scalars()
            for project in list(rows):
                permits = store.permit_rows(session, project.id)
                in_force = store.in_force_permit(permits)
                effective = store.effective_status(project, in_force, now)
                if wanted is not None and effective is not wanted:
                    continue
                revisions = store.revisions(session, project.id)
                if not oversees(actor) and not self._on_team(actor, project, revisions):
                    continue
                open_row = store.open_revision(revisions)
                out.append(
                    ProjectSummary(
                        id=project.id,
                        title=project.title,
                        status=effective,
                        open_review=None if open_row is None else ReviewStatus(open_row.status),
                        lead_user_id=project.lead_user_id,
                        created_at=project.created_at,
                        submitted_at=project.submitted_at,
                        permit_version=in_force.version if in_force else None,
                        expires_at=in_force.expires_at if in_force else None,
                    )
                )
        return out

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _on_team(actor: Actor, project: ProjectRow, revisions: list[RevisionRow]) -> bool:
        if actor.user_id is None:
            return False
        if actor.user_id == project.lead_user_id:
            return True
        return any(actor.user_id in store.document(r).team_ids() for r in revisions)

    @staticmethod
    def _require_reader(actor: Actor, loaded: Loaded, granted: frozenset[str]) -> None:
        if oversees(actor, loaded.id) or (actor.user_id in loaded.team(granted)):
            return
        raise PermissionDenied(
            f"Project {loaded.id}'s record is open to its team and to those who oversee it.",
            hint="the public register (havre register export) shows every submitted project",
        )

    def _view(self, session: Session, loaded: Loaded) -> ProjectView:
        project = loaded.project
        in_force = loaded.in_force
        return ProjectView(
            id=project.id,
            title=project.title,
            status=loaded.status,
            lead_user_id=project.lead_user_id,
            call_id=project.call_id,
            created_at=project.created_at,
            submitted_at=project.submitted_at,
            closed_at=project.closed_at,
            workspace_key=project.workspace_key,
            revisions=tuple(RevisionView.of(r) for r in loaded.revisions),
            steps=tuple(StepView.of(s) for s in store.steps(session, project.id)),
            permit=None if in_force is None else store.load_permit(in_force).at(self.now()),
            allowed_next=tuple(allowed_steps(loaded.status, loaded.open_status)),
            results=Results.of(project, self.now().date()),
            risk=(
                RiskRecord.from_stored(loaded.latest.risk_assessment, project.id)
                if loaded.latest.risk_assessment
                else None
            ),
        )
