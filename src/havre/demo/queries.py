"""Step 5: governed queries in the two sandboxes, as the researchers would type them.

The territorial study (aggregate-only) asks for the prevalence of treated diabetes by
département, age band and sex, and for follow-up indicators by rurality and by deprivation of
the commune (joined to the public reference tables of the sandbox); rows standing for fewer
persons than the threshold are withheld. The complications study (row-level) pulls its
cohort, one row per person. Two queries are refused and audited: a file read (the sandbox has
no file access) and a row-level query in the aggregate-only project.

CTEs are joined by their own names, not aliases: the aggregate analysis counts persons through
every source name it sees, and an aliased CTE would be counted under a name the engine does
not know.

Definitions (claims only; the lake holds the insurer's codes in ``*_source_value``):
treated diabetes in 2024 = at least two dispensings of an antidiabetic (ATC A10) in 2024;
HbA1c test = NABM act 1577; eye exam = a visit to an ophthalmologist (specialty 15).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from havre.audit import Outcome
from havre.audit.query import AuditQuery
from havre.core.errors import HavreError
from havre.demo.cast import Cast
from havre.demo.projects import ProjectStory
from havre.hub import Hub

TREATED_2024 = """treated AS (
    SELECT person_id FROM drug_exposure
    WHERE drug_source_value LIKE 'A10%' AND drug_exposure_start_date >= DATE '2024-01-01'
    GROUP BY person_id HAVING count(*) >= 2
)"""
AGE_BAND = """CASE WHEN 2024 - p.year_of_birth < 45 THEN '0-44'
         WHEN 2024 - p.year_of_birth < 65 THEN '45-64' ELSE '65+' END"""
SEX = "CASE p.gender_concept_id WHEN 8532 THEN 'F' WHEN 8507 THEN 'M' ELSE '?' END"
FOLLOW_UP = f"""WITH {TREATED_2024},
hba1c AS (
    SELECT person_id, count(*) AS tests FROM measurement
    WHERE measurement_source_value = '1577' AND measurement_date >= DATE '2024-01-01'
    GROUP BY person_id
),
eye AS (
    SELECT DISTINCT person_id FROM visit_occurrence
    WHERE specialty_source_value = '15' AND visit_start_date >= DATE '2024-01-01'
)"""

PREVALENCE = f"""WITH {TREATED_2024},
covered AS (
    SELECT DISTINCT person_id FROM observation_period
    WHERE observation_period_start_date <= DATE '2024-01-01'
      AND observation_period_end_date >= DATE '2024-01-01'
)
SELECT l.county AS departement,
       {AGE_BAND} AS age_band,
       {SEX} AS sex,
       count(DISTINCT treated.person_id) AS treated_diabetics,
       count(DISTINCT p.person_id) AS persons,
       round(100.0 * count(DISTINCT treated.person_id) / count(DISTINCT p.person_id), 1)
           AS prevalence_pct
FROM person p
JOIN covered ON covered.person_id = p.person_id
JOIN location l ON l.location_id = p.location_id
LEFT JOIN treated ON treated.person_id = p.person_id
GROUP BY ALL
ORDER BY departement, age_band, sex"""

BY_RURALITY = f"""{FOLLOW_UP}
SELECT CASE WHEN r.rural THEN 'rural' ELSE 'urban' END AS commune,
       count(DISTINCT treated.person_id) AS treated_diabetics,
       round(100.0 * count_if(hba1c.tests >= 2) / count(DISTINCT treated.person_id), 1)
           AS pct_two_hba1c_tests,
       round(avg(coalesce(hba1c.tests, 0)), 2) AS mean_hba1c_tests,
       round(100.0 * count(DISTINCT eye.person_id) / count(DISTINCT treated.person_id), 1)
           AS pct_eye_exam
FROM treated
JOIN person p ON p.person_id = treated.person_id
JOIN location l ON l.location_id = p.location_id
JOIN ref_commune r ON r.code_commune = l.location_source_value
LEFT JOIN hba1c ON hba1c.person_id = treated.person_id
LEFT JOIN eye ON eye.person_id = treated.person_id
GROUP BY ALL
ORDER BY commune"""

BY_DEPRIVATION = f"""{FOLLOW_UP}
SELECT r.deprivation_quintile,
       count(DISTINCT treated.person_id) AS treated_diabetics,
       round(100.0 * count_if(hba1c.tests >= 2) / count(DISTINCT treated.person_id), 1)
           AS pct_two_hba1c_tests,
       round(100.0 * count(DISTINCT eye.person_id) / count(DISTINCT treated.person_id), 1)
           AS pct_eye_exam
FROM treated
JOIN person p ON p.person_id = treated.person_id
JOIN location l ON l.location_id = p.location_id
JOIN ref_commune r ON r.code_commune = l.location_source_value
LEFT JOIN hba1c ON hba1c.person_id = treated.person_id
LEFT JOIN eye ON eye.person_id = treated.person_id
GROUP BY ALL
ORDER BY r.deprivation_quintile"""

COHORT = """WITH first_diabetes AS (
    SELECT person_id, min(condition_start_date) AS first_e11 FROM condition_occurrence
    WHERE condition_source_value LIKE 'E11%' GROUP BY person_id
),
first_complication AS (
    SELECT person_id, min(condition_start_date) AS first_complication FROM condition_occurrence
    WHERE condition_source_value IN ('E112', 'E113', 'E114', 'E115')
       OR condition_source_value LIKE 'I21%' OR condition_source_value LIKE 'I63%'
    GROUP BY person_id
)
SELECT p.person_id, p.year_of_birth, p.month_of_birth, p.gender_concept_id, f.first_e11,
       c.first_complication, c.first_complication - f.first_e11 AS days_to_complication,
       d.death_date
