"""The application document, its completeness against the catalog, and the workflow table
(pure functions: no hub)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from havre.core.errors import UsageError
from havre.governance.projects import load_application_file, parse_application
from havre.governance.projects.completeness import CallWindow, look_up, problems
from havre.governance.projects.workflow import (
    ProjectStatus,
    ReviewStatus,
    Step,
    allowed_steps,
    refuse,
)

from .conftest import FakeCatalog, application

LEAD = "usr_" + "a" * 22
MEMBER = "usr_" + "b" * 22
TODAY = dt.date(2027, 3, 1)


def check(doc: dict[str, object], call: CallWindow | None = None) -> list[str]:
    app = parse_application(doc)
    return problems(
        app, lead_user_id=LEAD, facts=look_up(FakeCatalog(), app.data), call=call, today=TODAY
    )


def test_a_complete_application_has_no_problem() -> None:
    assert check(application([MEMBER])) == []


def test_shape_problems_are_reported_at_once() -> None:
    doc = application([MEMBER], access_level="everything", budget=3)
    doc["data"]["period"] = {"start": "2024-01-01", "end": "2020-01-01"}
    doc["data"]["potential_identifiers"] = [{"kind": "shoe_size", "justification": "x"}]
    with pytest.raises(UsageError) as refused:
        parse_application(doc)
    found = refused.value.context["problems"]
    assert "budget: unknown field" in found
    assert any(p.startswith("access_level:") for p in found)
    assert any(p.startswith("data.period:") and "before it starts" in p for p in found)
    assert any(p.startswith("data.potential_identifiers.0.kind:") for p in found)


def test_identifiers_need_a_request_and_a_justification() -> None:
    doc = application([MEMBER])
    data = doc["data"]
    data["tables"]["person"].append("location_id")
    data["potential_identifiers"][0]["justification"] = "needed"
    data["date_policy"] = "exact"
    found = check(doc)
    assert any("data.potential_identifiers.0 (birth_month): a justification" in p for p in found)
    # a tagged column without its identifier is allowed: the workspace generalizes it
    assert not any("location_id" in p for p in found)
    assert any("'exact' dates need the potential identifier exact_date" in p for p in found)
    # exact dates under a shifted or month policy need no identifier request
    assert check(application([MEMBER])) == []


def test_routes_team_and_purposes() -> None:
    doc = application(
        [MEMBER, MEMBER, LEAD, "alice@example.org"],
        legal_route={"kind": "reference_methodology", "methodology": "MR-9"},
        excluded_purposes=["marketing_to_health_professionals", "astrology"],
    )
    found = check(doc)
    assert any(p.startswith("legal_route.methodology") for p in found)
    assert "team: listed more than once: " + MEMBER in found
    assert any(p.startswith("team: the project lead is on the team") for p in found)
    assert any(p.startswith("team: not user ids") and "alice@example.org" in p for p in found)
    assert any("insurance_pricing_or_exclusion" in p for p in found)
    assert any("unknown astrology" in p for p in found)
    body = application([MEMBER], legal_route={"kind": "permanent_access"})
    assert check(body) == ["legal_route.body: name the body listed for permanent access"]


def test_catalog_versions_and_population() -> None:
    doc = application([MEMBER])
    doc["data"].update(version_policy="pinned", version=7)
    assert check(doc) == ["data.version: dataset 'snds' has no version 7 (versions: 1, 2)"]
    doc["data"].update(version=1)
    doc["data"]["tables"]["death"] = ["death_date"]
    assert any(p.startswith("data.tables.death: no such table in snds v1") for p in check(doc))
    doc = application([MEMBER])
    doc["data"]["dataset"] = "hospital"
    assert check(doc) == [
        "data.dataset: no dataset 'hospital' in the catalog (see 'havre catalog')"
    ]


def test_calls_have_windows() -> None:
    window = CallWindow("call_1", TODAY, TODAY + dt.timedelta(days=10))
    assert check(application([MEMBER], call="call_1"), window) == []
    late = CallWindow("call_1", TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=1))
    assert check(application([MEMBER], call="call_1"), late) == [
        "call: the call 'call_1' takes applications from 2027-02-19 to 2027-02-28, "
        "not on 2027-03-01"
    ]


def test_files_in_json_and_toml(tmp_path: Path) -> None:
    doc = application([MEMBER])
    path = tmp_path / "application.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    from_json = load_application_file(path)
    toml = tmp_path / "application.toml"
    toml.write_text(
        'title = "Kidney"\nduration_months = 12\n[data]\ndataset = "snds"\n'
        '[data.tables]\nperson = ["person_id"]\n[data.period]\nstart = 2018-01-01\n'
        "end = 2020-12-31\n",
        encoding="utf-8",
    )
    from_toml = load_application_file(toml)
    assert from_toml.data.period is not None and from_toml.data.period.end.year == 2020
    assert from_json.sha256 == parse_application(json.loads(from_json.to_json())).sha256
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_application_file(broken)
    with pytest.raises(UsageError, match="No application file"):
        load_application_file(tmp_path / "missing.json")


def test_each_state_names_its_next_steps() -> None:
    assert allowed_steps(ProjectStatus.DRAFT, ReviewStatus.DRAFT) == [
        Step.UPDATE,
        Step.SUBMIT,
        Step.WITHDRAW,
    ]
    assert allowed_steps(ProjectStatus.ACTIVE, None) == [
        Step.AMEND,
        Step.REFRESH,
        Step.SUSPEND,
        Step.CLOSE,
    ]
    # with an amendment under review: its steps, and no second amendment
    assert allowed_steps(ProjectStatus.ACTIVE, ReviewStatus.SUBMITTED) == [
        Step.COMPLETENESS,
        Step.WITHDRAW,
        Step.REFRESH,
        Step.SUSPEND,
        Step.CLOSE,
    ]
    assert allowed_steps(ProjectStatus.REJECTED, None) == []
    error = refuse("prj_x", Step.ACTIVATE, ProjectStatus.ACTIVE, ReviewStatus.IN_REVIEW)
    assert str(error).startswith(
        "Project prj_x is active, with an amendment in_review: it cannot be activated. "
        "Allowed next steps: review (reviewer), withdraw (project lead), refresh (data steward)"
    )
