"""The few OMOP standard concept ids Havre assigns itself (gender, visit and record types).

The OHDSI standard vocabularies (Athena) are licensed per user and not shipped: clinical codes
keep ``*_concept_id = 0`` and their source code in ``*_source_value`` (CIM-10 without dot,
ATC, NABM, LOINC, CCAM...). Analyses select on source values; a hub that loads Athena can map
them later without re-ingesting.
"""

from __future__ import annotations

UNMAPPED = 0

GENDER_MALE = 8507
GENDER_FEMALE = 8532

VISIT_INPATIENT = 9201
VISIT_OUTPATIENT = 9202
VISIT_EMERGENCY = 9203
VISIT_HOME = 581476
VISIT_PHARMACY = 581458
VISIT_LABORATORY = 32036

# record provenance (Type Concept vocabulary)
TYPE_CLAIM = 32810
TYPE_EHR = 32817
TYPE_REGISTRY = 32879
TYPE_DEATH_CERTIFICATE = 32815

SEX_TO_GENDER_SQL = (
    f"CASE {{sex}} WHEN '1' THEN {GENDER_MALE} WHEN '2' THEN {GENDER_FEMALE} ELSE {UNMAPPED} END"
)


def gender_sql(sex: str) -> str:
    """SQL: OMOP gender concept of a sex code ``'1'``/``'2'``."""
    return SEX_TO_GENDER_SQL.format(sex=sex)
