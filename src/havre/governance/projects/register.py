"""The public register of projects (EHDS articles 67-68; the Health Data Hub's directory).

Every project from its first submission on: what it is for, who is responsible, which data,
on what legal basis, the decisions and their dates, its status, declared interests, and after
closure its results (due 12 months after closure; overdue ones are flagged). It names no
patient, no team member and shows no count of anything in the data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from havre.audit import Target
from havre.core.actor import Actor
from havre.core.canonical import to_jsonable
from havre.governance.projects import store
from havre.governance.projects.actions import RegisterAction
from havre.governance.projects.base import ProjectsBase
from havre.governance.projects.models import PermitRow, ProjectRow, RevisionRow, StepRow
from havre.governance.projects.views import Results
from havre.governance.projects.workflow import OPEN_REVIEW, ReviewStatus, choice


class RegisterFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class RegisterEntry:
    project_id: str
    title: str
    status: str
    public_summary: str | None
    controller: str | None
    lead_organisation: str | None
    purpose: str | None
    public_interest: str | None
    funding: tuple[str, ...]
    declaration_of_interests: str | None
    legal_route: str | None
    legal_basis: str | None  # the methodology or the listed body
    call_id: str | None
    dataset: str | None
    tables: tuple[str, ...]
    data_period_start: dt.date | None
    data_period_end: dt.date | None
    access_level: str | None
    potential_identifiers: tuple[str, ...]  # granted when a permit is in force, else requested
    submitted_on: dt.date | None
    completeness_on: dt.date | None
    opinion: str | None
    opinion_on: dt.date | None
    decision: str | None
    decision_reference: str | None
    decided_on: dt.date | None
    activated_on: dt.date | None
    expires_on: dt.date | None
    closed_on: dt.date | None
    amendment: str | None  # status of an amendment under review
    results_summary: str | None
    results_links: tuple[str, ...]
    results_due_on: dt.date | None
    results_overdue: bool

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(asdict(self))
        return data


FIELDS = tuple(RegisterEntry.__dataclass_fields__)


class RegisterMixin(ProjectsBase):
    def register_entries(self) -> list[RegisterEntry]:
        """The register as it stands (what the portal shows). Reading it needs no account."""
        now = self.now()
        with self.db.transaction() as session:
            projects = list(
                session.execute(
                    select(ProjectRow)
                    .where(ProjectRow.submitted_at.is_not(None))
                    .order_by(ProjectRow.submitted_at, ProjectRow.id)
                ).scalars()
            )
            ids = [p.id for p in projects]
            revisions = _grouped(
                session.execute(
                    select(RevisionRow)
                    .where(RevisionRow.project_id.in_(ids))
                    .order_by(RevisionRow.number)
                ).scalars()
            )
            steps = _grouped(
                session.execute(
                    select(StepRow).where(StepRow.project_id.in_(ids)).order_by(StepRow.id)
                ).scalars()
            )
            permits = _grouped(
                session.execute(
                    select(PermitRow)
                    .where(PermitRow.project_id.in_(ids))
                    .order_by(PermitRow.version)
                ).scalars()
            )
            return [_entry(p, revisions[p.id], steps[p.id], permits[p.id], now) for p in projects]

    def export_register(self, actor: Actor, fmt: RegisterFormat | str = "json") -> str:
        """The register as CSV or JSON text; the export is audited."""
        fmt = choice(RegisterFormat, fmt, "register format")
        target = Target("register", None)
        with self._audited(actor, RegisterAction.EXPORT, None, target=target) as scope:
            entries = self.register_entries()
            scope.details = {"format": fmt.value, "projects": len(entries)}
        return to_csv(entries) if fmt is RegisterFormat.CSV else to_json(entries)


def to_json(entries: list[RegisterEntry]) -> str:
    return json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False) + "\n"


def to_csv(entries: list[RegisterEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for entry in entries:
        data = entry.to_dict()
        writer.writerow(
            [
                "; ".join(v)
                if isinstance(v, list)
                else ""
                if v is None
                else str(v).lower()
                if isinstance(v, bool)
                else v
                for v in (data[f] for f in FIELDS)
            ]
        )
    return out.getvalue()


def _grouped(rows: Any) -> defaultdict[str, list[Any]]:
    out: defaultdict[str, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.project_id].append(row)
    return out


def _date(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else value.date()


def _entry(
    project: ProjectRow,
    revisions: list[RevisionRow],
    steps: list[StepRow],
    permits: list[PermitRow],
    now: dt.datetime,
) -> RegisterEntry:
    public = store.public_revision(revisions) or revisions[0]
    app = store.document(public, submitted=True)
    in_force = store.in_force_permit(permits)
    status = store.effective_status(project, in_force, now)
    on_public = [s for s in steps if s.revision == public.number]

    def last(step: str) -> StepRow | None:
        found = [s for s in on_public if s.step == step]
        return found[-1] if found else None

    completeness = last("completeness")
    opinion = last("opinion")
    decision = last("decision")
    activations = [s for s in steps if s.step == "activate"]
    open_row = store.open_revision(revisions)
    amendment = (
        open_row.status
        if open_row is not None
        and open_row.kind == store.AMENDMENT
        and ReviewStatus(open_row.status) in OPEN_REVIEW
        else None
    )
    if in_force is not None:
        kinds = store.load_permit(in_force).potential_identifiers_granted
        identifiers = tuple(k.value for k in kinds)
    else:
        identifiers = tuple(sorted(k.value for k in app.data.requested_kinds()))
    route = app.legal_route
    period = app.data.period
    results = Results.of(project, now.date())
    return RegisterEntry(
        project_id=project.id,
        title=app.title or project.title,
        status=status.value,
        public_summary=app.public_summary,
        controller=app.controller,
        lead_organisation=app.lead_organisation,
        purpose=app.purpose,
        public_interest=app.public_interest,
        funding=tuple(
            f.funder + (f" ({f.reference})" if f.reference else "") for f in app.funding or ()
        ),
        declaration_of_interests=app.declaration_of_interests,
        legal_route=route.kind.value if route else None,
        legal_basis=(route.methodology or route.body) if route else None,
        call_id=project.call_id,
        dataset=app.data.dataset,
        tables=tuple(sorted(app.data.tables)),
        data_period_start=period.start if period else None,
        data_period_end=period.end if period else None,
        access_level=app.access_level.value if app.access_level else None,
        potential_identifiers=identifiers,
        submitted_on=_date(project.submitted_at),
        completeness_on=_date(completeness.at) if completeness else None,
        opinion=opinion.outcome if opinion else None,
        opinion_on=_date(opinion.at) if opinion else None,
        decision=decision.outcome if decision else None,
        decision_reference=decision.reference if decision else None,
        decided_on=decision.decided_on if decision else None,
        activated_on=_date(activations[0].at) if activations else None,
        expires_on=_date(in_force.expires_at) if in_force else None,
        closed_on=_date(project.closed_at),
        amendment=amendment,
        results_summary=results.summary,
        results_links=results.links,
        results_due_on=results.due_on,
        results_overdue=results.overdue,
    )
