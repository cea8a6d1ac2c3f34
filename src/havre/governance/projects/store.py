"""Reading and updating project rows inside a caller's transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.errors import IntegrityError, NotFoundError
from havre.core.hashing import sha256_text
from havre.core.ids import new_id
from havre.db import Database
from havre.governance.projects.application import Application, parse_application
from havre.governance.projects.models import PermitRow, ProjectRow, RevisionRow, StepRow
from havre.governance.projects.permit import IN_FORCE, IdentifierKind, Permit, PermitStatus
from havre.governance.projects.workflow import OPEN_REVIEW, ProjectStatus, ReviewStatus

INITIAL = "initial"
AMENDMENT = "amendment"
NOT_FOUND_HINT = "'havre project list' lists the projects you can see"


@contextlib.contextmanager
def reading(db: Database, session: Session | None) -> Iterator[Session]:
    """The caller's session when it has one (it may hold SQLite's write lock), else our own
    read-only one."""
    if session is not None:
        yield session
        return
    with db.reading() as own:
        yield own


def check_project_id(project_id: str) -> str:
    text = project_id.strip()
    if not text or len(text) > 40 or any(ord(ch) < 33 for ch in text):
        raise NotFoundError(f"No project {project_id[:50]!r}.", hint=NOT_FOUND_HINT)
    return text


def get_project(session: Session, project_id: str, *, lock: bool = False) -> ProjectRow:
    query = select(ProjectRow).where(ProjectRow.id == check_project_id(project_id))
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"No project {project_id}.", hint=NOT_FOUND_HINT)
    return row


def find_project(session: Session, project_id: str) -> ProjectRow | None:
    try:
        return get_project(session, project_id)
    except NotFoundError:
        return None


def revisions(session: Session, project_id: str, *, lock: bool = False) -> list[RevisionRow]:
    query = (
        select(RevisionRow).where(RevisionRow.project_id == project_id).order_by(RevisionRow.number)
    )
    if lock:
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def open_revision(rows: Sequence[RevisionRow]) -> RevisionRow | None:
    """The revision under review (at most one at a time)."""
    for row in reversed(rows):
        if ReviewStatus(row.status) in OPEN_REVIEW:
            return row
    return None


def in_force_revision(rows: Sequence[RevisionRow]) -> RevisionRow | None:
    for row in reversed(rows):
        if row.status == ReviewStatus.IN_FORCE:
            return row
    return None


def public_revision(rows: Sequence[RevisionRow]) -> RevisionRow | None:
    """What the register shows: the revision in force, else the latest submitted one."""
    in_force = in_force_revision(rows)
    if in_force is not None:
        return in_force
    for row in reversed(rows):
        if row.submitted_at is not None:
            return row
    return None


def document(row: RevisionRow, *, submitted: bool = False) -> Application:
    """The revision's document (or the one last submitted), checked against its hash."""
    text, digest = row.document, row.document_sha256
    if submitted and row.submitted_document is not None:
        text, digest = row.submitted_document, row.submitted_sha256 or ""
    if sha256_text(text) != digest:
        raise IntegrityError(
            f"Revision {row.number} of project {row.project_id} does not match its hash.",
            hint="the governance database was altered; restore it and check the audit log",
        )
    return parse_application(json.loads(text), source=f"stored revision {row.id}")


def withheld(row: RevisionRow) -> list[IdentifierKind]:
    return [IdentifierKind(k) for k in json.loads(row.withheld)]


def new_revision(
    project_id: str, number: int, kind: str, app: Application, actor_id: str, now: dt.datetime
) -> RevisionRow:
    return RevisionRow(
        id=new_id("rev"),
        project_id=project_id,
        number=number,
        kind=kind,
        status=ReviewStatus.DRAFT.value,
        document=app.to_json(),
        document_sha256=app.sha256,
        withheld="[]",
        created_by=actor_id,
        created_at=now,
        updated_at=now,
    )


def set_document(row: RevisionRow, app: Application, now: dt.datetime) -> None:
    row.document = app.to_json()
    row.document_sha256 = app.sha256
    row.updated_at = now


def permit_rows(session: Session, project_id: str, *, lock: bool = False) -> list[PermitRow]:
    query = select(PermitRow).where(PermitRow.project_id == project_id).order_by(PermitRow.version)
    if lock:
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def in_force_permit(rows: Sequence[PermitRow]) -> PermitRow | None:
    for row in reversed(rows):
        if PermitStatus(row.status) in IN_FORCE:
            return row
    return None


def load_permit(row: PermitRow) -> Permit:
    return Permit.from_terms(
        row.terms,
        row.terms_sha256,
        status=PermitStatus(row.status),
        activated_at=row.activated_at,
    )


def effective_status(
    project: ProjectRow, permit: PermitRow | None, now: dt.datetime
) -> ProjectStatus:
    """Expiry is read from the clock, before any job marks it."""
    status = ProjectStatus(project.status)
    running = status in (ProjectStatus.ACTIVE, ProjectStatus.SUSPENDED)
    if running and permit is not None and now >= permit.expires_at:
        return ProjectStatus.EXPIRED
    return status


def add_step(
    session: Session,
    project: ProjectRow,
    revision: int,
    step: str,
    outcome: str,
    actor: Actor,
    now: dt.datetime,
    *,
    comment: str | None = None,
    reference: str | None = None,
    decided_on: dt.date | None = None,
) -> StepRow:
    row = StepRow(
        project_id=project.id,
        revision=revision,
        step=step,
        outcome=outcome,
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        at=now,
        comment=comment,
        reference=reference,
        decided_on=decided_on,
    )
    session.add(row)
    return row


def steps(session: Session, project_id: str) -> list[StepRow]:
    query = select(StepRow).where(StepRow.project_id == project_id).order_by(StepRow.id)
    return list(session.execute(query).scalars())


def json_list(values: Sequence[str]) -> str:
    return canonical_text(list(values))
