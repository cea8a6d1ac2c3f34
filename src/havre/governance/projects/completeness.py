"""Is an application complete? Every missing or invalid field, listed at once.

The catalog is read before the check (``look_up``) so the check itself is a pure function of
the document, what the catalog said, and the call the application answers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from havre.governance.projects.application import (
    PROHIBITED_PURPOSES,
    Application,
    DataRequest,
    LegalRouteKind,
)
from havre.governance.projects.catalog import CatalogVersion, CatalogView, TableColumns
from havre.governance.projects.permit import DatePolicy, IdentifierKind, VersionPolicy

MIN_JUSTIFICATION = 20
METHODOLOGY = re.compile(r"MR-00[1-8]")
USER_ID = re.compile(r"usr_[0-9a-z]{22}")
REQUIRED_TEXT = (
    "title",
    "public_summary",
    "purpose",
    "public_interest",
    "controller",
    "lead_organisation",
    "declaration_of_interests",
)


@dataclass(frozen=True)
class CatalogFacts:
    """What the catalog holds for the requested dataset (``version``: the one checked)."""

    dataset: str | None
    versions: tuple[CatalogVersion, ...]
    version: CatalogVersion | None
    columns: TableColumns | None


@dataclass(frozen=True)
class CallWindow:
    id: str
    opens_on: dt.date
    closes_on: dt.date


def look_up(catalog: CatalogView, request: DataRequest) -> CatalogFacts:
    """The versions of the requested dataset and the tables of the version it would use."""
    if not request.dataset:
        return CatalogFacts(None, (), None, None)
    versions = tuple(catalog.versions(request.dataset))
    chosen: CatalogVersion | None = None
    if request.version_policy is VersionPolicy.PINNED:
        chosen = next((v for v in versions if v.version == request.version), None)
    elif versions:
        chosen = versions[-1]
    columns = catalog.columns(request.dataset, chosen.version) if chosen else None
    return CatalogFacts(request.dataset, versions, chosen, columns)


def problems(
    app: Application,
    *,
    lead_user_id: str,
    facts: CatalogFacts,
    call: CallWindow | None,
    today: dt.date,
) -> list[str]:
    found: list[str] = []
    for name in REQUIRED_TEXT:
        if not (getattr(app, name) or "").strip():
            found.append(f"{name}: missing")
    if not app.funding:
        found.append("funding: missing (list each funder; write your own organisation if none)")
    found += _route_problems(app)
    found += _team_problems(app, lead_user_id)
    if app.access_level is None:
        found.append("access_level: missing (aggregate-only or row-level)")
    if app.duration_months is None:
        found.append("duration_months: missing")
    missing = [p for p in PROHIBITED_PURPOSES if p not in app.excluded_purposes]
    if missing:
        found.append(
            "excluded_purposes: must explicitly exclude "
            + ", ".join(f"{p} ({PROHIBITED_PURPOSES[p]})" for p in missing)
        )
    unknown = [p for p in app.excluded_purposes if p not in PROHIBITED_PURPOSES]
    if unknown:
        found.append(
            f"excluded_purposes: unknown {', '.join(unknown)} "
            f"(known: {', '.join(PROHIBITED_PURPOSES)})"
        )
    found += data_problems(app.data, facts)
    if app.call is not None:
        if call is None:
            found.append(f"call: no call for projects '{app.call}' (see 'havre call list')")
        elif not call.opens_on <= today <= call.closes_on:
            found.append(
                f"call: the call '{call.id}' takes applications from {call.opens_on} to "
                f"{call.closes_on}, not on {today}"
            )
    return found


def _route_problems(app: Application) -> list[str]:
    route = app.legal_route
    if route is None:
        return [
            "legal_route: missing (cnil_authorisation, reference_methodology or permanent_access)"
        ]
    methodology = route.methodology or ""
    if route.kind is LegalRouteKind.REFERENCE_METHODOLOGY and not METHODOLOGY.fullmatch(
        methodology
    ):
        return ["legal_route.methodology: name the reference methodology (MR-001 to MR-008)"]
    if route.kind is LegalRouteKind.PERMANENT_ACCESS and not (route.body or "").strip():
        return ["legal_route.body: name the body listed for permanent access"]
    return []


def _team_problems(app: Application, lead_user_id: str) -> list[str]:
    found = []
    ids = app.team_ids()
    bad = [u for u in ids if not USER_ID.fullmatch(u)]
    if bad:
        found.append(f"team: not user ids (usr_...): {', '.join(bad[:5])}")
    if lead_user_id in ids:
        found.append("team: the project lead is on the team already; list the other members")
    repeated = sorted({u for u in ids if ids.count(u) > 1})
    if repeated:
        found.append(f"team: listed more than once: {', '.join(repeated)}")
    return found


def data_problems(request: DataRequest, facts: CatalogFacts) -> list[str]:
    found: list[str] = []
    if not request.dataset:
        found.append("data.dataset: missing")
    if request.version_policy is VersionPolicy.PINNED and request.version is None:
        found.append("data.version: a pinned version policy needs the version number")
    if request.version_policy is VersionPolicy.LATEST_AT_ISSUE and request.version is not None:
        found.append("data.version: give it only with version_policy 'pinned'")
    if not request.tables:
        found.append("data.tables: missing (table -> list of columns)")
    empty = [t for t, columns in request.tables.items() if not columns]
    if empty:
        found.append(f"data.tables: no column requested from {', '.join(empty)}")
    if request.period is None:
        found.append("data.period: missing (start and end dates)")
    if request.date_policy is None:
        found.append("data.date_policy: missing (exact, shifted or month)")
    kinds = request.requested_kinds()
    repeated = sorted({k.value for k in kinds if kinds.count(k) > 1})
    if repeated:
        found.append(f"data.potential_identifiers: requested more than once: {repeated}")
    for index, item in enumerate(request.potential_identifiers):
        if len(item.justification.strip()) < MIN_JUSTIFICATION:
            found.append(
                f"data.potential_identifiers.{index} ({item.kind}): a justification of at "
                f"least {MIN_JUSTIFICATION} characters is required"
            )
    if request.date_policy is DatePolicy.EXACT and IdentifierKind.EXACT_DATE not in kinds:
        found.append(
            "data.date_policy: 'exact' dates need the potential identifier exact_date, "
            "requested with a justification (or choose shifted or month)"
        )
    if request.dataset:
        found += _catalog_problems(request, facts)
    return found


def _catalog_problems(request: DataRequest, facts: CatalogFacts) -> list[str]:
    if not facts.versions:
        return [
            f"data.dataset: no dataset '{request.dataset}' in the catalog (see 'havre catalog')"
        ]
    if facts.version is None or facts.columns is None:
        known = ", ".join(str(v.version) for v in facts.versions)
        return [
            f"data.version: dataset '{request.dataset}' has no version {request.version} "
            f"(versions: {known})"
        ]
    found = []
    catalog = facts.columns
    label = f"{request.dataset} v{facts.version.version}"
    for table, columns in request.tables.items():
        if table not in catalog:
            found.append(
                f"data.tables.{table}: no such table in {label} "
                f"(tables: {', '.join(sorted(catalog))})"
            )
            continue
        unknown = [c for c in columns if c not in catalog[table]]
        if unknown:
            found.append(f"data.tables.{table}: no such column(s) {', '.join(unknown)} in {label}")
        # A column tagged as a potential identifier may be requested without the identifier:
        # the workspace then generalizes it (commune -> departement, birth month -> year...).
    population = request.population
    if population.conditions and "condition_occurrence" not in catalog:
        found.append(f"data.population.conditions: {label} has no condition_occurrence table")
    if population.departements and not {"person", "location"} <= set(catalog):
        found.append(f"data.population.departements: {label} has no residence (location) table")
    return found
