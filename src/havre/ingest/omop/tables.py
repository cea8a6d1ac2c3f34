"""OMOP CDM v5.4 CSV files as a source: which tables are read, skipped or refused, and the
checks of each column (from the shipped specification)."""

from __future__ import annotations

from functools import cache

import pyarrow.compute as pc

from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.cdm.reference import omop_tables
from havre.ingest.fields import Field, Kind
from havre.ingest.reasons import Reason

DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?Z?$"
# vocabulary and metadata tables: a copy of OHDSI's, not data about anyone — not read
NOT_READ = {
    "concept",
    "vocabulary",
    "domain",
    "concept_class",
    "concept_relationship",
    "relationship",
    "concept_synonym",
    "concept_ancestor",
    "source_to_concept_map",
    "drug_strength",
    "cdm_source",
    "metadata",
    "cohort",
    "cohort_definition",
}
# direct identifiers an OMOP export may hold: never read into the lake
DROPPED = {
    ("person", "day_of_birth"),
    ("person", "birth_datetime"),
    ("person", "person_source_value"),
    ("location", "address_1"),
    ("location", "address_2"),
    ("location", "location_source_value"),
    ("location", "latitude"),
    ("location", "longitude"),
}


@cache
def omop_table_names() -> frozenset[str]:
    return frozenset(str(n).lower() for n in pc.unique(omop_tables()["cdmTableName"]).to_pylist())


def _start_of(table: str, end: str) -> str | None:
    """The date an end date of ``table`` may not precede: the table's start date
    (``*_start_date``, else its one event date, e.g. ``procedure_date``)."""
    if not end.endswith("_end_date"):
        return None
    names = [column.name for column in omop_table(table).columns]
    starts = [n for n in names if n.endswith("_start_date")] or [
        n for n in names if n.endswith("_date") and not n.endswith("_end_date")
    ]
    return starts[0] if starts else None


def fields(table: str) -> tuple[Field, ...]:
    """Checks of a lake table's columns as an OMOP source delivers them (an end date before
    its start is ``end_before_start``, as for the other sources)."""
    out = []
    for column in omop_table(table).columns:
        if column.name in ("hub_pseudonym",) or column.name.startswith(
            ("death_commune", "death_dep")
        ):
            continue
        if column.name in ("drug_cip13", "specialty_source_value"):
            continue
        identifier = (table, column.name) in DROPPED
        required = column.required and not identifier
        if column.datatype == "integer":
            field = Field(column.name, Kind.INTEGER, required=required, identifier=identifier)
        elif column.datatype == "float":
            field = Field(column.name, Kind.DECIMAL, required=required, identifier=identifier)
        elif column.datatype == "date":
            field = Field(
                column.name,
                Kind.DATE,
                required=required,
                identifier=identifier,
                after=_start_of(table, column.name),
            )
        elif column.datatype == "datetime":
            field = Field(
                column.name,
                required=required,
                pattern=DATETIME,
                pattern_reason=Reason.BAD_DATE,
                identifier=identifier,
            )
        else:
            field = Field(column.name, required=required, identifier=identifier)
        out.append(field)
    return tuple(out)


def primary_key(table: str) -> str | None:
    name = f"{table}_id"
    return name if any(c.name == name for c in omop_table(table).columns) else None


PERSON_TABLES = tuple(t for t in LAKE_TABLES if t not in ("person", "location", "care_site"))
