"""The permit as a value: typed, immutable, canonical, hashed, checked when read back."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from havre.core.errors import IntegrityError, PermissionDenied
from havre.governance.projects import (
    AccessLevel,
    DatePolicy,
    IdentifierKind,
    Period,
    Permit,
    PermitStatus,
    Population,
    RiskFigures,
    RowFilter,
    TableGrant,
    VersionPolicy,
)
from havre.governance.projects.issuing import add_months

ISSUED = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def permit(**overrides: object) -> Permit:
    values: dict[str, object] = {
        "project_id": "prj_test",
        "version": 1,
        "revision": 1,
        "issued_at": ISSUED,
        "expires_at": add_months(ISSUED, 24),
        "named_persons": ("usr_b", "usr_a", "usr_b"),
        "dataset": "snds",
        "data_version_policy": VersionPolicy.LATEST_AT_ISSUE,
        "data_version": 2,
        "data_version_id": "dv_2",
        "tables": (
            TableGrant(name="person", columns=("year_of_birth", "person_id")),
            TableGrant(name="condition_occurrence", columns=("person_id",)),
        ),
        "row_filter": RowFilter(
            period=Period(start=dt.date(2018, 1, 1), end=dt.date(2023, 12, 31)),
            population=Population(sex=("M", "F"), departements=["76", "2a"], conditions=["e11.9"]),
        ),
        "potential_identifiers_granted": ("exact_date", "birth_month"),
        "date_policy": DatePolicy.EXACT,
        "access_level": AccessLevel.ROW_LEVEL,
    }
    values.update(overrides)
    return Permit.model_validate(values)


def test_terms_are_canonical_and_hashed() -> None:
    made = permit()
    assert made.named_persons == ("usr_a", "usr_b")
    assert [t.name for t in made.tables] == ["condition_occurrence", "person"]
    assert made.table_map()["person"] == ("person_id", "year_of_birth")
    assert made.row_filter.population.departements == ("2A", "76")
    assert made.row_filter.population.conditions == ("E119",)
    assert made.potential_identifiers_granted == (
        IdentifierKind.BIRTH_MONTH,
        IdentifierKind.EXACT_DATE,
    )
    same = permit(
        named_persons=("usr_a", "usr_b"),
        potential_identifiers_granted=("birth_month", "exact_date"),
    )
    assert same.sha256 == made.sha256 and same.terms_json() == made.terms_json()
    # life fields are not terms: activation does not change what was granted
    active = made.model_copy(update={"status": PermitStatus.ACTIVE, "activated_at": ISSUED})
    assert active.sha256 == made.sha256
    assert permit(data_version=3).sha256 != made.sha256
    with pytest.raises(ValidationError):
        made.version = 2  # type: ignore[misc]
    document = made.to_dict()
    assert document["sha256"] == made.sha256 and document["status"] == "issued"
    assert json.loads(made.terms_json())["row_filter"]["period"]["start"] == "2018-01-01"


def test_stored_terms_are_checked() -> None:
    made = permit()
    loaded = Permit.from_terms(
        made.terms_json(), made.sha256, status=PermitStatus.ACTIVE, activated_at=ISSUED
    )
    assert loaded.terms() == made.terms() and loaded.status is PermitStatus.ACTIVE
    tampered = made.terms_json().replace('"row-level"', '"aggregate-only"')
    with pytest.raises(IntegrityError, match="does not match"):
        Permit.from_terms(tampered, made.sha256, status=PermitStatus.ACTIVE, activated_at=None)


def test_expiry_is_read_from_the_clock() -> None:
    made = permit(status=PermitStatus.ACTIVE)
    assert made.effective_status(made.expires_at - dt.timedelta(microseconds=1)) is (
        PermitStatus.ACTIVE
    )
    assert made.effective_status(made.expires_at) is PermitStatus.EXPIRED
    assert made.at(made.expires_at).status is PermitStatus.EXPIRED
    superseded = permit(status=PermitStatus.SUPERSEDED)
    assert superseded.effective_status(superseded.expires_at) is PermitStatus.SUPERSEDED


def test_questions_enforcement_asks() -> None:
    made = permit()
    assert made.allows("person", "year_of_birth") and not made.allows("person", "month_of_birth")
    assert made.grants("birth_month") and not made.grants(IdentifierKind.COMMUNE)
    assert made.names("usr_a") and not made.names(None) and not made.names("usr_c")
    with pytest.raises(PermissionDenied, match="does not grant the table 'death'"):
        made.columns_of("death")


@pytest.mark.parametrize(
    ("population", "message"),
    [
        ({"age_min": 80, "age_max": 40}, "above age_max"),
        ({"departements": ["76", "20"]}, "not INSEE département codes: 20"),
        ({"conditions": ["E11", "diabetes"]}, "not ICD-10 code prefixes"),
        ({"sex": ["X"]}, "Input should be 'F' or 'M'"),
        ({"age_min": -1}, "greater than or equal to 0"),
    ],
)
def test_population_is_typed(population: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Population.model_validate(population)


def test_periods_and_risk_are_typed() -> None:
    with pytest.raises(ValidationError, match="ends"):
        Period(start=dt.date(2020, 1, 2), end=dt.date(2020, 1, 1))
    risk = RiskFigures(
        assessed_at=ISSUED, method="k-anonymity on 4 quasi-identifiers", k_anonymity=5
    )
    assert permit(risk=risk).sha256 != permit().sha256
    with pytest.raises(ValidationError):
        RiskFigures(assessed_at=ISSUED, method="x", prosecutor_risk=1.5)


def test_add_months_keeps_to_the_calendar() -> None:
    assert add_months(dt.datetime(2027, 1, 31, tzinfo=dt.UTC), 1).date() == dt.date(2027, 2, 28)
    assert add_months(dt.datetime(2027, 11, 30, tzinfo=dt.UTC), 3).date() == dt.date(2028, 2, 29)
    assert add_months(dt.datetime(2027, 3, 1, tzinfo=dt.UTC), 24).date() == dt.date(2029, 3, 1)
