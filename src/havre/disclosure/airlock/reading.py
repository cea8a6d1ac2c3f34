"""Reading requests (the record, a list) and a project's privacy budget; a data steward sets
a project's budget."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from havre.audit import Target, audited
from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, UsageError
from havre.disclosure.airlock import ledger
from havre.disclosure.airlock.actions import PrivacyAction
from havre.disclosure.airlock.base import AirlockBase
from havre.disclosure.airlock.states import ReleaseState
from havre.disclosure.airlock.views import BudgetView, ReleaseSummary, ReleaseView
from havre.disclosure.models import PrivacyBudgetRow, ReleaseOutputRow, ReleaseRequestRow
from havre.governance.identity import Role, require_any_role


class ReadingMixin(AirlockBase):
    def show(self, actor: Actor, request_id: str) -> ReleaseView:
        """The request, its current outputs with their reports, the reviews the actor may see
        (blind review), consolidations and the next steps."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        with self.db.reading() as session:
            row = self.load(session, request_id)
            self.require_reader(actor, row, team)
            return self.view(session, row, actor, team)

    def list_requests(
        self, actor: Actor, project_id: str | None = None, state: str | None = None
    ) -> list[ReleaseSummary]:
        """Every request for those who oversee outputs; one's own projects' for the others."""
        wanted = _state(state)
        query = select(ReleaseRequestRow).order_by(ReleaseRequestRow.created_at)
        if project_id is not None:
            query = query.where(ReleaseRequestRow.project_id == project_id)
        if wanted is not None:
            query = query.where(ReleaseRequestRow.state == wanted.value)
        with self.db.reading() as session:
            rows = list(session.execute(query).scalars())
            counts = dict(
                session.execute(
                    select(ReleaseOutputRow.request_id, func.count())
                    .where(ReleaseOutputRow.current.is_(True))
                    .group_by(ReleaseOutputRow.request_id)
                ).all()
            )
        teams: dict[str, frozenset[str]] = {}
        out = []
        for row in rows:
            if not self.is_overseer(actor, row.project_id):
                if row.project_id not in teams:
                    teams[row.project_id] = self.team(row.project_id)
                mine = actor.user_id is not None and (
                    actor.user_id == row.requester_user_id or actor.user_id in teams[row.project_id]
                )
                if not mine:
                    continue
            out.append(
                ReleaseSummary(
                    id=row.id,
                    project_id=row.project_id,
                    state=row.state,
                    requester_user_id=row.requester_user_id,
                    round=row.round,
                    outputs=int(counts.get(row.id, 0)),
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
            )
        return out

    def budget(self, actor: Actor, project_id: str) -> BudgetView:
        """A project's privacy budget: total, spent, remaining, and what spent it."""
        team = self.team(project_id)
        if not (self.is_overseer(actor, project_id) or actor.user_id in team):
            raise PermissionDenied(
                f"The privacy budget of project {project_id} is shown to its team and to those "
                "who oversee outputs.",
            )
        with self.db.reading() as session:
            self.permits.history(project_id, session=session)  # NotFoundError if unknown
            return self._budget_view(session, project_id)

    def set_budget(
        self, actor: Actor, project_id: str, total_epsilon: float, reason: str
    ) -> BudgetView:
        """A data steward sets a project's total budget (never below what was spent)."""
        if not reason.strip():
            raise UsageError("Say why the budget changes (--reason).")
        if not 0 < total_epsilon <= 100:
            raise UsageError(f"A privacy budget is an epsilon in (0, 100]; got {total_epsilon}.")
        with audited(
            self.db,
            self.audit,
            actor,
            PrivacyAction.BUDGET,
            Target("project", project_id),
            project_id=project_id,
        ) as scope:
            session = scope.session
            user_id = require_any_role(actor, (Role.DATA_STEWARD,), project_id)
            self.permits.history(project_id, session=session)
            self.lock_project(session, project_id)
            budget = ledger.load_budget(session, project_id, self.settings.privacy_budget_epsilon)
            if total_epsilon + 1e-12 < budget.spent:
                raise UsageError(
                    f"Project {project_id} has spent {budget.spent:.4g} already; its budget "
                    f"cannot be set to {total_epsilon:g}.",
                )
            row = session.get(PrivacyBudgetRow, project_id)
            if row is None:
                row = PrivacyBudgetRow(project_id=project_id)
                session.add(row)
            previous = budget.total_epsilon
            row.total_epsilon = total_epsilon
            row.set_by = user_id
            row.set_at = self.now()
            row.reason = reason.strip()[:2000]
            session.flush()
            scope.details = {
                "total": total_epsilon,
                "previous_total": previous,
                "spent": round(budget.spent, 6),
            }
            return self._budget_view(session, project_id)

    def _budget_view(self, session: Session, project_id: str) -> BudgetView:
        budget = ledger.load_budget(session, project_id, self.settings.privacy_budget_epsilon)
        return BudgetView(
            project_id=project_id,
            total_epsilon=budget.total_epsilon,
            spent_epsilon=round(budget.spent, 9),
            remaining_epsilon=round(budget.remaining, 9),
            set_by=ledger.budget_setter(session, project_id),
            entries=tuple(
                {
                    "output_id": e.release_id,
                    "epsilon": e.epsilon,
                    "description": e.description,
                    "at": e.at,
                }
                for e in budget.entries
            ),
        )


def _state(value: str | None) -> ReleaseState | None:
    if value is None:
        return None
    try:
        return ReleaseState(value.strip().lower())
    except ValueError:
        raise UsageError(
            f"Unknown release state {value!r}.",
            hint=f"use one of: {', '.join(s.value for s in ReleaseState)}",
        ) from None
