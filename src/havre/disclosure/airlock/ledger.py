"""The privacy budget ledger: what each project's differentially private outputs spent.

Epsilon is spent when the noisy counts are drawn (the requester sees them in the check report
at once), not when they are released: a returned, rejected or withdrawn request gives nothing
back, and checking a DP output again draws new noise and spends again. Epsilons add up (basic
composition); the total is the project's budget (set by a data steward) or the hub's
``privacy_budget_epsilon``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.core.ids import new_id
from havre.disclosure.models import PrivacyBudgetRow, PrivacySpendRow
from havre.disclosure.privacy import BudgetEntry, PrivacyBudget


def load_budget(session: Session, project_id: str, default_total: float) -> PrivacyBudget:
    row = session.get(PrivacyBudgetRow, project_id)
    spends = session.execute(
        select(PrivacySpendRow)
        .where(PrivacySpendRow.project_id == project_id)
        .order_by(PrivacySpendRow.spent_at, PrivacySpendRow.id)
    ).scalars()
    entries = tuple(
        BudgetEntry(
            release_id=s.output_id, epsilon=s.epsilon, description=s.description, at=s.spent_at
        )
        for s in spends
    )
    total = row.total_epsilon if row is not None else default_total
    return PrivacyBudget(project_id=project_id, total_epsilon=total, entries=entries)


def budget_setter(session: Session, project_id: str) -> str | None:
    row = session.get(PrivacyBudgetRow, project_id)
    return None if row is None else row.set_by


def spend(
    session: Session,
    budget: PrivacyBudget,
    *,
    epsilon: float,
    request_id: str,
    output_id: str,
    description: str,
    user_id: str,
    at: dt.datetime,
) -> PrivacyBudget:
    """Charge ``epsilon`` (``DisclosureError`` past the total) and write it to the ledger."""
    charged = budget.charge(epsilon, output_id, description[:200], at)
    session.add(
        PrivacySpendRow(
            id=new_id("dps"),
            project_id=budget.project_id,
            request_id=request_id,
            output_id=output_id,
            epsilon=epsilon,
            total_epsilon=budget.total_epsilon,
            description=description[:200],
            spent_by=user_id,
            spent_at=at,
        )
    )
    return charged
