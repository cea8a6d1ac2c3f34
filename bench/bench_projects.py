"""Projects: what every data access pays to check its permit, and the public register.

(1) ``permits.require_access`` median latency, in its own transaction and inside a caller's
(what the workspace and the airlock pay on every access); (2) a full review path (create to
active: eight audited service calls) per project; (3) ``export_register`` over many projects
in CSV and JSON. SQLite with durable commits, in process; the catalog is a fixed in-memory
one (the lake's catalog is measured by its own benchmark).
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchResult
from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.governance.identity import Role, passwords
from havre.governance.identity.testing import FAST_TEST_HASHER, People
from havre.governance.projects import (
    PROHIBITED_PURPOSES,
    CatalogVersion,
    IdentifierKind,
    ProjectService,
)
from havre.governance.projects.catalog import TableColumns
from havre.hub import Hub

SCALES = {
    # access checks, projects in the register
    "small": (300, 20),
    "full": (5_000, 500),
}
ACCESS_TARGET = 0.005  # seconds per check: paid on every query a researcher runs
PATH_TARGET = 2.0  # seconds for the eight steps of one project's review, all audited
EXPORT_TARGET = 5.0  # seconds for the whole register (the portal may cache it)
START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)

TABLES: TableColumns = {
    "person": {
        "person_id": None,
        "year_of_birth": None,
        "month_of_birth": IdentifierKind.BIRTH_MONTH,
    },
    "condition_occurrence": {
        "person_id": None,
        "condition_start_date": IdentifierKind.EXACT_DATE,
        "condition_source_value": None,
    },
}


class Catalog:
    def versions(self, dataset: str) -> list[CatalogVersion]:
        return [CatalogVersion("dv_bench", "snds", 1)] if dataset == "snds" else []

    def columns(self, dataset: str, version: int) -> TableColumns:
        return TABLES


def _application(member: str, number: int) -> dict[str, object]:
    return {
        "title": f"Benchmark study {number}",
        "public_summary": "A study of chronic disease trajectories.",
        "purpose": "Describe care pathways.",
        "public_interest": "Better care.",
        "controller": "Université de Rouen Normandie",
        "lead_organisation": "CHU de Rouen",
        "team": [{"user": member, "role": "researcher"}],
        "funding": [{"funder": "ANR"}],
        "declaration_of_interests": "None declared.",
        "legal_route": {"kind": "cnil_authorisation"},
        "data": {
            "dataset": "snds",
            "tables": {
                "person": ["person_id", "year_of_birth", "month_of_birth"],
                "condition_occurrence": ["person_id", "condition_start_date"],
            },
            "period": {"start": "2018-01-01", "end": "2023-12-31"},
            "population": {"conditions": ["E11"]},
            "potential_identifiers": [
                {"kind": "birth_month", "justification": "Age at diagnosis to the month."}
            ],
            "date_policy": "shifted",
        },
        "access_level": "row-level",
        "duration_months": 24,
        "excluded_purposes": list(PROHIBITED_PURPOSES),
    }


def _median(call: Callable[[], object], times: int) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def run(scale: str) -> BenchResult:
    checks, count = SCALES[scale]
    result = BenchResult("projects", scale)
    original, passwords.HASHER = passwords.HASHER, FAST_TEST_HASHER  # not what is measured
    try:
        return _run(scale, checks, count, result)
    finally:
        passwords.HASHER = original


def _run(scale: str, checks: int, count: int, result: BenchResult) -> BenchResult:
    with tempfile.TemporaryDirectory() as folder:
        hub, _ = Hub.init(load_settings(home=Path(folder) / "home"), clock=FixedClock(START))
        with hub:
            people = People(hub.identity)
            admin = people.admin()
            lead, member = people.person(), people.person()
            steward = people.person([(Role.DATA_STEWARD, None)])
            steward2 = people.person([(Role.DATA_STEWARD, None)])
            reviewer = people.person([(Role.REVIEWER, None)])
            service = ProjectService(
                hub.db, hub.audit, hub.keys, hub.identity, Catalog(), hub.clock
            )

            def path(number: int) -> str:
                pid = service.create(people.actor(lead), _application(member.user_id, number))
                service.submit(people.actor(lead, pid), pid)
                service.check_completeness(people.actor(steward), pid, True)
                service.give_opinion(people.actor(reviewer), pid, "favourable", "Fine.")
                service.decide(
                    people.actor(steward2),
                    pid,
                    "authorised",
                    reference="DR-1",
                    decided_on=START.date(),
                )
                service.issue(people.actor(steward), pid)
                service.activate(people.actor(steward2), pid)
                service.close(people.actor(admin), pid, "Benchmark") if number % 4 == 0 else None
                return pid

            started = time.perf_counter()
            projects = [path(n) for n in range(count)]
            per_path = (time.perf_counter() - started) / count
            result.add(
                "review path per project",
                per_path,
                "s",
                f"<= {PATH_TARGET}",
                per_path <= PATH_TARGET,
            )

            pid = projects[1]
            actor = people.actor(member, pid)
            alone = _median(lambda: service.permits.require_access(actor, pid), checks)
            result.add(
                "require_access (own transaction)",
                alone * 1000,
                "ms",
                f"<= {ACCESS_TARGET * 1000}",
                alone <= ACCESS_TARGET,
            )
            with hub.db.transaction() as session:
                inside = _median(
                    lambda: service.permits.require_access(actor, pid, session=session), checks
                )
            result.add(
                "require_access (caller's transaction)",
                inside * 1000,
                "ms",
                f"<= {ACCESS_TARGET * 1000}",
                inside <= ACCESS_TARGET,
            )

            for fmt in ("csv", "json"):
                started = time.perf_counter()
                text = service.export_register(people.actor(admin), fmt)
                seconds = time.perf_counter() - started
                result.add(
                    f"register export {fmt} ({count} projects)",
                    seconds,
                    "s",
                    f"<= {EXPORT_TARGET}",
                    seconds <= EXPORT_TARGET,
                )
                result.add(f"register size {fmt}", len(text.encode()) / 1024, "KiB")
    return result
