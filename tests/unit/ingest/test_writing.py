"""Lake tables are materialized without the columns a mapping fills with one literal."""

from __future__ import annotations

from havre.cdm.omop import omop_table
from havre.ingest.writing import constant_columns


def test_only_columns_constant_in_every_branch_are_left_out() -> None:
    spec = omop_table("drug_exposure")
    claims = spec.select_list(
        {
            "drug_exposure_id": "x.id",
            "drug_concept_id": "0",
            "drug_type_concept_id": "32810",
            "drug_source_value": "upper(x.atc)",
        }
    )
    hospital = spec.select_list(
        {"drug_exposure_id": "y.id", "drug_concept_id": "0", "drug_type_concept_id": "32817"}
    )
    query = f"SELECT {claims} FROM x UNION ALL SELECT {hospital} FROM y"
    constant = constant_columns("drug_exposure", query)
    assert constant["drug_concept_id"] == "CAST(0 AS BIGINT)"
    assert constant["stop_reason"] == "CAST(NULL AS VARCHAR)"
    # different literals, or an expression in one branch: stored
    assert "drug_type_concept_id" not in constant
    assert "drug_source_value" not in constant
    assert "drug_exposure_id" not in constant
    # a column named anywhere else in the query is stored, whatever its projections say
    nested = f"SELECT * FROM (SELECT {hospital} FROM y) AS t JOIN z ON z.a = t.stop_reason"
    renamed = nested.replace("FROM y", "FROM (SELECT 1 AS stop_reason) AS y")
    assert "stop_reason" not in constant_columns("drug_exposure", renamed)
