"""The minimisation plan: what each granted column becomes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from havre.cdm.omop import omop_table
from havre.core.errors import StateError
from havre.governance.projects import Permit
from havre.workspace.plan import DateMode, Treatment, build_plan, date_mode

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def permit(tables: dict[str, list[str]], **terms: object) -> Permit:
    return Permit.model_validate(
        {
            "project_id": "prj_plan",
            "version": 1,
            "revision": 1,
            "issued_at": NOW,
            "expires_at": NOW + dt.timedelta(days=365),
            "named_persons": ["usr_a"],
            "dataset": "snds",
            "data_version_policy": "pinned",
            "data_version": 1,
            "data_version_id": "dv_1",
            "tables": [{"name": n, "columns": c} for n, c in tables.items()],
            "row_filter": {"period": {"start": "2020-01-01", "end": "2020-12-31"}},
            "date_policy": "shifted",
            "access_level": "row-level",
            **terms,
        }
    )


def schemas_and_tags() -> tuple[dict[str, pa.Schema], dict[str, dict[str, str]]]:
    names = ("person", "death", "visit_occurrence", "location")
    schemas = {n: omop_table(n).schema for n in names}
    tags = {
        n: {c.name: c.identifier.value for c in omop_table(n).columns if c.identifier}
        for n in names
    }
    return schemas, tags


def test_every_tagged_column_is_generalized_unless_granted() -> None:
    schemas, tags = schemas_and_tags()
    grants = {
        "person": ["person_id", "month_of_birth", "location_id", "hub_pseudonym", "day_of_birth"],
        "death": ["person_id", "death_date", "death_commune", "death_departement"],
        "visit_occurrence": ["visit_occurrence_id", "visit_start_date", "provider_id"],
        "location": ["location_id", "city", "county"],
    }
    plan = build_plan(permit(grants), schemas, tags)
    treatments = {(t.name, c.name): c.treatment for t in plan.tables for c in t.columns}
    assert treatments[("person", "month_of_birth")] is Treatment.NULL
    assert treatments[("person", "location_id")] is Treatment.LOCATION_REF
    assert treatments[("person", "day_of_birth")] is Treatment.NULL
    assert ("person", "hub_pseudonym") not in treatments
    assert plan.withheld == ("person.hub_pseudonym",)
    assert treatments[("death", "death_date")] is Treatment.NULL
    assert treatments[("death", "death_commune")] is Treatment.DEPARTEMENT
    assert treatments[("death", "death_departement")] is Treatment.KEEP
    assert treatments[("visit_occurrence", "visit_start_date")] is Treatment.DATE
    assert treatments[("visit_occurrence", "visit_occurrence_id")] is Treatment.RECORD_ID
    assert treatments[("visit_occurrence", "provider_id")] is Treatment.NULL
    assert treatments[("location", "city")] is Treatment.NULL
    assert plan.date_mode is DateMode.SHIFTED

    granted = permit(
        grants,
        potential_identifiers_granted=["birth_month", "commune", "death_date", "death_commune"],
    )
    plan = build_plan(granted, schemas, tags)
    treatments = {(t.name, c.name): c.treatment for t in plan.tables for c in t.columns}
    assert treatments[("person", "month_of_birth")] is Treatment.KEEP
    assert treatments[("person", "location_id")] is Treatment.KEEP
    assert treatments[("death", "death_date")] is Treatment.DATE
    assert treatments[("death", "death_commune")] is Treatment.KEEP
    assert treatments[("location", "city")] is Treatment.KEEP


def test_date_modes() -> None:
    tables = {"person": ["person_id"]}
    assert date_mode(permit(tables, date_policy="month")) is DateMode.MONTH
    assert date_mode(permit(tables, date_policy="exact")) is DateMode.SHIFTED
    exact = permit(tables, date_policy="exact", potential_identifiers_granted=["exact_date"])
    assert date_mode(exact) is DateMode.EXACT


def test_what_the_lake_lacks_is_refused() -> None:
    schemas, tags = schemas_and_tags()
    with pytest.raises(StateError, match="drug_exposure: not in the data version"):
        build_plan(permit({"drug_exposure": ["person_id"]}), schemas, tags)
    with pytest.raises(StateError, match=r"person\.shoe_size"):
        build_plan(permit({"person": ["shoe_size"]}), schemas, tags)
    with pytest.raises(StateError, match="optout_link: not a table"):
        build_plan(permit({"optout_link": ["person_id"]}), schemas, tags)
