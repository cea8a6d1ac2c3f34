"""The applicant's side: create and edit a draft, submit it, withdraw it, amend a permit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from havre.core.actor import Actor
from havre.core.errors import HavreError, UsageError
from havre.core.ids import new_id
from havre.governance.identity import Role, require_person
from havre.governance.projects import completeness, store
from havre.governance.projects.actions import PermitAction, ProjectAction
from havre.governance.projects.application import Application, parse_application
from havre.governance.projects.base import Loaded, ProjectsBase, project_target
from havre.governance.projects.duties import require_lead
from havre.governance.projects.models import CallRow, ProjectRow
from havre.governance.projects.workflow import LIVING, ProjectStatus, ReviewStatus, Step

UNTITLED = "(untitled draft)"


def as_application(document: Application | Mapping[str, Any]) -> Application:
    if isinstance(document, Application):
        return document
    return parse_application(dict(document))


class DraftingMixin(ProjectsBase):
    def create(self, actor: Actor, document: Application | Mapping[str, Any]) -> str:
        """A new project in draft; whoever creates it is its lead. Returns the project id."""
        app = as_application(document)
        with self._audited(actor, ProjectAction.CREATE, None) as scope:
            user_id = require_person(actor, "apply for a project")
            now = self.now()
            project = ProjectRow(
                id=new_id("prj"),
                title=(app.title or UNTITLED)[:300],
                status=ProjectStatus.DRAFT.value,
                lead_user_id=user_id,
                call_id=self._call_id(scope.session, app),
                created_at=now,
            )
            scope.session.add(project)
            scope.session.flush()
            revision = store.new_revision(project.id, 1, store.INITIAL, app, user_id, now)
            scope.session.add(revision)
            scope.target, scope.project_id = project_target(project.id), project.id
            scope.details = {"revision": 1, "document_sha256": app.sha256}
            return project.id

    def update(
        self, actor: Actor, project_id: str, document: Application | Mapping[str, Any]
    ) -> None:
        """Replace the draft of the revision being prepared (the application or an amendment)."""
        app = as_application(document)
        with self._audited(actor, ProjectAction.UPDATE, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            require_lead(actor, loaded, "edit the application")
            revision = loaded.require_open(Step.UPDATE, ReviewStatus.DRAFT)
            store.set_document(revision, app, self.now())
            if revision.kind == store.INITIAL:
                loaded.project.title = (app.title or UNTITLED)[:300]
                loaded.project.call_id = self._call_id(scope.session, app)
            scope.details = {"revision": revision.number, "document_sha256": app.sha256}

    def submit(self, actor: Actor, project_id: str) -> None:
        """Send the draft for review: complete, consistent with the catalog, team seated."""
        snapshot = self._draft_snapshot(project_id)
        draft = snapshot[0] if snapshot else None
        facts = completeness.look_up(self.catalog, draft.data) if draft else None
        held = {} if snapshot is None else self._held_roles(project_id, *snapshot)
        with self._audited(actor, ProjectAction.SUBMIT, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_lead(actor, loaded, "submit the application")
            revision = loaded.require_open(Step.SUBMIT, ReviewStatus.DRAFT)
            app = store.document(revision)
            if draft is None or facts is None or app.sha256 != draft.sha256:
                raise loaded.refuse(
                    Step.SUBMIT, "the draft changed while it was checked; submit again"
                )
            call = self._call_window(scope.session, app)
            problems = completeness.problems(
                app,
                lead_user_id=loaded.project.lead_user_id,
                facts=facts,
                call=call,
                today=self.now().date(),
            )
            problems += self._seat_team(scope.session, actor, loaded, app, held)
            if problems:
                raise UsageError(
                    f"The application of project {project_id} cannot be submitted "
                    f"({len(problems)} problem(s)):\n- " + "\n- ".join(problems),
                    hint="fix them with 'havre project update', then submit again",
                    problems=problems,
                )
            now = self.now()
            revision.status = ReviewStatus.SUBMITTED.value
            revision.submitted_at = now
            revision.submitted_document = revision.document
            revision.submitted_sha256 = revision.document_sha256
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus.SUBMITTED.value
                loaded.project.submitted_at = loaded.project.submitted_at or now
            store.add_step(
                scope.session, loaded.project, revision.number, "submit", "submitted", actor, now
            )
            scope.details = {
                "revision": revision.number,
                "document_sha256": app.sha256,
                "dataset": app.data.dataset,
                "tables": sorted(app.data.tables),
                "identifiers_requested": sorted(k.value for k in app.data.requested_kinds()),
                "team": len(app.team) + 1,
                "submitted_by": user_id,
            }

    def withdraw(self, actor: Actor, project_id: str, reason: str) -> None:
        """Abandon the application (or the amendment) before a decision is made on it."""
        actor = actor.with_justification(reason)
        with self._audited(
            actor, ProjectAction.WITHDRAW, project_id, justification_required=True
        ) as scope:
            loaded = self._load(scope.session, project_id)
            require_lead(actor, loaded, "withdraw the application")
            revision = loaded.require_open(
                Step.WITHDRAW,
                ReviewStatus.DRAFT,
                ReviewStatus.SUBMITTED,
                ReviewStatus.IN_REVIEW,
                ReviewStatus.AWAITING_AUTHORISATION,
            )
            revision.status = ReviewStatus.WITHDRAWN.value
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus.WITHDRAWN.value
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "withdraw",
                "withdrawn",
                actor,
                self.now(),
                comment=reason,
            )
            scope.details = {"revision": revision.number, "kind": revision.kind}

    def amend(
        self,
        actor: Actor,
        project_id: str,
        document: Application | Mapping[str, Any] | None = None,
    ) -> int:
        """Start an amendment: a new draft revision (by default a copy of the one in force)
        that goes through review again; the permit in force stays until the new one is
        activated. Returns the revision number."""
        with self._audited(actor, PermitAction.AMEND, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_lead(actor, loaded, "amend the permit")
            in_force = store.in_force_revision(loaded.revisions)
            if loaded.status not in LIVING or in_force is None or loaded.open is not None:
                why = "an amendment is already under way" if loaded.open is not None else None
                raise loaded.refuse(Step.AMEND, why)
            app = store.document(in_force) if document is None else as_application(document)
            number = loaded.latest.number + 1
            revision = store.new_revision(
                loaded.id, number, store.AMENDMENT, app, user_id, self.now()
            )
            scope.session.add(revision)
            scope.details = {
                "revision": number,
                "document_sha256": app.sha256,
                "from_revision": in_force.number,
            }
            return number

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _call_id(session: Session, app: Application) -> str | None:
        """The call answered, kept only when it exists (the submission reports the others)."""
        if app.call is None:
            return None
        return app.call if session.get(CallRow, app.call) is not None else None

    @staticmethod
    def _call_window(session: Session, app: Application) -> completeness.CallWindow | None:
        if app.call is None:
            return None
        row = session.get(CallRow, app.call)
        return None if row is None else completeness.CallWindow(row.id, row.opens_on, row.closes_on)

    def _draft_snapshot(self, project_id: str) -> tuple[Application, str] | None:
        """The draft as it stands and the lead, read before the submission's transaction (the
        catalog and the identity service are read in between, outside any transaction)."""
        try:
            with self.db.transaction() as session:
                project = store.find_project(session, project_id)
                if project is None:
                    return None
                row = store.open_revision(store.revisions(session, project.id))
                return None if row is None else (store.document(row), project.lead_user_id)
        except HavreError:
            return None

    def _held_roles(
        self, project_id: str, app: Application, lead_user_id: str
    ) -> dict[str, frozenset[str]]:
        """The roles each team member holds on the project already."""
        users = {lead_user_id, *(u for u in app.team_ids() if completeness.USER_ID.fullmatch(u))}
        return {user: frozenset(self.identity.roles_of(user, project_id)) for user in users}

    def _seat_team(
        self,
        session: Session,
        actor: Actor,
        loaded: Loaded,
        app: Application,
        held: dict[str, frozenset[str]],
    ) -> list[str]:
        """Give the lead and each member their role on the project, through the identity
        service (its rules apply: signed terms, training, no judge of the project on its team).
        Returns the problems found, to report with the others."""
        wanted = [(loaded.project.lead_user_id, Role.PROJECT_LEAD)]
        wanted += [
            (m.user, Role(m.role)) for m in app.team if completeness.USER_ID.fullmatch(m.user)
        ]
        problems = []
        for user_id, role in wanted:
            if role.value in held.get(user_id, frozenset()):
                continue
            try:
                self.identity.grant_within(
                    session,
                    actor,
                    user_id,
                    role,
                    loaded.id,
                    reason=f"team of project {loaded.id}",
                )
            except HavreError as error:
                problems.append(f"team: {user_id} cannot be {role.value}: {error.message}")
        return problems
