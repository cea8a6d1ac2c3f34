"""The OMOP CDM v5.4 tables Havre writes: columns and types from the shipped specification,
Havre's few extension columns, and which columns are potential identifiers.

Every lake table is projected through ``select_list`` so its schema is exactly this one,
whatever the source; the descriptions become the catalog's data dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pyarrow as pa

from havre.cdm.reference import omop_fields, omop_tables
from havre.lake.manifest import ColumnInfo, IdentifierKind

LAKE_TABLES = (
    "person",
    "observation_period",
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
    "death",
    "location",
    "care_site",
)

_ARROW = {
    "integer": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
}
_SQL = {"integer": "BIGINT", "float": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP"}

# Havre's additions to the CDM, each with the reason it exists.
EXTENSIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "person": (
        (
            "hub_pseudonym",
            "varchar",
            "Hub pseudonym (keyed HMAC-SHA256, hex) of which person_id is the first 63 bits; "
            "the same person from every source has the same value (linkage).",
        ),
    ),
    "death": (
        ("death_commune", "varchar", "INSEE code of the commune of death (CépiDc)."),
        ("death_departement", "varchar", "INSEE code of the département of death."),
    ),
    "drug_exposure": (
        ("drug_cip13", "varchar", "13-digit CIP code of the dispensed pack (claims)."),
    ),
    "visit_occurrence": (
        (
            "specialty_source_value",
            "varchar",
            "Specialty code of the executing professional (SNDS PSE_SPE_COD).",
        ),
    ),
}

# Potential identifiers: kept, tagged, granted one by one by permits.
IDENTIFIERS: dict[tuple[str, str], IdentifierKind] = {
    ("person", "month_of_birth"): IdentifierKind.BIRTH_MONTH,
    ("person", "location_id"): IdentifierKind.COMMUNE,  # joins to the commune of residence
    ("location", "city"): IdentifierKind.COMMUNE,
    ("location", "zip"): IdentifierKind.COMMUNE,
    ("location", "location_source_value"): IdentifierKind.COMMUNE,
    ("location", "latitude"): IdentifierKind.COMMUNE,
    ("location", "longitude"): IdentifierKind.COMMUNE,
    ("death", "death_date"): IdentifierKind.DEATH_DATE,
    ("death", "death_datetime"): IdentifierKind.DEATH_DATE,
    ("death", "death_commune"): IdentifierKind.DEATH_COMMUNE,
}
# every other date or datetime of a person's events is an exact date
_NOT_EVENT_DATES = {("person", "birth_datetime")}


@dataclass(frozen=True)
class OmopColumn:
    name: str
    datatype: str  # integer, float, date, datetime, varchar
    required: bool
    description: str
    identifier: IdentifierKind | None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW.get(self.datatype, pa.string())

    @property
    def sql_type(self) -> str:
        return _SQL.get(self.datatype, "VARCHAR")

    def info(self) -> ColumnInfo:
        return ColumnInfo(
            name=self.name,
            type=str(self.arrow_type),
            description=self.description,
            required=self.required,
            identifier=self.identifier,
        )


@dataclass(frozen=True)
class OmopTable:
    name: str
    description: str
    columns: tuple[OmopColumn, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        )

    def column(self, name: str) -> OmopColumn:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name}.{name}")

    def select_list(self, values: dict[str, str]) -> str:
        """SQL projecting ``values`` (column → expression) onto the table's exact schema."""
        unknown = set(values) - {c.name for c in self.columns}
        if unknown:
            raise KeyError(f"{self.name} has no column(s) {sorted(unknown)}")
        return ",\n       ".join(
            f"CAST({values.get(c.name, 'NULL')} AS {c.sql_type}) AS {c.name}" for c in self.columns
        )


def _first_sentence(text: str | None, limit: int = 240) -> str:
    if not text:
        return ""
    text = " ".join(text.replace("<br>", " ").split())
    end = text.find(". ")
    sentence = text if end < 0 else text[: end + 1]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _identifier(table: str, name: str, datatype: str) -> IdentifierKind | None:
    kind = IDENTIFIERS.get((table, name))
    if kind is not None:
        return kind
    if datatype in ("date", "datetime") and (table, name) not in _NOT_EVENT_DATES:
        return IdentifierKind.EXACT_DATE
    return None


@cache
def omop_table(name: str) -> OmopTable:
    if name not in LAKE_TABLES:
        raise KeyError(f"Havre does not write the OMOP table {name!r}")
    columns = []
    for row in omop_fields().to_pylist():
        if row["cdmTableName"] != name:
            continue
        datatype = str(row["cdmDatatype"]).lower()
        if datatype.startswith("varchar"):
            datatype = "varchar"
        column = str(row["cdmFieldName"])
        columns.append(
            OmopColumn(
                name=column,
                datatype=datatype,
                required=str(row["isRequired"]).lower() == "yes",
                description=_first_sentence(row["userGuidance"] or row["etlConventions"]),
                identifier=_identifier(name, column, datatype),
            )
        )
    for column, datatype, description in EXTENSIONS.get(name, ()):
        columns.append(
            OmopColumn(column, datatype, False, description, _identifier(name, column, datatype))
        )
    row = next(t for t in omop_tables().to_pylist() if t["cdmTableName"] == name)
    description = _first_sentence(row["tableDescription"], 400)
    return OmopTable(name, description, tuple(columns))
