"""What every part of the projects service shares: its stores, clock, audit helper, and a
project loaded (locked) with its revisions and permits."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from havre.audit import AuditLog, AuditScope, Target, audited
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock
from havre.core.errors import HavreError, StateError
from havre.db import Database
from havre.governance.identity import IdentityService
from havre.governance.projects import store
from havre.governance.projects.application import Application
from havre.governance.projects.catalog import CatalogView
from havre.governance.projects.models import PermitRow, ProjectRow, RevisionRow
from havre.governance.projects.permits import Permits
from havre.governance.projects.risk import RiskAssessor
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, Step, refuse
from havre.keys import KeyStore


def project_target(project_id: str | None) -> Target:
    return Target("project", project_id)


@dataclass
class Loaded:
    """A project as one transaction sees it, rows locked."""

    project: ProjectRow
    revisions: list[RevisionRow]
    permits: list[PermitRow]
    status: ProjectStatus  # with expiry read from the clock

    @property
    def id(self) -> str:
        return self.project.id

    @property
    def open(self) -> RevisionRow | None:
        return store.open_revision(self.revisions)

    @property
    def open_status(self) -> ReviewStatus | None:
        row = self.open
        return None if row is None else ReviewStatus(row.status)

    @property
    def in_force(self) -> PermitRow | None:
        return store.in_force_permit(self.permits)

    @property
    def latest(self) -> RevisionRow:
        return self.revisions[-1]

    def refuse(self, step: Step, why: str | None = None) -> StateError:
        return refuse(self.id, step, self.status, self.open_status, why)

    def require_open(self, step: Step, *statuses: ReviewStatus) -> RevisionRow:
        """The revision under review, when it is in one of ``statuses``; else a refusal."""
        row = self.open
        if row is None or ReviewStatus(row.status) not in statuses:
            raise self.refuse(step)
        return row

    def documents(self) -> list[Application]:
        return [store.document(r) for r in self.revisions]

    def team(self, granted: frozenset[str] = frozenset()) -> frozenset[str]:
        """Everyone who is or was on the project: lead, members of every revision, and the
        team roles the identity service knows of."""
        ids = {self.project.lead_user_id, *granted}
        for app in self.documents():
            ids.update(app.team_ids())
        return frozenset(ids)


class ProjectsBase:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        keys: KeyStore,
        identity: IdentityService,
        catalog: CatalogView,
        clock: Clock | None = None,
        *,
        risk: RiskAssessor | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.keys = keys
        self.identity = identity
        self.catalog = catalog
        self.clock: Clock = clock or SystemClock()
        # builds would-be extracts for the risk assessment (the hub hands the workspace's in)
        self.risk_assessor = risk
        self.permits = Permits(db, self.clock)

    def now(self) -> dt.datetime:
        return self.clock.now()

    @contextlib.contextmanager
    def _audited(
        self,
        actor: Actor,
        action: str,
        project_id: str | None,
        *,
        target: Target | None = None,
        justification_required: bool = False,
    ) -> Iterator[AuditScope]:
        with audited(
            self.db,
            self.audit,
            actor,
            action,
            target or project_target(project_id),
            justification_required=justification_required,
            project_id=project_id,
        ) as scope:
            yield scope

    def _load(self, session: Session, project_id: str, *, lock: bool = True) -> Loaded:
        """The project, its permits and revisions; locked for a change unless ``lock`` is
        false (a read-only unit of work cannot lock)."""
        project = store.get_project(session, project_id, lock=lock)
        permits = store.permit_rows(session, project.id, lock=lock)
        status = store.effective_status(project, store.in_force_permit(permits), self.now())
        return Loaded(project, store.revisions(session, project.id, lock=lock), permits, status)

    def _granted_team(self, project_id: str) -> frozenset[str]:
        """Team roles held through the identity service. Read before the caller's transaction
        opens: on SQLite a second transaction would wait for the first."""
        try:
            return self.identity.project_team(store.check_project_id(project_id))
        except HavreError:  # an id that cannot exist has no team; the action reports it
            return frozenset()
