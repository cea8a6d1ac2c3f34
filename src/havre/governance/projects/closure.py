"""Closing a project (crypto-shredding its workspace) and publishing its results.

The workspace of a project is encrypted under the key ``workspace/<project id>``. Closure
destroys every version of it in the key store and records that in the audit log; a key that
was never created (no workspace was built) is recorded as such. The key is destroyed last,
just before the transaction commits: if the commit then failed, the project would still be
open with its key gone, and closing it again records the key as already destroyed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from havre.audit import HubAction, Target
from havre.core.actor import Actor
from havre.core.errors import UsageError
from havre.governance.projects import store
from havre.governance.projects.actions import ProjectAction
from havre.governance.projects.base import ProjectsBase
from havre.governance.projects.duties import require_lead_or_admin
from havre.governance.projects.issuing import add_months
from havre.governance.projects.permit import PermitStatus
from havre.governance.projects.workflow import LIVING, ProjectStatus, ReviewStatus, Step
from havre.keys import KeyState

RESULTS_DUE_MONTHS = 12
MAX_LINKS = 50
LINK = re.compile(r"(?:https?://[^\s<>\"]{3,500}|doi:10\.\d{4,9}/\S{1,300}|10\.\d{4,9}/\S{1,300})")
CLOSABLE = LIVING | {ProjectStatus.AUTHORISED, ProjectStatus.PERMIT_ISSUED}
DESTROYED = "destroyed"
NEVER_CREATED = "never_created"
ALREADY_DESTROYED = "already_destroyed"


def workspace_key_name(project_id: str) -> str:
    return f"workspace/{project_id}"


class ClosureMixin(ProjectsBase):
    def close(self, actor: Actor, project_id: str, reason: str) -> str:
        """Close the project: its permits end, its workspace key is destroyed, it stays in the
        register with results due 12 months later. Returns what happened to the key."""
        actor = actor.with_justification(reason)
        with self._audited(
            actor, ProjectAction.CLOSE, project_id, justification_required=True
        ) as scope:
            loaded = self._load(scope.session, project_id)
            require_lead_or_admin(actor, loaded, "close the project")
            if loaded.status not in CLOSABLE:
                raise loaded.refuse(Step.CLOSE)
            now = self.now()
            for row in loaded.permits:
                if row.status not in (PermitStatus.SUPERSEDED, PermitStatus.CLOSED):
                    row.status, row.ended_at = PermitStatus.CLOSED.value, row.ended_at or now
            for revision in loaded.revisions:
                if ReviewStatus(revision.status) not in (
                    ReviewStatus.IN_FORCE,
                    ReviewStatus.SUPERSEDED,
                    ReviewStatus.REJECTED,
                    ReviewStatus.WITHDRAWN,
                ):
                    revision.status = ReviewStatus.WITHDRAWN.value
            project = loaded.project
            project.status = ProjectStatus.CLOSED.value
            project.closed_at = now
            project.results_due_on = add_months(now, RESULTS_DUE_MONTHS).date()
            store.add_step(
                scope.session,
                project,
                loaded.latest.number,
                "close",
                "closed",
                actor,
                now,
                comment=reason,
            )
            ended = self.identity.revoke_within(
                scope.session, actor, project_id, reason=f"project {project_id} closed"
            )
            outcome = self._shred(scope.session, actor, project_id)
            project.workspace_key = outcome
            scope.details = {
                "workspace_key": outcome,
                "results_due_on": project.results_due_on,
                "roles_ended": len(ended),
            }
            return outcome

    def _shred(self, session: Session, actor: Actor, project_id: str) -> str:
        name = workspace_key_name(project_id)
        if not self.keys.exists(name):
            return NEVER_CREATED
        info = self.keys.info(name)
        if all(v.state is KeyState.DESTROYED for v in info.versions):
            return ALREADY_DESTROYED
        destroyed = self.keys.destroy(name)
        self.audit.append(
            session,
            actor,
            HubAction.KEY_DESTROY,
            Target("key", name),
            details={"versions": len(destroyed.versions), "reason": "project closure"},
            project_id=project_id,
        )
        return DESTROYED

    def record_results(
        self, actor: Actor, project_id: str, *, summary: str, links: Sequence[str] = ()
    ) -> None:
        """Publish a closed project's results (replacing earlier ones) in the register."""
        text = " ".join(summary.split())
        cleaned = [link.strip() for link in links if link.strip()]
        problems = []
        if not text:
            problems.append("summary: missing")
        if len(text) > 8000:
            problems.append(f"summary: {len(text)} characters, at most 8000")
        bad = [link for link in cleaned if not LINK.fullmatch(link)]
        if bad:
            problems.append(f"links: not http(s) addresses or DOIs: {', '.join(bad[:5])}")
        if len(cleaned) > MAX_LINKS:
            problems.append(f"links: {len(cleaned)} given, at most {MAX_LINKS}")
        with self._audited(actor, ProjectAction.RESULTS, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            require_lead_or_admin(actor, loaded, "publish the project's results")
            if loaded.status is not ProjectStatus.CLOSED:
                raise loaded.refuse(Step.RESULTS, "results are published after closure")
            if problems:
                raise UsageError("The results cannot be recorded: " + "; ".join(problems))
            project = loaded.project
            project.results_summary = text
            project.results_links = json.dumps(cleaned, ensure_ascii=False)
            project.results_recorded_at = self.now()
            scope.details = {"links": len(cleaned)}
