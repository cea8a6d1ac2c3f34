"""The risk preview of the permit review: the would-be extract measured before a permit is
granted, on a small synthetic lake whose communes are INSEE-shaped and where two persons hold
a rare diagnosis."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from havre.cli.main import main
from havre.core.clock import Clock, FixedClock, SystemClock
from havre.core.config import Settings, load_settings
from havre.core.errors import EngineError, PermissionDenied, StateError, UsageError
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER
from havre.governance.projects import (
    PermitDraft,
    RiskFigures,
    RiskRecord,
    RiskRequest,
    RiskResult,
    parse_permit_draft,
)
from havre.governance.projects.application import DataRequest
from havre.hub import Hub
from havre.scenarios.world import World, application, publish_version, synthetic_omop

from .conftest import START, WHY, HubWorld, audit_lines

PERSONS = 300
RARE = "Q870"  # held by two persons: rare in any data version
IDENTIFYING: dict[str, Any] = {
    "tables": {
        "person": [
            "person_id",
            "gender_concept_id",
            "year_of_birth",
            "month_of_birth",
            "location_id",
        ],
        "condition_occurrence": [
            "person_id",
            "condition_start_date",
            "condition_source_value",
        ],
    },
    "potential_identifiers": [
        {"kind": "birth_month", "justification": "Age at diagnosis to the month, for the model."},
        {"kind": "commune", "justification": "Distance to care, computed at commune level."},
        {"kind": "exact_date", "justification": "Exact intervals between diagnoses and visits."},
    ],
    "date_policy": "exact",
    "sensitive": ["diagnosis"],
}
# generalized terms: no birth month, no exact dates, and no residence at all (a withheld
# commune alone would still leave the departement)
GENERALIZED = PermitDraft(
    withhold=("birth_month", "commune", "exact_date"),
    date_policy="month",
    tables={
        **{t: tuple(c) for t, c in IDENTIFYING["tables"].items()},
        "person": ("person_id", "gender_concept_id", "year_of_birth", "month_of_birth"),
    },
)


def lake_tables(persons: int = PERSONS) -> dict[str, pa.Table]:
    """The synthetic OMOP tables with INSEE-shaped commune codes and a rare diagnosis."""
    tables = synthetic_omop(persons)
    location = tables["location"]
    counties = location.column("county").to_pylist()
    codes = [f"{c}{i:03d}" if len(c) == 2 else f"{c}{i:02d}" for i, c in enumerate(counties)]
    index = location.schema.get_field_index("location_source_value")
    tables["location"] = location.set_column(
        index, "location_source_value", pa.array(codes, pa.string())
    )
    conditions = tables["condition_occurrence"]
    owners = conditions.column("person_id").to_pylist()
    first_two = sorted(set(owners))[:2]
    values = conditions.column("condition_source_value").to_pylist()
    values = [
        RARE if owner in first_two else value for owner, value in zip(owners, values, strict=True)
    ]
    index = conditions.schema.get_field_index("condition_source_value")
    tables["condition_occurrence"] = conditions.set_column(
        index, "condition_source_value", pa.array(values, pa.string())
    )
    return tables


def make_world(settings: Settings, clock: Clock) -> tuple[Hub, HubWorld]:
    hub, _ = Hub.init(settings, clock=clock)
    seated = World.seat(hub.identity, hub.projects)
    publish_version(hub.lake, lake_tables())
    return hub, HubWorld(**vars(seated), hub=hub)


@pytest.fixture
def rworld(
    make_settings: Callable[..., Settings], database_url: str, clock: FixedClock
) -> Iterator[HubWorld]:
    """On SQLite and on PostgreSQL."""
    hub, made = make_world(make_settings(database_url=database_url), clock)
    try:
        yield made
    finally:
        hub.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """One SQLite hub for the tests that are not about the governance store: each works on
    its own project (seating people and publishing the lake cost more than a test)."""
    original = passwords.HASHER
    passwords.HASHER = FAST_TEST_HASHER
    home = tmp_path_factory.mktemp("preview") / "home"
    try:
        hub, made = make_world(load_settings(home=home), FixedClock(START))
        try:
            yield made
        finally:
            hub.workspaces.close()
            hub.close()
    finally:
        passwords.HASHER = original


def project_lines(world: HubWorld, project: str) -> list[dict[str, Any]]:
    return [e for e in audit_lines(world.hub, "risk.assess") if e["project"] == project]


def in_review(world: HubWorld, **data: Any) -> str:
    """A project of the lead and the researcher, submitted and found complete (the review
    starts: its risk is assessed)."""
    projects = world.hub.projects
    doc = application([world.researcher.user_id], **{**IDENTIFYING, **data})
    project = projects.create(world.actor(world.lead), doc)
    projects.submit(world.actor(world.lead, project), project)
    projects.check_completeness(world.actor(world.steward), project, True)
    return project


def assess(
    world: HubWorld, project: str, draft: PermitDraft | None = None, **target: Any
) -> RiskRecord:
    reviewer = world.actor(world.reviewer, project, WHY)
    return world.hub.projects.assess_risk(reviewer, project, draft=draft, **target)


def risk_of(record: RiskRecord) -> dict[str, Any]:
    assessment: dict[str, Any] = record.report["assessment"]
    return assessment


# -- what the review sees, and what the permit records -----------------------------------------
def test_the_reviewer_reads_the_assessment_before_deciding_and_the_permit_records_it(
    rworld: HubWorld,
) -> None:
    world, projects = rworld, rworld.hub.projects
    project = in_review(world)
    reviewer = world.actor(world.reviewer, project)
    stored = projects.risk_assessment(reviewer, project)
    assert stored is not None and stored.stored and stored.trigger == "review"
    assert stored.revision == 1 and stored.assessed_by == "Sam Steward"
    figures = stored.figures
    assert figures.k_anonymity == 1 and figures.prosecutor_risk is not None
    assert figures.prosecutor_risk > 0.5  # commune, birth month and exact dates single people out
    assert projects.show(reviewer, project).to_dict()["risk"]["figures"] == figures.model_dump(
        mode="json"
    )
    assert stored.report["persons"] == PERSONS
    assert stored.report["suggestions"]["target"] == {"k": 5, "average_risk": None}
    [entry] = audit_lines(world.hub, "risk.assess")
    assert entry["outcome"] == "ok" and entry["details"]["trigger"] == "review"
    assert entry["details"]["stored"] is True
    assert entry["details"]["report_sha256"] == figures.report_sha256

    projects.give_opinion(reviewer, project, "favourable", "Sound, given the risk shown.")
    projects.decide(
        world.actor(world.steward2, project),
        project,
        "authorised",
        reference="DR-2027-002",
        decided_on=world.identity.now().date(),
    )
    permit = projects.issue(world.actor(world.steward, project), project)
    # the terms did not change since the review: the permit holds what the reviewer saw
    assert permit.risk == figures
    assert len(audit_lines(world.hub, "risk.assess")) == 1
    [issued] = audit_lines(world.hub, "permit.issue")
    assert issued["details"]["risk_report_sha256"] == figures.report_sha256


def test_withheld_identifiers_are_assessed_again_at_issue(shared: HubWorld) -> None:
    world, projects = shared, shared.hub.projects
    project = in_review(world)
    reviewed = projects.risk_assessment(world.actor(world.reviewer, project), project)
    assert reviewed is not None
    projects.give_opinion(world.actor(world.reviewer, project), project, "favourable", "Fine.")
    projects.decide(
        world.actor(world.steward2, project),
        project,
        "authorised",
        reference="DR-2027-003",
        decided_on=world.identity.now().date(),
        withhold=["commune", "birth_month", "exact_date"],
    )
    permit = projects.issue(world.actor(world.steward, project), project)
    assert permit.risk is not None and permit.risk != reviewed.figures
    assert permit.risk.report_sha256 != reviewed.figures.report_sha256
    assert permit.risk.prosecutor_risk is not None and reviewed.figures.prosecutor_risk
    assert permit.risk.prosecutor_risk < reviewed.figures.prosecutor_risk
    entries = project_lines(world, project)
    assert [e["details"]["trigger"] for e in entries] == ["review", "issue"]
    # the record stays with the revision the permit was granted on
    stored = projects.risk_assessment(world.actor(world.reviewer, project), project)
    assert stored is not None and stored.figures == permit.risk and stored.trigger == "issue"


class Failing:
    def assess(self, request: RiskRequest) -> RiskResult:
        raise EngineError("The engine failed.")


def test_a_failed_assessment_is_audited_and_blocks_only_the_issue(shared: HubWorld) -> None:
    world, projects = shared, shared.hub.projects
    working = projects.risk_assessor
    projects.risk_assessor = Failing()
    try:
        project = in_review(world)  # the review starts even so
        reviewer = world.actor(world.reviewer, project)
        assert projects.show(reviewer, project).status.value == "in_review"
        assert projects.risk_assessment(reviewer, project) is None
        [failed] = project_lines(world, project)
        assert failed["outcome"] == "error" and failed["details"]["trigger"] == "review"
        projects.give_opinion(reviewer, project, "favourable", "Fine.")
        projects.decide(
            world.actor(world.steward2, project),
            project,
            "authorised",
            reference="DR-2027-004",
            decided_on=world.identity.now().date(),
        )
        with pytest.raises(EngineError):  # no permit without the figures it is granted with
            projects.issue(world.actor(world.steward, project), project)
        assert projects.show(reviewer, project).permit is None
    finally:
        projects.risk_assessor = working
    permit = projects.issue(world.actor(world.steward, project), project)
    assert permit.risk is not None and permit.risk.k_anonymity == 1


# -- the measure ---------------------------------------------------------------------------------
def test_generalized_terms_are_less_risky_and_suggestions_lower_the_risk(
    shared: HubWorld,
) -> None:
    world = shared
    project = in_review(world)
    exact = assess(world, project)
    generalized = assess(world, project, GENERALIZED)
    # the terms under review are stored again; a draft is returned and audited only
    assert exact.stored and not generalized.stored
    assert generalized.draft and not exact.draft
    before, after = risk_of(exact), risk_of(generalized)
    kinds = {q["column"]: q["kind"] for q in exact.report["quasi_identifiers"]}
    assert kinds == {
        "birth": "birth_month",
        "sex": "sex",
        "residence": "commune",
        "first_event": "exact_date",
        "rare_diagnosis": "icd10",
    }
    kinds = {q["column"]: q["kind"] for q in generalized.report["quasi_identifiers"]}
    assert kinds["birth"] == "birth_year" and "residence" not in kinds
    assert kinds["first_event"] == "month"
    assert generalized.report["terms"]["date_mode"] == "month"
    assert after["prosecutor_risk"]["average"] < before["prosecutor_risk"]["average"]
    assert after["unique_share"] < before["unique_share"]
    assert after["journalist_risk"]["average"] < before["journalist_risk"]["average"]
    assert after["population_uniqueness"]["share"] < before["population_uniqueness"]["share"]
    assert after["k"] >= before["k"]

    steps = exact.report["suggestions"]["steps"]
    assert steps, "the identifying terms miss k >= 5"
    averages = [before["prosecutor_risk"]["average"]] + [
        s["prosecutor_risk"]["average"] for s in steps
    ]
    assert all(b >= a for a, b in zip(averages[1:], averages[:-1], strict=True))
    assert averages[-1] < averages[0]
    losses = [s["loss"]["total"] for s in steps]
    assert losses == sorted(losses) and losses[-1] > 0
    changes = {(s["column"], s["to_level"]): s["permit_change"] for s in steps}
    for (column, level), change in changes.items():
        if (column, level) == ("birth", "year"):
            assert change == {"withhold": "birth_month"}
        if (column, level) == ("residence", "département"):
            assert change == {"withhold": "commune"}
    assert exact.figures.l_diversity is not None
    assert set(before["sensitive"]) == {"diagnosis"}


def test_a_target_risk_and_the_population_of_the_data_version(shared: HubWorld) -> None:
    world = shared
    project = in_review(world, population={"sex": ["F"]})
    record = assess(world, project, target_risk=0.05)
    report = record.report
    persons = report["persons"]
    assert 0 < persons < PERSONS
    assert report["population"] == {
        "basis": "data_version",
        "data_version": "snds@v1",
        "persons": PERSONS,
        "sampling_fraction": persons / PERSONS,
    }
    assessment = risk_of(record)
    assert assessment["journalist_risk"]["basis"] == "population_table"
    # women are found among everyone the version holds: never easier than within the extract
    assert assessment["journalist_risk"]["average"] <= assessment["prosecutor_risk"]["average"]
    assert report["suggestions"]["target"] == {"k": None, "average_risk": 0.05}
    final = report["suggestions"]["steps"][-1]
    assert final["prosecutor_risk"]["average"] < assessment["prosecutor_risk"]["average"]


def test_the_preview_counts_the_persons_the_workspace_would_hold(
    shared: HubWorld,
) -> None:
    world = shared
    project = world.active_project(population={"age_min": 30, "age_max": 70})
    built = world.hub.workspaces.build(world.actor(world.researcher, project, WHY), project)
    record = assess(world, project)
    assert record.revision == 1 and not record.stored  # the permit in force, as it is
    assert record.report["persons"] == built.persons
    # the scenario's permit grants no potential identifier: shifted dates count to the year
    kinds = {q["column"]: q["kind"] for q in record.report["quasi_identifiers"]}
    assert kinds == {
        "birth": "birth_year",
        "sex": "sex",
        "first_event": "year",
        "rare_diagnosis": "icd10",
    }


def test_rare_codes_and_what_is_not_in_the_extract(shared: HubWorld) -> None:
    world = shared
    project = in_review(world, sensitive=["diagnosis", "drug"])
    record = assess(world, project, PermitDraft(withhold=("commune", "birth_month")))
    report = record.report
    assert report["rare_codes"]["codes"] == 1 and report["rare_codes"]["version_persons"] == 300
    assert any("'drug' is not in the extract" in note for note in report["notes"])
    assert [s["column"] for s in report["sensitive"]] == ["diagnosis"]
    # without the codes, no rare diagnosis to match on
    tables = dict(IDENTIFYING["tables"])
    tables["condition_occurrence"] = ["person_id", "condition_start_date"]
    bare = assess(world, project, PermitDraft(tables=tables, withhold=("commune",)))
    columns = [q["column"] for q in bare.report["quasi_identifiers"]]
    assert "rare_diagnosis" not in columns and bare.report["rare_codes"]["codes"] == 0
    assert any("'diagnosis' is not in the extract" in n for n in bare.report["notes"])


def test_an_extract_without_persons(shared: HubWorld) -> None:
    world = shared
    project = in_review(world)
    record = assess(world, project, PermitDraft(population={"age_min": 129, "age_max": 130}))
    assert record.report["persons"] == 0 and record.report["assessment"] is None
    assert record.figures.k_anonymity is None and record.figures.report_sha256


# -- who may assess --------------------------------------------------------------------------------
def test_who_may_assess(shared: HubWorld) -> None:
    world, projects = shared, shared.hub.projects
    doc = application([world.researcher.user_id], **IDENTIFYING)
    project = projects.create(world.actor(world.lead), doc)
    researcher = world.actor(world.researcher, project, WHY)
    with pytest.raises(StateError, match="no submitted terms"):
        projects.assess_risk(researcher, project)  # nothing submitted yet
    steward = world.actor(world.steward, project, WHY)
    draft = projects.assess_risk(steward, project)  # staff may assess a draft application
    assert draft.stored and draft.revision == 1
    projects.submit(world.actor(world.lead, project), project)

    mine = projects.assess_risk(researcher, project)
    assert mine.report["persons"] == PERSONS
    with pytest.raises(PermissionDenied, match="not a draft"):
        projects.assess_risk(researcher, project, draft=GENERALIZED)
    with pytest.raises(PermissionDenied, match="data stewards and reviewers"):
        projects.assess_risk(world.actor(world.outsider, project, WHY), project)
    with pytest.raises(UsageError, match="justification"):
        projects.assess_risk(world.actor(world.reviewer, project), project)
    entries = project_lines(world, project)
    assert [(e["outcome"], e["details"].get("draft")) for e in entries] == [
        ("denied", False),  # nothing submitted
        ("ok", False),
        ("ok", False),
        ("denied", True),
        ("denied", False),  # the outsider
        ("denied", None),  # no justification: refused before anything
    ]


# -- permit drafts ---------------------------------------------------------------------------------
def test_permit_drafts_change_the_requested_terms() -> None:
    request = DataRequest.model_validate(
        {
            "dataset": "snds",
            "version_policy": "pinned",
            "version": 2,
            "tables": {"person": ["person_id"]},
            "period": {"start": "2019-01-01", "end": "2019-12-31"},
            "potential_identifiers": [
                {"kind": "commune", "justification": "Distance to care at commune level."}
            ],
            "date_policy": "shifted",
        }
    )
    draft = parse_permit_draft(
        {
            "potential_identifiers": ["commune", {"kind": "birth_month"}],
            "version_policy": "latest_at_issue",
        }
    )
    changed = draft.apply(request)
    assert changed.version is None and changed.tables == request.tables
    reasons = {r.kind.value: r.justification for r in changed.potential_identifiers}
    assert reasons["commune"] == "Distance to care at commune level."
    assert len(reasons["birth_month"]) >= 20
    whole = parse_permit_draft({"data": {"date_policy": "month"}, "withhold": ["commune"]})
    assert whole.date_policy == "month" and [k.value for k in whole.withhold] == ["commune"]
    with pytest.raises(UsageError) as bad:
        parse_permit_draft({"date_policy": "weekly", "colour": "red"})
    assert len(bad.value.context["problems"]) == 2


def test_stored_records_are_checked() -> None:
    figures = RiskFigures(
        assessed_at=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
        method="m",
        report_sha256="0" * 64,
    )
    record = RiskRecord(
        "prj_x", 1, "review", False, figures.assessed_at, "x", "a" * 64, figures, {}
    )
    with pytest.raises(Exception, match="does not match its hash"):
        RiskRecord.from_stored(record.stored_form(), "prj_x")


# -- the command ---------------------------------------------------------------------------------
def havre(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out = capsys.readouterr().out
    return int(ended.value.code or 0), json.loads(out) if "--json" in args else out


def test_the_permit_form_of_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hub, world = make_world(load_settings(), SystemClock())
    with hub:
        project = in_review(world)
        reviewer, researcher = world.reviewer.token, world.researcher.token
    draft = tmp_path / "draft.toml"
    draft.write_text('date_policy = "month"\nwithhold = ["commune", "birth_month"]\n', "utf-8")
    common = ("risk", "assess", "--project", project, "--justification", WHY)

    code, out = havre(capsys, *common, "--permit-draft", str(draft), "--token", reviewer, "--json")
    assert code == 0 and out["draft"] is True and out["stored"] is False
    assert out["report"]["terms"]["identifiers"] == ["exact_date"]
    assert out["figures"]["k_anonymity"] == out["report"]["assessment"]["k"]
    code, text = havre(capsys, *common, "--target-k", "3", "--token", reviewer)
    assert code == 0
    for shown in ("Risk of the extract", "Re-identification risk", "Suggestions (target k >= 3)"):
        assert shown in text
    code, out = havre(
        capsys, *common, "--permit-draft", str(draft), "--token", researcher, "--json"
    )
    assert code == 5 and out["error"] == "permission_denied"
    code, out = havre(capsys, *common, "--qi", "sex", "--token", reviewer, "--json")
    assert code == 2 and "--qi" in out["message"]
    code, out = havre(capsys, "project", "show", project, "--token", reviewer, "--json")
    # the latest assessment of the terms under review: the reviewer's, on demand
    assert code == 0 and out["risk"]["trigger"] == "on_demand"
    assert out["risk"]["report"]["suggestions"]["target"]["k"] == 3
    code, text = havre(capsys, "project", "show", project, "--token", reviewer)
    assert code == 0 and "average prosecutor risk" in text
