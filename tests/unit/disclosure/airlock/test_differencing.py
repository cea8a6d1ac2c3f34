"""Differencing attacks through the airlock: two cohorts differing by one person (across
requests, within one request, and when the first is released while the second waits), and a
cell that differs from a released one by fewer than the threshold."""

from __future__ import annotations

import pytest

from havre.core.errors import DisclosureError
from havre.scenarios.governed import GovernedProject

from .conftest import approve_by_two, as_, audit_lines, count_by_sex, researcher, spec

COHORT = (
    "SELECT DISTINCT p.person_id, p.gender_concept_id AS sex FROM person p "
    "JOIN condition_occurrence c ON c.person_id = p.person_id "
    "WHERE c.condition_source_value = 'E119'"
)
# the same cohort without one person: released after it, the difference is that person
MINUS_ONE = (
    COHORT + " AND p.person_id <> (SELECT min(person_id) FROM condition_occurrence "
    "WHERE condition_source_value = 'E119')"
)


def release_now(g: GovernedProject, request_id: str) -> None:
    g.hub.airlock.submit(researcher(g), request_id)
    approve_by_two(g, request_id)
    g.hub.airlock.release(as_(g, g.checkers[0]), request_id)


def test_two_cohorts_differing_by_one_person(sqlite_governed: GovernedProject) -> None:
    g = sqlite_governed
    airlock = g.hub.airlock
    first = airlock.request(researcher(g), g.project_id, spec(count_by_sex(sql=COHORT)))
    assert first.output("by_sex").status == "pass"
    release_now(g, first.id)

    second = airlock.request(
        researcher(g), g.project_id, spec(count_by_sex("by_sex_again", sql=MINUS_ONE))
    )
    output = second.output("by_sex_again")
    assert output.status == "fail"
    cells = output.report["cells"]
    assert cells and all("differencing" in c["rules"] for c in cells)
    assert all(c["value"] is None for c in cells)  # nothing of it is shown
    assert any("differs from release" in note for note in output.report["notes"])
    with pytest.raises(DisclosureError, match="by_sex_again fail"):
        airlock.submit(researcher(g), second.id)
    created = audit_lines(g.hub, "release.create")[-1]["details"]["outputs"][0]
    assert created["status"] == "fail" and "differencing" in created["rules"]

    # the same cohort again is no difference: it is a known table
    again = airlock.request(researcher(g), g.project_id, spec(count_by_sex("same", sql=COHORT)))
    assert again.output("same").status == "pass"


def test_within_a_request_and_in_between_releases(sqlite_governed: GovernedProject) -> None:
    """Two cohorts in one request: the second fails. In two requests, both pass their checks
    while nothing is released; once the first leaves, the second is compared with it again
    before its files are written."""
    g = sqlite_governed
    airlock = g.hub.airlock
    # within one request, the outputs are differenced with one another
    both = airlock.request(
        researcher(g),
        g.project_id,
        spec(count_by_sex("cohort", sql=COHORT), count_by_sex("cohort_minus_one", sql=MINUS_ONE)),
    )
    assert both.output("cohort").status == "pass"
    assert both.output("cohort_minus_one").status == "fail"
    airlock.withdraw(researcher(g), both.id, "Two outputs cannot both leave.")

    first = airlock.request(researcher(g), g.project_id, spec(count_by_sex(sql=COHORT))).id
    second = airlock.request(
        researcher(g), g.project_id, spec(count_by_sex("minus", sql=MINUS_ONE))
    ).id
    for rid in (first, second):
        airlock.submit(researcher(g), rid)
        approve_by_two(g, rid)
    airlock.release(as_(g, g.checkers[0]), first)
    with pytest.raises(DisclosureError, match="fewer than 10 persons"):
        airlock.release(as_(g, g.checkers[0]), second)
    assert airlock.show(researcher(g), second).state == "approved"
    assert not (g.hub.home / "releases" / g.project_id / second).exists()
    last = audit_lines(g.hub, "release.release")[-1]
    assert last["outcome"] == "denied" and last["target"] == second


def test_a_cell_close_to_a_released_one_is_withheld(sqlite_governed: GovernedProject) -> None:
    """Nested cohorts far enough apart overall, but one cell differs by a few persons: that
    cell is withheld (and protected by secondary suppression)."""
    g = sqlite_governed
    airlock = g.hub.airlock
    young = "SELECT person_id, gender_concept_id AS sex FROM person WHERE year_of_birth >= 1950"
    wider = "SELECT person_id, gender_concept_id AS sex FROM person WHERE year_of_birth >= 1944"
    gaps = g.hub.workspaces.query(
        researcher(g),
        g.project_id,
        "SELECT CAST(gender_concept_id AS VARCHAR) AS sex, count(*) AS n FROM person "
        "WHERE year_of_birth BETWEEN 1944 AND 1949 GROUP BY ALL",
    )
    by_sex = dict(gaps.rows())
    assert sum(by_sex.values()) >= 10 and any(0 < n < 10 for n in by_sex.values())

    release_now(g, airlock.request(researcher(g), g.project_id, spec(count_by_sex(sql=young))).id)
    later = airlock.request(
        researcher(g), g.project_id, spec(count_by_sex("wider", sql=wider))
    ).output("wider")
    flagged = [c for c in later.report["cells"] if "differencing" in c["rules"]]
    assert {c["cell"][0] for c in flagged} == {s for s, n in by_sex.items() if 0 < n < 10}
    assert all(c["value"] is None and c["status"] == "fail" for c in flagged)
    assert later.status == "pass"  # the protected table can leave without them
