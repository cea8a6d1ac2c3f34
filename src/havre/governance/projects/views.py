"""What the project services return: typed, read-only views (never rows)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from havre.governance.projects import store
from havre.governance.projects.application import Application
from havre.governance.projects.models import CallRow, ProjectRow, RevisionRow, StepRow
from havre.governance.projects.permit import IdentifierKind, Permit
from havre.governance.projects.risk import RiskRecord
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, Step


@dataclass(frozen=True)
class RevisionView:
    number: int
    kind: str
    status: ReviewStatus
    document: Application
    document_sha256: str
    withheld: tuple[IdentifierKind, ...]
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None

    @classmethod
    def of(cls, row: RevisionRow) -> RevisionView:
        return cls(
            number=row.number,
            kind=row.kind,
            status=ReviewStatus(row.status),
            document=store.document(row),
            document_sha256=row.document_sha256,
            withheld=tuple(store.withheld(row)),
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            submitted_at=row.submitted_at,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["document"] = self.document.model_dump(mode="json")
        return data


@dataclass(frozen=True)
class StepView:
    revision: int
    step: str
    outcome: str
    actor_user_id: str | None
    actor_name: str
    at: dt.datetime
    comment: str | None
    reference: str | None
    decided_on: dt.date | None

    @classmethod
    def of(cls, row: StepRow) -> StepView:
        return cls(
            revision=row.revision,
            step=row.step,
            outcome=row.outcome,
            actor_user_id=row.actor_user_id,
            actor_name=row.actor_name,
            at=row.at,
            comment=row.comment,
            reference=row.reference,
            decided_on=row.decided_on,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Results:
    due_on: dt.date | None
    overdue: bool
    summary: str | None
    links: tuple[str, ...]
    recorded_at: dt.datetime | None

    @classmethod
    def of(cls, row: ProjectRow, today: dt.date) -> Results:
        due = row.results_due_on
        return cls(
            due_on=due,
            overdue=due is not None and row.results_recorded_at is None and today > due,
            summary=row.results_summary,
            links=tuple(json.loads(row.results_links or "[]")),
            recorded_at=row.results_recorded_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProjectView:
    id: str
    title: str
    status: ProjectStatus
    lead_user_id: str
    call_id: str | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    closed_at: dt.datetime | None
    workspace_key: str | None
    revisions: tuple[RevisionView, ...]
    steps: tuple[StepView, ...]
    permit: Permit | None
    allowed_next: tuple[Step, ...]
    results: Results
    risk: RiskRecord | None = None  # the latest revision's risk assessment

    @property
    def current(self) -> RevisionView:
        """The latest revision (the open one, if any)."""
        return self.revisions[-1]

    @property
    def open_review(self) -> ReviewStatus | None:
        status = self.current.status
        return status if status not in _SETTLED else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "open_review": self.open_review.value if self.open_review else None,
            "lead_user_id": self.lead_user_id,
            "call_id": self.call_id,
            "created_at": self.created_at,
            "submitted_at": self.submitted_at,
            "closed_at": self.closed_at,
            "workspace_key": self.workspace_key,
            "allowed_next": [s.value for s in self.allowed_next],
            "revisions": [r.to_dict() for r in self.revisions],
            "steps": [s.to_dict() for s in self.steps],
            "permit": self.permit.to_dict() if self.permit else None,
            "results": self.results.to_dict(),
            "risk": self.risk.to_dict() if self.risk else None,
        }


_SETTLED = frozenset(
    {
        ReviewStatus.IN_FORCE,
        ReviewStatus.SUPERSEDED,
        ReviewStatus.REJECTED,
        ReviewStatus.WITHDRAWN,
    }
)


@dataclass(frozen=True)
class ProjectSummary:
    """One line of a project list."""

    id: str
    title: str
    status: ProjectStatus
    open_review: ReviewStatus | None
    lead_user_id: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    permit_version: int | None
    expires_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CallView:
    id: str
    title: str
    description: str
    themes: tuple[str, ...]
    opens_on: dt.date
    closes_on: dt.date
    open: bool
    created_at: dt.datetime
    applications: tuple[str, ...] = ()  # submitted projects answering it

    @classmethod
    def of(cls, row: CallRow, today: dt.date, applications: tuple[str, ...] = ()) -> CallView:
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            themes=tuple(json.loads(row.themes)),
            opens_on=row.opens_on,
            closes_on=row.closes_on,
            open=row.opens_on <= today <= row.closes_on,
            created_at=row.created_at,
            applications=applications,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
