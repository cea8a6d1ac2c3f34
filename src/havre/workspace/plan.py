"""What the extraction does to each column a permit grants: the minimisation plan.

The plan is computed from the permit and the lake's own column tags, never from names alone:
a column tagged as a potential identifier leaves the lake only as its kind is granted, else
generalized (docs/workspace.md has the table). Dates are treated as exact dates even when the
lake forgot to tag one, because an untagged date would otherwise leave unshifted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from havre.core.errors import StateError
from havre.governance.projects import DatePolicy, IdentifierKind, Permit
from havre.lake.optout_link import OPTOUT_LINK

# The date each event table is filtered on (docs/projects.md, "period").
EVENT_DATE: dict[str, str] = {
    "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date",
    "procedure_occurrence": "procedure_date",
    "measurement": "measurement_date",
    "observation": "observation_date",
    "visit_occurrence": "visit_start_date",
    "death": "death_date",
}
# observation periods are kept when they overlap the period
PERIOD_SPAN = ("observation_period_start_date", "observation_period_end_date")
# A table's own record id: renumbered per project, so two projects share no record key.
OWN_ID: dict[str, str] = {
    "observation_period": "observation_period_id",
    "visit_occurrence": "visit_occurrence_id",
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
}
# The date records are numbered by, within a person.
ORDER_DATE: dict[str, str] = {**EVENT_DATE, "observation_period": PERIOD_SPAN[0]}
VISIT_REFERENCES = frozenset({"visit_occurrence_id", "preceding_visit_occurrence_id"})
# Links the lake does not fill; carried, they would be keys shared by every project.
NEVER_LINKED = frozenset(
    {"visit_detail_id", "measurement_event_id", "observation_event_id", "provider_id"}
)
# Never in a workspace: the hub pseudonym is what project pseudonyms replace.
NEVER_CARRIED = frozenset({("person", "hub_pseudonym")})
# Always empty in a workspace: finer than any grant (day of birth) or a source's own key.
ALWAYS_NULL = frozenset(
    {("person", "day_of_birth"), ("person", "birth_datetime"), ("person", "person_source_value")}
)
PERSON_TABLES = frozenset({"person", "death", "observation_period", *EVENT_DATE})
REFERENCE_TABLES = frozenset({"location", "care_site"})
KNOWN_TABLES = PERSON_TABLES | REFERENCE_TABLES
# What the extraction reads but never copies (see docs/workspace.md, opt-outs).
INTERNAL_TABLES = frozenset({OPTOUT_LINK})


class Treatment(StrEnum):
    KEEP = "keep"
    PERSON = "project_pseudonym"  # the project's compact integer
    RECORD_ID = "renumbered"  # the table's own id, renumbered per project
    VISIT_REF = "visit_reference"  # follows the renumbered visit ids
    LOCATION_REF = "departement_location"  # points to the département's location row
    DEPARTEMENT = "departement"  # a commune code cut to its département
    DATE = "date"  # per the date mode of the plan
    NULL = "null"


class DateMode(StrEnum):
    EXACT = "exact"
    SHIFTED = "shifted"
    MONTH = "month"


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    type: pa.DataType
    treatment: Treatment
    identifier: str | None = None


@dataclass(frozen=True)
class TablePlan:
    name: str
    columns: tuple[ColumnPlan, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def treatment_of(self, column: str) -> Treatment:
        return next(c.treatment for c in self.columns if c.name == column)


@dataclass(frozen=True)
class ExtractPlan:
    permit: Permit
    date_mode: DateMode
    commune_granted: bool
    tables: tuple[TablePlan, ...]
    withheld: tuple[str, ...]  # table.column granted by the permit but never carried

    def table(self, name: str) -> TablePlan | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def needs_visit_ids(self) -> bool:
        return any(
            c.treatment is Treatment.VISIT_REF
            or (t.name == "visit_occurrence" and c.treatment is Treatment.RECORD_ID)
            for t in self.tables
            for c in t.columns
        )

    @property
    def needs_departements(self) -> bool:
        return not self.commune_granted and (
            self.table("location") is not None
            or any(c.treatment is Treatment.LOCATION_REF for t in self.tables for c in t.columns)
        )


def date_mode(permit: Permit) -> DateMode:
    """Exact dates need both the policy and the kind; a withheld kind means shifted."""
    if permit.date_policy is DatePolicy.MONTH:
        return DateMode.MONTH
    if permit.date_policy is DatePolicy.EXACT and permit.grants(IdentifierKind.EXACT_DATE):
        return DateMode.EXACT
    return DateMode.SHIFTED


def build_plan(
    permit: Permit,
    schemas: Mapping[str, pa.Schema],
    tags: Mapping[str, Mapping[str, str]],
) -> ExtractPlan:
    """The plan for ``permit`` over a data version whose tables have ``schemas`` and whose
    potential identifiers are tagged ``tags`` (table → column → kind)."""
    mode = date_mode(permit)
    commune = permit.grants(IdentifierKind.COMMUNE)
    problems: list[str] = []
    tables: list[TablePlan] = []
    withheld: list[str] = []
    for grant in permit.tables:
        if grant.name in INTERNAL_TABLES or grant.name not in KNOWN_TABLES:
            problems.append(f"{grant.name}: not a table a workspace can minimise")
            continue
        schema = schemas.get(grant.name)
        if schema is None:
            problems.append(f"{grant.name}: not in the data version")
            continue
        table_tags = tags.get(grant.name, {})
        columns = []
        for name in grant.columns:
            if schema.get_field_index(name) < 0:
                problems.append(f"{grant.name}.{name}: not in the data version")
                continue
            if (grant.name, name) in NEVER_CARRIED:
                withheld.append(f"{grant.name}.{name}")
                continue
            kind = table_tags.get(name)
            field_type = schema.field(name).type
            treatment = _treatment(permit, grant.name, name, field_type, kind, commune)
            columns.append(ColumnPlan(name, field_type, treatment, kind))
        if columns:
            tables.append(TablePlan(grant.name, tuple(columns)))
    if problems:
        raise StateError(
            f"The permit of project {permit.project_id} (v{permit.version}) cannot be "
            f"extracted from {permit.dataset}@v{permit.data_version}: " + "; ".join(problems[:10]),
            hint="the lake no longer holds what the permit grants; the permit needs an amendment",
        )
    return ExtractPlan(permit, mode, commune, tuple(tables), tuple(withheld))


def _treatment(
    permit: Permit,
    table: str,
    column: str,
    field_type: pa.DataType,
    kind: str | None,
    commune: bool,
) -> Treatment:
    if (table, column) in ALWAYS_NULL or column in NEVER_LINKED:
        return Treatment.NULL
    if column == "person_id" and table in PERSON_TABLES:
        return Treatment.PERSON
    if OWN_ID.get(table) == column:
        return Treatment.RECORD_ID
    if column in VISIT_REFERENCES:
        return Treatment.VISIT_REF
    if column == "location_id" and table in ("person", "care_site"):
        # location ids name communes; without the kind they point to département rows
        return Treatment.KEEP if commune else Treatment.LOCATION_REF
    if table == "location" and not commune:
        # one row per département: its new id and its code, nothing finer
        return Treatment.KEEP if column in ("location_id", "county") else Treatment.NULL
    if kind == IdentifierKind.BIRTH_MONTH:
        return Treatment.KEEP if _granted(permit, kind) else Treatment.NULL
    if kind == IdentifierKind.DEATH_DATE:
        return Treatment.DATE if _granted(permit, kind) else Treatment.NULL
    if kind == IdentifierKind.DEATH_COMMUNE:
        return Treatment.KEEP if _granted(permit, kind) else Treatment.DEPARTEMENT
    if kind == IdentifierKind.EXACT_DATE or _is_date(field_type):
        return Treatment.DATE
    if kind is not None:
        # a kind this plan does not know how to generalize leaves only when granted
        return Treatment.KEEP if _granted(permit, kind) else Treatment.NULL
    return Treatment.KEEP


def _granted(permit: Permit, kind: str) -> bool:
    try:
        return permit.grants(kind)
    except ValueError:  # a kind the permit model does not know was never granted
        return False


def _is_date(field_type: pa.DataType) -> bool:
    return bool(pa.types.is_date(field_type) or pa.types.is_timestamp(field_type))
