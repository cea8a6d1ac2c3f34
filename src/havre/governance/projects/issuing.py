"""Turning an authorised application into permit terms.

What is granted is what was requested, less what the authorisation withheld: columns tagged
with a potential identifier that was not granted stay in the permit and the workspace
generalizes them (commune to departement, birth month to year, dates per the date policy);
exact dates withheld turn an ``exact`` date policy into ``shifted``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Collection

from havre.core.errors import StateError
from havre.governance.projects.application import Application
from havre.governance.projects.completeness import CatalogFacts, data_problems
from havre.governance.projects.permit import (
    DatePolicy,
    IdentifierKind,
    Permit,
    PermitStatus,
    RiskFigures,
    RowFilter,
    TableGrant,
)


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def build_permit(
    *,
    project_id: str,
    version: int,
    revision: int,
    app: Application,
    withheld: Collection[IdentifierKind],
    facts: CatalogFacts,
    named_persons: Collection[str],
    issued_at: dt.datetime,
    starts_at: dt.datetime,
    risk: RiskFigures | None,
) -> Permit:
    """The terms of a new permit version. Refuses when the catalog no longer holds what was
    authorised (a table dropped from the latest version, a pinned version gone)."""
    data = app.data
    problems = data_problems(data, facts)
    if problems:
        raise StateError(
            f"Project {project_id}: the authorised data no longer matches the catalog: "
            + "; ".join(problems),
            hint="amend the application (havre project amend) to match what the lake holds",
        )
    assert facts.version is not None and facts.columns is not None
    assert data.period is not None and data.date_policy is not None
    assert app.access_level is not None and app.duration_months is not None
    granted = set(data.requested_kinds()) - set(withheld)
    tables = []
    for table, columns in data.tables.items():
        if columns:
            tables.append(TableGrant(name=table, columns=tuple(columns)))
    policy = data.date_policy
    if policy is DatePolicy.EXACT and IdentifierKind.EXACT_DATE not in granted:
        policy = DatePolicy.SHIFTED
    return Permit(
        project_id=project_id,
        version=version,
        revision=revision,
        issued_at=issued_at,
        expires_at=add_months(starts_at, app.duration_months),
        named_persons=tuple(named_persons),
        dataset=facts.version.dataset,
        data_version_policy=data.version_policy,
        data_version=facts.version.version,
        data_version_id=facts.version.id,
        tables=tuple(tables),
        row_filter=RowFilter(period=data.period, population=data.population),
        potential_identifiers_granted=tuple(granted),
        date_policy=policy,
        access_level=app.access_level,
        risk=risk,
        status=PermitStatus.ISSUED,
    )
