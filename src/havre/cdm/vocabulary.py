"""Code sets ingestion validates against, from the shipped reference data (one column ``code``)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.cdm.omop import omop_table
from havre.cdm.reference import communes, departements, nomenclature
from havre.core.arrays import integers, texts

# LOINC codes the hospital exports carry (docs/sources.md): code → (name, unit)
LOINC_MEASUREMENTS: dict[str, tuple[str, str]] = {
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
    "62238-1": ("Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI)", "mL/min/{1.73_m2}"),
    "39156-5": ("Body mass index (BMI)", "kg/m2"),
    "85354-9": ("Blood pressure panel", ""),
    "8480-6": ("Systolic blood pressure", "mm[Hg]"),
    "8462-4": ("Diastolic blood pressure", "mm[Hg]"),
}


def _codes(values: pa.Array | pa.ChunkedArray) -> pa.Table:
    cleaned = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    return pa.table({"code": pc.unique(cleaned)})


@cache
def code_sets() -> dict[str, pa.Table]:
    """Relation name → table of valid codes (upper case)."""
    ald = nomenclature("IR_ALD_V").column("ALD_030_COD")
    return {
        "voc_cim10": _codes(nomenclature("IR_CIM_V").column("CIM_COD")),
        "voc_atc": _codes(nomenclature("openmedic_ATC5").column("ATC5")),
        "voc_nabm": _codes(nomenclature("IR_BIO_R").column("BIO_PRS_IDE")),
        "voc_prs_nat": _codes(nomenclature("IR_NAT_V").column("PRS_NAT")),
        # ALD 31 and 32 (outside the list, several conditions) are not in IR_ALD_V
        "voc_ald": _codes(pa.concat_arrays([ald.combine_chunks(), texts(["31", "32"])])),
        "voc_departement": _codes(departements().column("code_departement")),
        "voc_commune": _codes(communes().column("code_commune")),
        "voc_loinc": _codes(texts(LOINC_MEASUREMENTS)),
    }


@cache
def commune_names() -> pa.Table:
    """code, name, departement of every commune (for the location table)."""
    table = communes()
    return pa.table(
        {
            "code": table.column("code_commune"),
            "name": table.column("nom"),
            "departement": table.column("code_departement"),
        }
    )


@cache
def commune_locations() -> pa.Table:
    """Every commune with a stable ``location_id`` (its rank in code order, from 1)."""
    table = commune_names().sort_by("code")
    ids = integers(np.arange(1, table.num_rows + 1, dtype=np.int64))
    return table.append_column("location_id", ids)


def location_sql(used: str) -> str:
    """SQL: the lake's ``location`` table — the communes of ``commune_locations`` (registered
    as such) whose row ``loc`` meets ``used``, e.g. those the delivery's persons live in."""
    location = omop_table("location")
    listed = location.select_list(
        {
            "location_id": "loc.location_id",
            "city": "loc.name",
            "county": "loc.departement",
            "location_source_value": "loc.code",
            "country_source_value": "'FR'",
        }
    )
    return f"SELECT {listed} FROM commune_locations AS loc WHERE {used}"
