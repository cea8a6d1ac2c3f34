"""Step 6: results leave through the airlock.

Each researcher asks for one count table in a release request; the hub computes it in the
project's sandbox (the aggregate-only study never sees its rows) and checks it: cells standing
for fewer persons than the threshold are withheld (primary suppression) and enough other
cells with them that no margin gives them back (secondary suppression, proven by linear
programming). Two checkers review the request blind, one of them consolidates the agreed
approval and releases it; the researcher downloads the released files, checked against their
manifest. The report shows each withheld cell with the rule and reason the check gave.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from havre.demo.cast import Cast
from havre.demo.projects import ProjectStory
from havre.disclosure.airlock import ReleaseView, parse_release_spec
from havre.hub import Hub

TREATED_BY_REGION = """
WITH treated AS (
    SELECT person_id FROM drug_exposure
    WHERE drug_source_value LIKE 'A10%' AND drug_exposure_start_date >= DATE '2024-01-01'
    GROUP BY person_id HAVING count(*) >= 2
)
SELECT p.person_id,
       r.code_region AS region,
       CASE WHEN 2024 - p.year_of_birth < 45 THEN '0-44'
            WHEN 2024 - p.year_of_birth < 65 THEN '45-64' ELSE '65+' END AS age_band
FROM person p
JOIN treated ON treated.person_id = p.person_id
JOIN location l ON l.location_id = p.location_id
JOIN ref_commune r ON r.code_commune = l.location_source_value
"""

# the first complication of each person of the cohort, by kind (ICD-10 codes as the lake
# holds them, without the dot)
COMPLICATIONS_BY_KIND = """
WITH cohort AS (
    SELECT DISTINCT person_id FROM condition_occurrence
    WHERE condition_source_value LIKE 'E11%'
),
events AS (
    SELECT person_id, condition_start_date,
           CASE WHEN condition_source_value = 'E113' THEN 'eye'
                WHEN condition_source_value = 'E112' THEN 'kidney'
                WHEN condition_source_value = 'E114' THEN 'nerve'
                WHEN condition_source_value = 'E115' THEN 'foot'
                WHEN condition_source_value LIKE 'I21%' THEN 'heart attack'
                WHEN condition_source_value LIKE 'I63%' THEN 'stroke' END AS kind
    FROM condition_occurrence
),
first_event AS (
    SELECT person_id, arg_min(kind, condition_start_date) AS kind FROM events
    WHERE kind IS NOT NULL GROUP BY person_id
)
SELECT p.person_id,
       coalesce(first_event.kind, 'none') AS first_complication,
       CASE p.gender_concept_id WHEN 8532 THEN 'F' WHEN 8507 THEN 'M' ELSE '?' END AS sex
