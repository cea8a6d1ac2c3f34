"""Re-identification risk of an extract: measure it, and show how to lower it.

Give a relation (an Arrow table, a dataset or a relation already in an engine) and a
declaration of its quasi-identifiers and sensitive attributes::

    relation = register(engine, table)
    declaration = RiskDeclaration(
        (QuasiIdentifier("birth_month", ColumnKind.BIRTH_MONTH),
         QuasiIdentifier("commune", ColumnKind.COMMUNE)),
        sensitive=("diagnosis",),
    )
    with RiskAnalysis(relation, declaration, Population.sample(0.01)) as analysis:
        assessment = analysis.assess()
        report = suggest(analysis, RiskTarget(k=5))

Measures, estimators, hierarchies and the search are described in docs/risk.md.
"""

from havre.disclosure.risk.analysis import RiskAnalysis, assess
from havre.disclosure.risk.hierarchies import ColumnKind, Hierarchy, hierarchy, infer_kind
from havre.disclosure.risk.model import (
    DEFAULT_THRESHOLD,
    ClassHistogram,
    Diversity,
    Population,
    PopulationUniqueness,
    QuasiIdentifier,
    RiskAssessment,
    RiskDeclaration,
    RiskSummary,
    declare,
)
from havre.disclosure.risk.relation import Relation, open_file, register
from havre.disclosure.risk.suggest import (
    InformationLoss,
    RiskTarget,
    SuggestionReport,
    SuggestionStep,
    suggest,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "ClassHistogram",
    "ColumnKind",
    "Diversity",
    "Hierarchy",
    "InformationLoss",
    "Population",
    "PopulationUniqueness",
    "QuasiIdentifier",
    "Relation",
    "RiskAnalysis",
    "RiskAssessment",
    "RiskDeclaration",
    "RiskSummary",
    "RiskTarget",
    "SuggestionReport",
    "SuggestionStep",
    "assess",
    "declare",
    "hierarchy",
    "infer_kind",
    "open_file",
    "register",
    "suggest",
]
