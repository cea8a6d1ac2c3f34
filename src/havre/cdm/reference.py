"""Reference data shipped in ``havre/cdm/data``: geography, SNDS schemas and nomenclatures,
the OMOP CDM v5.4 specification. Loaded lazily, once, as Arrow tables."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

DATA = Path(__file__).parent / "data"
SNDS_SCHEMAS = DATA / "snds" / "schemas"
NOMENCLATURES = DATA / "snds" / "nomenclatures"
OMOP_SPEC = DATA / "omop"
GEO = DATA / "geo"


def _read_csv(path: Path, delimiter: str = ",", **types: pa.DataType) -> pa.Table:
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, null_values=[""]
        ),
    )


@cache
def departements() -> pa.Table:
    """code_departement, nom, code_region, population, n_communes, rural_share (109 rows)."""
    return _read_csv(
        GEO / "departements.csv", code_departement=pa.string(), code_region=pa.string()
    )


@cache
def regions() -> pa.Table:
    """code_region, nom (26 rows: 18 regions and 8 overseas collectivities)."""
    return _read_csv(GEO / "regions.csv", code_region=pa.string())


@cache
def communes() -> pa.Table:
    """code_commune, nom, code_departement, code_region, population (34,969 rows)."""
    return _read_csv(
        GEO / "communes.csv",
        code_commune=pa.string(),
        code_departement=pa.string(),
        code_region=pa.string(),
        population=pa.int64(),
    )


def departements_geojson_path() -> Path:
    return GEO / "departements-version-simplifiee.geojson"


@cache
def snds_schema(table: str) -> dict[str, Any]:
    """The Table Schema descriptor of an SNDS table (``IR_BEN_R``, ``T_MCOaaB``...)."""
    path = SNDS_SCHEMAS / f"{table}.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@cache
def nomenclature(name: str) -> pa.Table:
    """An SNDS nomenclature by file stem: ``IR_CIM_V``, ``IR_NAT_V``, ``IR_BIO_R``,
    ``IR_ALD_V``, ``openmedic_ATC1`` ... ``openmedic_ATC5``. All columns as strings."""
    matches = sorted(NOMENCLATURES.rglob(f"{name}.csv"))
    if not matches:
        raise KeyError(f"unknown nomenclature {name!r}")
    path = matches[0]
    header = path.read_text(encoding="utf-8").split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    columns = header.strip().split(delimiter)
    return _read_csv(path, delimiter, **dict.fromkeys(columns, pa.string()))


@cache
def omop_fields() -> pa.Table:
    """The OMOP CDM v5.4 field-level specification."""
    return pacsv.read_csv(
        OMOP_SPEC / "OMOP_CDMv5.4_Field_Level.csv",
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(null_values=["NA", ""], strings_can_be_null=True),
    )


@cache
def omop_tables() -> pa.Table:
    return pacsv.read_csv(
        OMOP_SPEC / "OMOP_CDMv5.4_Table_Level.csv",
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(null_values=["NA", ""], strings_can_be_null=True),
    )
