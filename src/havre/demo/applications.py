"""The two applications of the story, as their project leads would write them.

(a) Complications of type 2 diabetes: a cohort study that needs rows (time from diagnosis to
    each complication), so row-level access inside its workspace; people with an E11 code in
    2015–2024, dates shifted, the birth month asked for and withheld by the decision.
(b) Territorial inequalities of diabetes follow-up: prevalence and follow-up indicators by
    territory, so aggregate-only access; everyone (the denominators), 2023–2024, dates cut to
    the month, and the commune granted because rurality and deprivation are properties of the
    commune.
"""

from __future__ import annotations

from typing import Any

from havre.governance.projects import PROHIBITED_PURPOSES

DATASET = "snds"
COMPLICATIONS = "complications"
TERRITORIES = "territories"

COMPLICATIONS_TABLES: dict[str, list[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth"],
    "condition_occurrence": [
        "person_id",
        "condition_occurrence_id",
        "condition_start_date",
        "condition_source_value",
        "visit_occurrence_id",
    ],
    "drug_exposure": [
        "person_id",
        "drug_exposure_id",
        "drug_exposure_start_date",
        "drug_source_value",
        "quantity",
    ],
    "measurement": ["person_id", "measurement_id", "measurement_date", "measurement_source_value"],
    "visit_occurrence": [
        "person_id",
        "visit_occurrence_id",
        "visit_concept_id",
        "visit_start_date",
        "visit_end_date",
        "specialty_source_value",
    ],
    "death": ["person_id", "death_date", "cause_source_value"],
}

TERRITORIES_TABLES: dict[str, list[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "location_id"],
    "location": ["location_id", "location_source_value", "county"],
    "observation_period": [
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
    ],
    "drug_exposure": ["person_id", "drug_exposure_start_date", "drug_source_value"],
    "measurement": ["person_id", "measurement_date", "measurement_source_value"],
    "visit_occurrence": ["person_id", "visit_start_date", "specialty_source_value"],
}


def _common(lead_organisation: str, controller: str, team: list[str]) -> dict[str, Any]:
    return {
        "controller": controller,
        "lead_organisation": lead_organisation,
        "team": [{"user": user, "role": "researcher"} for user in team],
        "declaration_of_interests": "None declared.",
        "legal_route": {"kind": "cnil_authorisation"},
        "excluded_purposes": list(PROHIBITED_PURPOSES),
    }


def complications(team: list[str]) -> dict[str, Any]:
    return {
        "title": "Complications of type 2 diabetes in France, 2015–2024",
        "public_summary": (
            "How often people with type 2 diabetes develop eye, kidney, nerve and foot "
            "complications, heart attacks and strokes, and how soon after their diabetes is "
            "first recorded."
        ),
        "purpose": (
            "Describe the incidence of micro- and macrovascular complications in a cohort of "
            "people with type 2 diabetes (ICD-10 E11), the time from the first record of "
            "diabetes to each complication, and their treatment before the event."
        ),
        "public_interest": (
            "Complications drive most of the burden of diabetes; knowing who develops them and "
            "when guides screening and prevention in primary care."
        ),
        **_common("CHU de Rouen", "CHU de Rouen", team),
        "funding": [
            {
                "funder": "Programme hospitalier de recherche clinique",
                "reference": "PHRC-2026-DEMO-01",
            }
        ],
        "data": {
            "dataset": DATASET,
            "tables": COMPLICATIONS_TABLES,
            "period": {"start": "2015-01-01", "end": "2024-12-31"},
            "population": {"conditions": ["E11"]},
            "potential_identifiers": [
                {
                    "kind": "birth_month",
                    "justification": "Age at the first record of diabetes, to the month, for "
                    "the survival analysis.",
                },
                {
                    "kind": "death_date",
                    "justification": "Death is a competing risk of every complication; the "
                    "analysis needs its date.",
                },
            ],
            "date_policy": "shifted",
            "sensitive": ["diagnosis"],
        },
        "access_level": "row-level",
        "duration_months": 24,
    }


def territories(team: list[str]) -> dict[str, Any]:
    return {
        "title": "Territorial inequalities in the follow-up of diabetes",
        "public_summary": (
            "Do people with diabetes living in rural or deprived communes get their recommended "
            "blood tests and eye exams as often as others?"
        ),
        "purpose": (
            "Estimate the prevalence of treated diabetes by département, age and sex, and the "
            "share of people with diabetes who had at least two HbA1c tests and an eye exam "
            "in the year, by rurality and deprivation of their commune."
        ),
        "public_interest": (
            "Shows where follow-up falls short so that regional health agencies can target "
            "their programmes."
        ),
        **_common("Université de Lille", "Université de Lille", team),
        "funding": [{"funder": "Agence nationale de la recherche", "reference": "ANR-26-DEMO-02"}],
        "data": {
            "dataset": DATASET,
            "tables": TERRITORIES_TABLES,
            "period": {"start": "2023-01-01", "end": "2024-12-31"},
            "population": {},
            "potential_identifiers": [
                {
                    "kind": "commune",
                    "justification": "Rurality and deprivation are properties of the commune "
                    "of residence; the département is too coarse to measure them.",
                },
            ],
            "date_policy": "month",
        },
        "access_level": "aggregate-only",
        "duration_months": 12,
    }