FROM person p
JOIN first_diabetes f ON f.person_id = p.person_id
LEFT JOIN first_complication c ON c.person_id = p.person_id
LEFT JOIN death d ON d.person_id = p.person_id"""

FILE_READ = "SELECT * FROM read_csv('/etc/passwd')"
ROWS_IN_AGGREGATE_ONLY = "SELECT person_id, year_of_birth, location_id FROM person"


@dataclass(frozen=True)
class Query:
    key: str
    project: str  # the story key of the project
    researcher: str
    title: str
    sql: str
    justification: str
    refused_expected: bool = False


QUERIES = (
    Query("prevalence", "territories", "researcher_b",
          "Treated diabetes in 2024 by département, age band and sex", PREVALENCE,
          "Prevalence of treated diabetes by territory, age and sex (protocol table 1)."),
    Query("follow_up_rurality", "territories", "researcher_b",
          "Follow-up of treated diabetics in 2024, rural and urban communes", BY_RURALITY,
          "Follow-up indicators by rurality of the commune (protocol table 2)."),
    Query("follow_up_deprivation", "territories", "researcher_b",
          "Follow-up of treated diabetics in 2024 by deprivation quintile", BY_DEPRIVATION,
          "Follow-up indicators by deprivation of the commune (protocol table 3)."),
    Query("cohort", "complications", "researcher_a",
          "The cohort: one row per person with diabetes, first complication", COHORT,
          "Build the analysis cohort: time from diabetes to the first complication."),
    Query("file_read", "complications", "researcher_a",
          "Reading a file from the server", FILE_READ,
          "Trying to read a file outside the workspace.", refused_expected=True),
    Query("rows_in_aggregate_only", "territories", "researcher_b",
          "Person rows in the aggregate-only project", ROWS_IN_AGGREGATE_ONLY,
          "Trying to list persons in an aggregate-only workspace.", refused_expected=True),
)  # fmt: skip


@dataclass(frozen=True)
class QueryOutcome:
    key: str
    project_id: str
    access_level: str
    title: str
    sql: str
    by: str
    refused: bool
    error: str | None = None  # the refusal's message and exit code name
    error_code: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)  # aggregates only; empty for row-level
    row_count: int = 0
    suppressed_rows: int = 0
    threshold: int | None = None
    rules_fired: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)  # row-level: facts, not rows
    seconds: float = 0.0
    audit: dict[str, Any] = field(default_factory=dict)  # the entry the refusal wrote


def run_queries(hub: Hub, cast: Cast, stories: list[ProjectStory]) -> list[QueryOutcome]:
    by_key = {s.key: s for s in stories}
    return [_run(hub, cast, by_key[q.project], q) for q in QUERIES]


def _run(hub: Hub, cast: Cast, story: ProjectStory, query: Query) -> QueryOutcome:
    actor = cast.actor(query.researcher, story.project_id, query.justification)
    base: dict[str, Any] = {
        "key": query.key,
        "project_id": story.project_id,
        "access_level": story.access_level,
        "title": query.title,
        "sql": query.sql,
        "by": cast[query.researcher].character.name,
    }
    try:
        result = hub.workspaces.query(actor, story.project_id, query.sql)
    except HavreError as error:
        if not query.refused_expected:
            raise
        return QueryOutcome(
            **base,
            refused=True,
            error=error.message,
            error_code=error.code,
            audit=_refusal_entry(hub, cast, story.project_id),
        )
    if query.refused_expected:
        raise AssertionError(f"the sandbox ran a query it must refuse: {query.key}")
    row_level = story.access_level == "row-level"
    return QueryOutcome(
        **base,
        refused=False,
        columns=result.columns,
        rows=[] if row_level else result.rows(),
        row_count=result.table.num_rows,
        suppressed_rows=result.suppressed_rows,
        threshold=result.threshold,
        rules_fired=list(result.rules_fired),
        summary=_row_level_summary(result.table) if row_level else {},
        seconds=result.seconds,
    )


def _row_level_summary(table: Any) -> dict[str, Any]:
    """What the report says of a row-level result: its shape and what the permit removed
    (never the rows)."""
    columns = table.column_names
    summary: dict[str, Any] = {"columns": len(columns)}
    for name in ("month_of_birth", "first_complication", "death_date"):
        if name in columns:
            summary[f"{name}_present"] = table.num_rows - table.column(name).null_count
    return summary


def _refusal_entry(hub: Hub, cast: Cast, project_id: str) -> dict[str, Any]:
    """The auditor finds the refusal in the audit log (the latest denied query)."""
    found = hub.audit_trail.search(
        cast.actor("auditor", None, "Show the refusal of a workspace query in the demo."),
        AuditQuery(project=project_id, action="workspace.query", outcome=Outcome.DENIED, limit=1),
    )
    if not found:
        return {}
    entry = found[-1]
    return {
        "seq": entry.seq,
        "time": entry.ts.isoformat(),
        "actor": entry.actor_name,
        "action": entry.action,
        "outcome": entry.outcome.value,
        "reason": entry.reason,
        "justification": entry.justification,
        "details": entry.details,
        "entry_hash": entry.entry_hash,
    }
