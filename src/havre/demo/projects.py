"""Step 3: two applications walked through the review to a permit in force.

Each step is taken by the person whose job it is: the lead creates and submits (the team gets
its project roles), a data steward checks completeness (the re-identification risk of the
requested extract is assessed for the reviewer), the ethics reviewer reads that assessment and
gives an opinion, a second data steward records the authorisation (withholding what it does
not grant), a data steward issues the permit (with the risk of what it grants) and the other
puts it in force. Separation of duties holds throughout: nobody judges their own project, the
reviewer does not record the decision, the issuer does not activate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from havre.demo import applications
from havre.demo.cast import Cast
from havre.governance.projects import Permit
from havre.governance.projects.risk import RiskRecord
from havre.hub import Hub


@dataclass(frozen=True)
class Plan:
    """How the story takes one application through (who, and what the decision says)."""

    key: str
    lead: str
    researcher: str
    reference: str
    withhold: tuple[str, ...] = ()
    decision_comment: str | None = None


PLANS = (
    Plan(
        applications.COMPLICATIONS,
        "lead_a",
        "researcher_a",
        "DR-2026-0142",
        withhold=("birth_month",),
        decision_comment="The year of birth suffices for age at diagnosis; birth month "
        "withheld to lower the re-identification risk.",
    ),
    Plan(applications.TERRITORIES, "lead_b", "researcher_b", "DR-2026-0157"),
)


@dataclass(frozen=True)
class StepTaken:
    step: str
    by: str
    outcome: str


@dataclass(frozen=True)
class ProjectStory:
    key: str
    project_id: str
    title: str
    access_level: str
    lead: str
    team: list[str]
    steps: list[StepTaken]
    review_risk: dict[str, Any]  # what the reviewer saw: figures and the headline of the report
    withheld: list[str]
    permit: dict[str, Any]  # the terms in force, with their SHA-256
    permit_risk: dict[str, Any]  # the figures recorded in the permit
    notes: list[str] = field(default_factory=list)


def walk(hub: Hub, cast: Cast, plan: Plan) -> ProjectStory:
    projects = hub.projects
    lead, researcher = cast[plan.lead], cast[plan.researcher]
    builders = {
        applications.COMPLICATIONS: applications.complications,
        applications.TERRITORIES: applications.territories,
    }
    build = builders[plan.key]
    document = build([researcher.user_id])
    steps: list[StepTaken] = []

    def took(step: str, who: str, outcome: str) -> None:
        steps.append(StepTaken(step, cast[who].character.name, outcome))

    project_id = projects.create(cast.actor(plan.lead), document)
    took("application", plan.lead, "draft created")
    projects.submit(cast.actor(plan.lead, project_id), project_id)
    took("submission", plan.lead, "submitted; the team received its project roles")
    projects.check_completeness(
        cast.actor("steward"), project_id, True, comment="Complete; risk assessed for review."
    )
    took("completeness", "steward", "complete: to the ethics review, risk assessed")
    review_risk = _risk_view(projects.risk_assessment(cast.actor("reviewer"), project_id))
    projects.give_opinion(
        cast.actor("reviewer"),
        project_id,
        "favourable",
        "Sound protocol; the data requested match the purpose.",
    )
    took("ethics opinion", "reviewer", "favourable (after reading the risk assessment)")
    projects.decide(
        cast.actor("steward2"),
        project_id,
        "authorised",
        reference=plan.reference,
        decided_on=hub.clock.now().date(),
        withhold=plan.withhold,
        comment=plan.decision_comment,
    )
    withheld = f", withholding {', '.join(plan.withhold)}" if plan.withhold else ""
    took("authorisation", "steward2", f"authorised ({plan.reference}){withheld}")
    issued = projects.issue(cast.actor("steward"), project_id)
    took(
        "permit issued",
        "steward",
        f"permit v{issued.version}, expires {issued.expires_at:%Y-%m-%d}",
    )
    projects.activate(cast.actor("steward2"), project_id)
    took("permit in force", "steward2", "active: the named persons may build and use the workspace")
    permit = projects.permits.current(project_id)
    assert permit is not None  # just activated
    for member in (lead, researcher):
        member.projects.append(project_id)
    return ProjectStory(
        key=plan.key,
        project_id=project_id,
        title=str(document["title"]),
        access_level=permit.access_level.value,
        lead=lead.character.name,
        team=[researcher.character.name],
        steps=steps,
        review_risk=review_risk,
        withheld=list(plan.withhold),
        permit=_terms(permit, cast),
        permit_risk=permit.risk.model_dump(mode="json") if permit.risk else {},
    )


def _risk_view(record: RiskRecord | None) -> dict[str, Any]:
    """What the reviewer read first: the figures, the quasi-identifiers and what would lower
    the risk (aggregates only, as the assessment stores them)."""
    if record is None:
        return {}
    report = record.report
    assessment = report.get("assessment", {})
    suggestions = report.get("suggestions", {})
    steps = [
        {
            "action": s.get("action"),
            "column": s.get("column"),
            "to_level": s.get("loss", {}).get("columns", {}).get(s.get("column"), {}).get("level"),
            "k": s.get("k"),
            "journalist_risk": s.get("journalist_risk", {}).get("average"),
        }
        for s in suggestions.get("steps", [])[:4]
    ]
    return {
        "figures": record.figures.model_dump(mode="json"),
        "persons": report.get("persons"),
        "population_persons": report.get("population", {}).get("persons"),
        "records": assessment.get("records"),
        "quasi_identifiers": [
            f"{q.get('column')} ({q.get('kind')})" for q in report.get("quasi_identifiers", [])
        ],
        "suggestion": suggestions.get("message"),
        "suggestion_steps": steps,
        "notes": list(report.get("notes", []))[:5],
    }


def _terms(permit: Permit, cast: Cast) -> dict[str, Any]:
    names = {m.user_id: m.character.name for m in cast.members.values()}
    terms = permit.to_dict()
    return {
        "version": permit.version,
        "status": permit.status.value,
        "sha256": terms["sha256"],
        "issued_at": terms["issued_at"],
        "expires_at": terms["expires_at"],
        "named_persons": [names.get(u, u) for u in permit.named_persons],
        "dataset": permit.dataset,
        "data_version": permit.data_version,
        "tables": {t.name: list(t.columns) for t in permit.tables},
        "period": terms["row_filter"]["period"],
        "population": {k: v for k, v in terms["row_filter"]["population"].items() if v},
        "potential_identifiers_granted": [k.value for k in permit.potential_identifiers_granted],
        "date_policy": permit.date_policy.value,
        "access_level": permit.access_level.value,
    }
