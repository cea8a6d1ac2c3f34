"""The public register (export in CSV and JSON, following each project's status) and calls
for projects."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.governance.projects import ProjectService
from havre.governance.projects.register import FIELDS

from .conftest import SQLITE_ONLY, START, AuditLines, Cast, Flow, application

PUBLIC_FIELDS = {
    "title",
    "public_summary",
    "controller",
    "lead_organisation",
    "purpose",
    "dataset",
    "tables",
    "legal_route",
    "submitted_on",
    "decided_on",
    "status",
    "declaration_of_interests",
    "results_summary",
    "results_links",
    "results_due_on",
    "results_overdue",
}


def exported(projects: ProjectService, fmt: str) -> str:
    return projects.export_register(Actor.operator("publish the register"), fmt)


def rows_of(text: str) -> dict[str, dict[str, str]]:
    return {row["project_id"]: row for row in csv.DictReader(io.StringIO(text))}


def test_the_register_follows_each_project(
    projects: ProjectService, cast: Cast, flow: Flow, clock: FixedClock, audit_lines: AuditLines
) -> None:
    draft = flow.create()
    pid = flow.to(flow.create(), "submitted")
    assert set(FIELDS) >= PUBLIC_FIELDS
    data = json.loads(exported(projects, "json"))
    assert [e["project_id"] for e in data] == [pid]  # drafts never submitted are not public
    assert draft not in exported(projects, "csv")
    assert rows_of(exported(projects, "csv"))[pid]["status"] == "submitted"

    flow.to(pid, "active", start="submitted")
    row = rows_of(exported(projects, "csv"))[pid]
    assert row["status"] == "active"
    assert row["tables"] == "condition_occurrence; person"
    assert row["potential_identifiers"] == "birth_month"
    assert row["decision_reference"] == "DR-2027-042"
    assert row["activated_on"] == START.date().isoformat()

    projects.close(cast.actor(cast.lead, pid), pid, "Done.")
    row = rows_of(exported(projects, "csv"))[pid]
    assert (row["status"], row["results_due_on"], row["results_overdue"]) == (
        "closed",
        "2028-03-01",
        "false",
    )
    later = dt.datetime(2028, 3, 2, 9, 0, tzinfo=dt.UTC)
    cast.people.time_passes(clock, (later - clock.now()).days, [cast.admin])
    clock.set(later)
    assert rows_of(exported(projects, "csv"))[pid]["results_overdue"] == "true"
    projects.record_results(
        cast.actor(cast.admin), pid, summary="Published.", links=["doi:10.1000/abc.42"]
    )
    row = json.loads(exported(projects, "json"))[0]
    assert row["results_overdue"] is False and row["results_links"] == ["doi:10.1000/abc.42"]

    exports = audit_lines("register.export")
    assert exports[-1]["details"] == {"format": "json", "projects": 1}
    # no team member, no patient, no count of anything in the data
    text = exported(projects, "json")
    for person in (cast.lead, cast.researcher, cast.steward):
        assert person.user_id not in text and person.name not in text
    assert not any(f.endswith(("count", "persons", "rows", "records")) for f in FIELDS)


@SQLITE_ONLY
def test_results_only_after_closure_and_well_formed(
    projects: ProjectService, cast: Cast, flow: Flow
) -> None:
    pid = flow.active()
    with pytest.raises(StateError, match="results are published after closure"):
        projects.record_results(cast.actor(cast.lead, pid), pid, summary="Too early.")
    projects.close(cast.actor(cast.lead, pid), pid, "Done.")
    with pytest.raises(UsageError, match="not http"):
        projects.record_results(
            cast.actor(cast.lead, pid), pid, summary="x", links=["javascript:alert(1)"]
        )
    with pytest.raises(PermissionDenied):
        projects.record_results(cast.actor(cast.outsider), pid, summary="Not mine.")


@SQLITE_ONLY
def test_calls_for_projects(
    projects: ProjectService, cast: Cast, flow: Flow, clock: FixedClock
) -> None:
    with pytest.raises(PermissionDenied, match="administrator"):
        projects.create_call(
            cast.actor(cast.steward),
            title="x",
            themes=["y"],
            opens_on=START.date(),
            closes_on=START.date(),
        )
    with pytest.raises(UsageError, match="before it opens"):
        projects.create_call(
            cast.actor(cast.admin),
            title="Kidney",
            themes=["renal"],
            opens_on=START.date(),
            closes_on=START.date() - dt.timedelta(days=1),
        )
    call = projects.create_call(
        cast.actor(cast.admin),
        title="Chronic diseases in Normandy",
        themes=["diabetes", "kidney disease", "diabetes"],
        opens_on=START.date(),
        closes_on=START.date() + dt.timedelta(days=30),
        description="Projects using claims data on chronic diseases.",
    )
    assert call.open and call.themes == ("diabetes", "kidney disease")
    assert [c.id for c in projects.calls(open_only=True)] == [call.id]
    pid = flow.create(call=call.id)
    late = flow.create(call=call.id)
    flow.to(pid, "submitted")
    assert projects.call(call.id).applications == (pid,)
    clock.advance(days=31)
    with pytest.raises(UsageError, match="takes applications from"):
        projects.submit(cast.actor(cast.lead, late), late)
    assert projects.calls(open_only=True) == []
    unknown = projects.create(cast.actor(cast.lead), application(call="call_nope"))
    with pytest.raises(UsageError, match="no call for projects 'call_nope'"):
        projects.submit(cast.actor(cast.lead, unknown), unknown)


@SQLITE_ONLY
def test_who_reads_what(projects: ProjectService, cast: Cast, flow: Flow) -> None:
    mine = flow.create()
    theirs = projects.create(cast.actor(cast.outsider), application())
    listed = {p.id for p in projects.list_projects(cast.actor(cast.researcher))}
    assert listed == {mine}
    assert {p.id for p in projects.list_projects(cast.actor(cast.steward))} == {mine, theirs}
    assert [p.id for p in projects.list_projects(Actor.operator("x"), "draft")] == [mine, theirs]
    with pytest.raises(PermissionDenied, match="open to its team"):
        projects.show(cast.actor(cast.researcher), theirs)
    assert projects.show(cast.actor(cast.reviewer), theirs).id == theirs
