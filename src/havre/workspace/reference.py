"""Public reference tables loaded into every workspace sandbox beside the permitted extract.

Territorial studies need facts about places, not persons: whether a commune is rural, its
deprivation quintile, a département's or region's name and population. These come from the reference
data shipped with Havre (``havre.cdm.reference``, ``havre.cdm.territory``), hold no personal
data (no column is about a person, no row comes from the lake), and are the same in every
workspace. They are read-only like the rest of the sandbox (only a SELECT runs there) and are
not person-bearing: an aggregate-only query must still count persons from the extract.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from havre.cdm.reference import communes, departements, regions
from havre.cdm.territory import commune_territory

REF_COMMUNE = "ref_commune"
REF_DEPARTEMENT = "ref_departement"
REFERENCE_TABLES = (REF_COMMUNE, REF_DEPARTEMENT)


@cache
def reference_tables() -> dict[str, pa.Table]:
    """Name → table of every reference table a sandbox holds (computed once per process)."""
    territory = commune_territory()  # built from communes(), row for row
    geography = communes()
    commune = pa.table(
        {
            "code_commune": territory.column("code_commune"),
            "name": geography.column("nom"),
            "code_departement": territory.column("code_departement"),
            "code_region": geography.column("code_region"),
            "region_name": _region_names(geography.column("code_region")),
            "population": territory.column("population"),
            "rural": territory.column("rural"),
            "deprivation_quintile": territory.column("deprivation_quintile"),
        }
    )
    places = departements()
    departement = pa.table(
        {
            "code_departement": places.column("code_departement"),
            "name": places.column("nom"),
            "code_region": places.column("code_region"),
            "region_name": _region_names(places.column("code_region")),
            "population": places.column("population"),
            "n_communes": places.column("n_communes"),
            "rural_share": places.column("rural_share"),
        }
    )
    return {REF_COMMUNE: commune, REF_DEPARTEMENT: departement}


def _region_names(codes: pa.ChunkedArray) -> pa.Array:
    known = regions()
    at = pc.index_in(codes, value_set=known.column("code_region"))
    return pc.take(known.column("nom"), at)


def readers() -> list[tuple[str, pa.RecordBatchReader]]:
    """The reference tables as the sandbox loads them."""
    return [(name, table.to_reader()) for name, table in reference_tables().items()]
