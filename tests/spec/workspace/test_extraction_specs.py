"""Extraction specs (cases/*.json): input lake rows and a permit → the expected workspace rows,
one case per permit field, run through the real extraction on every engine.

Expected values may hold markers, resolved by an oracle written independently of the SQL:

- ``{"person": 3}``: the project pseudonym of lake person 3 (persons of ``population``
  numbered 1, 2, ... in the order of their HMAC, computed here in Python);
- ``{"shifted": "2020-03-15", "person": 3}``: that date moved by person 3's offset;
- ``{"record": "v1"}``: some renumbered id, the same wherever ``v1`` appears and different
  from every other label of its space (labels sharing a first letter); rows are matched on
  their other columns, which must tell them apart.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from havre.cdm.omop import omop_table
from havre.core.config import Settings
from havre.governance.projects import Permit
from havre.lake.engine import DuckDBEngine, Engine
from havre.workspace.extract import Extraction, empty_objectors, target_schema
from havre.workspace.plan import build_plan
from havre.workspace.pseudonyms import ProjectSecrets, empty_mapping

CASES = Path(__file__).parent / "cases"
KEY = bytes(range(32))  # a fixed project key: the oracle needs the same secrets
START = "2027-01-04T10:00:00+00:00"


@dataclass
class MemorySource:
    """A data version held in memory (the lake's own schemas and identifier tags)."""

    data: dict[str, pa.Table]

    @property
    def tables(self) -> list[str]:
        return sorted(self.data)

    def dataset(self, name: str) -> ds.Dataset:
        return ds.dataset(self.data[name])


def lake_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    spec = omop_table(name)
    if name == "person":
        rows = [{"hub_pseudonym": f"hub-{r['person_id']}", **r} for r in rows]
    columns = {}
    for column in spec.columns:
        values = [_value(r.get(column.name), column.arrow_type) for r in rows]
        columns[column.name] = pa.array(values, column.arrow_type)
    unknown = {k for r in rows for k in r} - {c.name for c in spec.columns}
    assert not unknown, f"{name}: no such columns {unknown}"
    return pa.table(columns)


def _value(value: Any, data_type: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_date(data_type):
        return dt.date.fromisoformat(value)
    if pa.types.is_timestamp(data_type):
        return dt.datetime.fromisoformat(value)
    return value


def permit_of(case: dict[str, Any]) -> Permit:
    given = case["permit"]
    return Permit.model_validate(
        {
            "project_id": "prj_spec",
            "version": 1,
            "revision": 1,
            "issued_at": START,
            "expires_at": "2029-01-04T10:00:00+00:00",
            "named_persons": ["usr_spec"],
            "dataset": "snds",
            "data_version_policy": "pinned",
            "data_version": 1,
            "data_version_id": "dv_spec",
            "tables": [{"name": t, "columns": c} for t, c in given["tables"].items()],
            "row_filter": {"period": given["period"], "population": given.get("population", {})},
            "potential_identifiers_granted": given.get("identifiers", []),
            "date_policy": given.get("date_policy", "exact"),
            "access_level": given.get("access_level", "row-level"),
            "status": "active",
        }
    )


@dataclass
class Outcome:
    tables: dict[str, list[dict[str, Any]]]
    mapping: dict[str, int]  # project_key -> project pseudonym
    secrets: ProjectSecrets


def run_case(case: dict[str, Any], engine: Engine) -> Outcome:
    source = MemorySource({n: lake_table(n, rows) for n, rows in case["lake"].items()})
    permit = permit_of(case)
    plan = build_plan(
        permit,
        {n: t.schema for n, t in source.data.items()},
        {
            n: {c.name: c.identifier.value for c in omop_table(n).columns if c.identifier}
            for n in source.data
        },
    )
    secrets = ProjectSecrets.derive(KEY, 1, case.get("shift_days", 30))
    objectors = empty_objectors()
    if case.get("objectors"):
        objectors = pa.table({"person_id": pa.array(case["objectors"], pa.int64())})
    extraction = Extraction(engine, source, plan, secrets, empty_mapping(), objectors)
    extraction.prepare()
    tables = {}
    for table, query in extraction.tables():
        result = engine.sql(query).cast(target_schema(table))
        tables[table.name] = [_plain(r) for r in result.to_pylist()]
    mapping_rows = engine.sql(extraction.mapping_query()).to_pylist()
    mapping = {r["project_key"]: r["project_person_id"] for r in mapping_rows}
    return Outcome(tables, mapping, secrets)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


class Oracle:
    """The expected values, computed from the case without the extraction's SQL."""

    def __init__(self, case: dict[str, Any], secrets: ProjectSecrets) -> None:
        persons = {r["person_id"]: r for r in case["lake"]["person"]}
        self.hub = {p: r.get("hub_pseudonym", f"hub-{p}") for p, r in persons.items()}
        self.secrets = secrets
        population = case["population"]
        ranked = sorted(population, key=lambda p: secrets.project_key_of(self.hub[p]))
        self.numbers = {p: i + 1 for i, p in enumerate(ranked)}

    def resolve(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if "shifted" in value:
            offset = self.secrets.shift_of(self.hub[value["person"]])
            text = value["shifted"]
            if "T" in text:
                moved = dt.datetime.fromisoformat(text) + dt.timedelta(days=offset)
            else:
                moved = dt.date.fromisoformat(text) + dt.timedelta(days=offset)
            return moved.isoformat()
        if "person" in value:
            return self.numbers[value["person"]]
        return value


def check_table(
    name: str,
    actual: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    resolve: Callable[[Any], Any],
    labels: dict[str, Any],
) -> None:
    assert len(actual) == len(expected), f"{name}: {len(actual)} rows, expected {len(expected)}"
    resolved = [{k: resolve(v) for k, v in row.items()} for row in expected]
    for row in resolved:
        for got in actual:
            assert set(row) == set(got), f"{name}: columns {sorted(got)}, expected {sorted(row)}"

    remaining = list(actual)
    for want in resolved:
        match = next(
            (
                r
                for r in remaining
                if all(r.get(k) == v for k, v in want.items() if not _is_label(v))
            ),
            None,
        )
        assert match is not None, f"{name}: no row like {want}; rows: {actual}"
        remaining.remove(match)
        for column, value in want.items():
            if _is_label(value):
                label = value["record"]
                got = match[column]
                assert got is not None, f"{name}.{column}: no id for {label}"
                seen = labels.setdefault(label, got)
                assert seen == got, f"{name}.{column}: {label} is {got} here, {seen} elsewhere"
    for space in {label[0] for label in labels}:  # v1, v2...: one id space per first letter
        values = [v for k, v in labels.items() if k[0] == space]
        assert len(values) == len(set(values)), f"two labels share an id: {labels}"


def _is_label(value: Any) -> bool:
    return isinstance(value, dict) and "record" in value


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["name"] = path.stem
        cases.append(case)
    return cases


CASES = load_cases()


@pytest.fixture(params=["duckdb"])
def engine(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Iterator[Engine]:
    """Each engine the extraction must agree on (Spark joins this list with its engine)."""
    made = DuckDBEngine(make_settings())
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extraction_spec(case: dict[str, Any], engine: Engine) -> None:
    outcome = run_case(case, engine)
    oracle = Oracle(case, outcome.secrets)
    assert sorted(outcome.mapping.values()) == list(range(1, len(case["population"]) + 1))
    expected_keys = {outcome.secrets.project_key_of(oracle.hub[p]) for p in case["population"]}
    assert set(outcome.mapping) == expected_keys, "the population is not the expected one"
    assert sorted(outcome.tables) == sorted(case["expected"]), "not the expected tables"
    labels: dict[str, Any] = {}
    for name, rows in case["expected"].items():
        check_table(name, outcome.tables[name], rows, oracle.resolve, labels)


def test_every_permit_field_has_a_spec() -> None:
    covered = {c["covers"] for c in CASES}
    fields = {
        "tables",
        "period",
        "population.age",
        "population.sex",
        "population.departements",
        "population.conditions",
        "identifier.birth_month",
        "identifier.commune",
        "identifier.exact_date",
        "identifier.death_date",
        "identifier.death_commune",
        "date_policy.exact",
        "date_policy.shifted",
        "date_policy.month",
        "access_level",
        "optouts",
        "record_ids",
    }
    assert fields <= covered, f"fields without a spec: {sorted(fields - covered)}"