FROM person p
JOIN cohort ON cohort.person_id = p.person_id
LEFT JOIN first_event ON first_event.person_id = p.person_id
"""

KINDS = ["none", "eye", "kidney", "nerve", "foot", "heart attack", "stroke"]


@dataclass(frozen=True)
class Ask:
    project: str  # story key
    researcher: str
    context: str
    justification: str
    output: dict[str, Any]


ASKS = (
    Ask(
        "territories",
        "researcher_b",
        "Table 1 of the report on diabetes follow-up across territories",
        "Release the treated diabetes table by region and age band (protocol table 1).",
        {
            "name": "treated_by_region_age",
            "kind": "count",
            "description": "Persons with treated diabetes in 2024 by region and age band",
            "sql": TREATED_BY_REGION,
            "dims": ["region", "age_band"],
            "levels": {"age_band": ["0-44", "45-64", "65+"]},
        },
    ),
    Ask(
        "complications",
        "researcher_a",
        "Table 2 of the paper on complications of type 2 diabetes",
        "Release the first complication by kind and sex (protocol table 2).",
        {
            "name": "first_complication_by_sex",
            "kind": "count",
            "description": "Persons with type 2 diabetes by their first complication and sex",
            "sql": COMPLICATIONS_BY_KIND,
            "dims": ["first_complication", "sex"],
            "levels": {"first_complication": KINDS},
        },
    ),
)


@dataclass(frozen=True)
class Step:
    step: str
    by: str
    outcome: str


@dataclass(frozen=True)
class ReleasedTable:
    project_id: str
    project_key: str
    request_id: str
    name: str
    description: str
    requested_by: str
    reviewers: list[str]
    consolidated_by: str
    released_by: str
    steps: list[Step]
    status: str
    policy: dict[str, Any]
    mitigation: dict[str, Any]
    primary_suppressed: int
    secondary_suppressed: int
    withheld: list[dict[str, Any]]  # each withheld cell: its key, rules and reasons
    check_cells: int
    columns: list[str]
    rows: list[list[str]]  # the released CSV, as it left
    files: list[str]  # what the researcher downloaded (report-relative paths)
    manifest_sha256: str
    reviews_hidden_before_both: int
    notes: list[str] = field(default_factory=list)


def release_all(
    hub: Hub, cast: Cast, stories: list[ProjectStory], downloads: Path
) -> list[ReleasedTable]:
    by_key = {s.key: s for s in stories}
    return [_release(hub, cast, by_key[ask.project], ask, downloads) for ask in ASKS]


def _release(hub: Hub, cast: Cast, story: ProjectStory, ask: Ask, downloads: Path) -> ReleasedTable:
    airlock = hub.airlock
    steps: list[Step] = []
    name = str(ask.output["name"])

    def took(step: str, who: str, outcome: str) -> None:
        steps.append(Step(step, cast[who].character.name, outcome))

    def researcher() -> Any:
        return cast.actor(ask.researcher, story.project_id, ask.justification)

    def checker(key: str) -> Any:
        return cast.actor(key, story.project_id, f"Output check of {name}.")

    spec = parse_release_spec({"context": ask.context, "outputs": [ask.output]})
    view = airlock.request(researcher(), story.project_id, spec)
    output = view.output(name)
    mitigation = output.report.get("mitigation") or {}
    took(
        "request",
        ask.researcher,
        f"computed in the sandbox and checked: {output.status}, "
        f"{mitigation.get('primary_suppressed', 0)} cell(s) withheld by a rule, "
        f"{mitigation.get('secondary_suppressed', 0)} more to protect them",
    )
    request_id = view.id
    airlock.submit(researcher(), request_id)
    took("submission", ask.researcher, "submitted to the output checkers")
    first = airlock.review(
        checker("checker"),
        request_id,
        "approve",
        notes={name: "Small cells withheld with enough complementary cells; margins safe."},
    )
    hidden = first.reviews_hidden
    took("blind review 1", "checker", "approve (the other review is hidden until both are in)")
    airlock.review(
        checker("checker2"),
        request_id,
        "approve",
        notes={name: "Checked the suppression pattern against the report; no disclosure."},
    )
    took("blind review 2", "checker2", "approve")
    airlock.consolidate(checker("checker"), request_id)
    took("consolidation", "checker", "the two reviews agree: approved")
    released = airlock.release(checker("checker"), request_id)
    took("release", "checker", "files and provenance manifest written")
    folder = downloads / f"{story.key}-{request_id}"
    got = airlock.download(researcher(), request_id, folder)
    took("download", ask.researcher, f"{len(got.files)} file(s), checked against the manifest")
    return _table(cast, story, ask, released, hidden, steps, folder, got.files)


def _table(
    cast: Cast,
    story: ProjectStory,
    ask: Ask,
    view: ReleaseView,
    hidden: int,
    steps: list[Step],
    folder: Path,
    files: tuple[str, ...],
) -> ReleasedTable:
    name = str(ask.output["name"])
    output = view.output(name)
    report = output.report
    mitigation = dict(report.get("mitigation") or {})
    cells: list[dict[str, Any]] = list(report.get("cells", []))
    withheld = [
        {
            "cell": cell.get("cell"),
            "margin": cell.get("margin", False),
            "rules": cell.get("rules", []),
            "reasons": cell.get("reasons", []),
        }
        for cell in cells
        if cell.get("value") is None
    ]
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    names = {m.user_id: m.character.name for m in cast.members.values()}
    return ReleasedTable(
        project_id=story.project_id,
        project_key=story.key,
        request_id=view.id,
        name=name,
        description=str(ask.output.get("description", "")),
        requested_by=cast[ask.researcher].character.name,
        reviewers=[names.get(r.checker_user_id, r.checker_user_id) for r in view.reviews],
        consolidated_by=names.get(view.decided_by or "", view.decided_by or ""),
        released_by=names.get(view.released_by or "", view.released_by or ""),
        steps=steps,
        status=output.status,
        policy=dict(report.get("policy", {})),
        mitigation=mitigation,
        primary_suppressed=int(mitigation.get("primary_suppressed", 0)),
        secondary_suppressed=int(mitigation.get("secondary_suppressed", 0)),
        withheld=withheld,
        check_cells=len(cells),
        columns=lines[0] if lines else [],
        rows=lines[1:],
        files=[f"{folder.name}/{f}" for f in files],
        manifest_sha256=view.manifest_sha256 or "",
        reviews_hidden_before_both=hidden,
    )
