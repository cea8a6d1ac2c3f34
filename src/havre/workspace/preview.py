"""What a permit would let out, measured before it is granted: the re-identification risk
preview of the permit review (docs/risk.md, "In the permit review").

The would-be extract is built in memory by the workspace's own extraction SQL: no file is
written and no key created (project pseudonyms and date offsets come from a throw-away secret;
the risk does not depend on them). From the plan and the lake's column tags, one row per
person holds the quasi-identifiers the extract would let an attacker match on; the data
version's persons, run through the same SQL without the permit's population criteria, are
the population. ``havre.disclosure.risk`` measures it and suggests generalizations.
"""

from __future__ import annotations

import math
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from havre.core.config import Settings
from havre.core.errors import ConfigError, DataValidationError, EngineError, IntegrityError
from havre.core.hashing import sha256_value
from havre.core.ids import new_id
from havre.governance.projects import (
    Permit,
    Population,
    RiskFigures,
    RiskRequest,
    RiskResult,
    RowFilter,
    terms_sha256,
)
from havre.lake.engine import Engine, open_engine
from havre.workspace.builder import plan_for
from havre.workspace.extract import Extraction, empty_objectors
from havre.workspace.plan import ExtractPlan, Treatment
from havre.workspace.pseudonyms import ProjectSecrets, empty_mapping

if TYPE_CHECKING:  # the risk engine (SciPy) loads when an assessment runs, not with the hub
    from havre.disclosure.risk import RiskAssessment, RiskTarget, SuggestionReport
    from havre.lake import Lake, LakeVersion
    from havre.workspace.preview_qi import PersonTable, RareCodes

RARE_FLOOR = 5  # with an average-risk target only: rare below 5 persons, whatever the share
METHOD = "havre risk preview 1: person-level quasi-identifiers, population = the data version"
# The permit term that goes at least as far as a generalization step (the others: advice).
PERMIT_CHANGES: dict[tuple[str, str], dict[str, str]] = {
    ("birth", "year"): {"withhold": "birth_month"},
    ("residence", "département"): {"withhold": "commune"},
    ("death_place", "département"): {"withhold": "death_commune"},
    ("first_event", "month"): {"date_policy": "month"},
    ("death_date", "month"): {"date_policy": "month"},
}


class RiskPreview:
    """``RiskAssessor`` of the projects service: the risk of the extract a (draft) permit
    would produce, over the lake version it names."""

    def __init__(self, settings: Settings, lake: Lake) -> None:
        self.settings = settings
        self.lake = lake

    def assess(self, request: RiskRequest) -> RiskResult:
        permit = request.permit
        target = self.target(request)
        source = self.lake.open(permit.dataset, permit.data_version)
        if source.info.id != permit.data_version_id:
            raise IntegrityError(
                f"{source.info.label} is not the data version the permit names "
                f"({permit.data_version_id}).",
                hint="the lake registry changed under the permit; report it to a data steward",
            )
        plan = plan_for(permit, source)
        try:
            return self._run(request, source, plan, target)
        except EngineError:
            # DuckDB's messages can quote a value, and the audit log keeps the error's message
            raise EngineError(
                f"The risk preview of {source.info.label} failed in the engine.",
                hint="nothing was written; try again, or report it to a data steward",
            ) from None

    def _run(
        self, request: RiskRequest, source: LakeVersion, plan: ExtractPlan, target: RiskTarget
    ) -> RiskResult:
        from havre.workspace.preview_qi import RareCodes

        permit = request.permit
        # one secret for both runs, so that a person's shifted dates are the same in each
        throwaway = ProjectSecrets.derive(
            secrets.token_bytes(32), 0, self.settings.workspace_shift_days
        )
        with self._engine() as engine:
            rare = RareCodes.of_version(
                engine,
                source,
                self.settings.risk_rare_prevalence,
                target.k or RARE_FLOOR,
                wanted=_keeps_codes(plan),
            )
            population: pa.Table | None = None
            if permit.row_filter.population != Population():
                everyone = permit.model_copy(
                    update={"row_filter": RowFilter(period=permit.row_filter.period)}
                )
                population = self._person_table(
                    engine, source, plan_for(everyone, source), throwaway, rare, request
                ).population()
        with self._engine() as engine:
            table = self._person_table(engine, source, plan, throwaway, rare, request)
            persons = table.persons()
            if population is None:
                population = table.population()
            engine.register("rp_population", population)
            report = self._report(request, plan, table, rare, persons, population.num_rows)
            if persons == 0:
                report["notes"].append("The extract holds no person: there is no one to find.")
                assessment, suggestions = None, None
            else:
                assessment, suggestions = self._measure(engine, table, target)
        report["assessment"] = assessment.to_dict() if assessment else None
        report["suggestions"] = _suggestions(suggestions) if suggestions else None
        report = _finite(report)
        return RiskResult(_figures(request, assessment, report), report)

    def target(self, request: RiskRequest) -> RiskTarget:
        from havre.disclosure.risk import RiskTarget

        k, risk = request.target_k, request.target_risk
        if k is None and risk is None:
            k = self.settings.risk_target_k or None
            risk = self.settings.risk_target_risk or None
            if k == 1:
                raise ConfigError(
                    "HAVRE_RISK_TARGET_K is 1, which every extract meets.",
                    hint="give 2 or more (5 is usual), or 0 to aim at HAVRE_RISK_TARGET_RISK only",
                )
            if k is None and risk is None:
                raise ConfigError(
                    "No risk target: HAVRE_RISK_TARGET_K and HAVRE_RISK_TARGET_RISK are both 0.",
                    hint="set one of them (e.g. HAVRE_RISK_TARGET_K=5); see docs/settings.md",
                )
        return RiskTarget(k=k, average_risk=risk)

    # -- steps ------------------------------------------------------------------------------
    @contextmanager
    def _engine(self) -> Iterator[Engine]:
        temp = self.settings.home / "tmp" / f"risk-{new_id('run')}"
        engine = open_engine(self.settings, keys=self.lake.keys, temp_directory=temp)
        try:
            yield engine
        finally:
            engine.close()
            shutil.rmtree(temp, ignore_errors=True)

    def _person_table(
        self,
        engine: Engine,
        source: LakeVersion,
        plan: ExtractPlan,
        throwaway: ProjectSecrets,
        rare: RareCodes,
        request: RiskRequest,
    ) -> PersonTable:
        from havre.workspace.preview_qi import derive

        extraction = Extraction(engine, source, plan, throwaway, empty_mapping(), empty_objectors())
        extraction.prepare()
        return derive(engine, extraction, source, rare, request.sensitive)

    def _measure(
        self, engine: Engine, table: PersonTable, target: RiskTarget
    ) -> tuple[RiskAssessment, SuggestionReport]:
        from havre.disclosure.risk import (
            Population as RiskPopulation,
        )
        from havre.disclosure.risk import (
            QuasiIdentifier,
            Relation,
            RiskAnalysis,
            RiskDeclaration,
            suggest,
        )

        declaration = RiskDeclaration(
            tuple(QuasiIdentifier(q.column, q.kind) for q in table.quasi_identifiers),
            tuple(s.column for s in table.sensitive),
        )
        try:
            with RiskAnalysis(
                Relation(engine, table.extract_relation),
                declaration,
                RiskPopulation.table("rp_population"),
            ) as analysis:
                return analysis.assess(), suggest(analysis, target)
        except DataValidationError as error:
            # the engine's message quotes an example value: not for the audit log
            raise DataValidationError(
                "The would-be extract holds values its quasi-identifiers do not expect "
                f"(column {error.context.get('column')!r}).",
                hint="report it: the lake holds codes of an unexpected shape",
            ) from None

    def _report(
        self,
        request: RiskRequest,
        plan: ExtractPlan,
        table: PersonTable,
        rare: RareCodes,
        persons: int,
        population: int,
    ) -> dict[str, Any]:
        permit = request.permit
        return {
            "project_id": permit.project_id,
            "assessed_at": request.assessed_at,
            "method": METHOD,
            "terms": _terms(permit, plan),
            "terms_sha256": terms_sha256(permit, request.sensitive),
            "persons": persons,
            "population": {
                "basis": "data_version",
                "data_version": f"{permit.dataset}@v{permit.data_version}",
                "persons": population,
                "sampling_fraction": persons / population if population else None,
            },
            "quasi_identifiers": [q.to_dict() for q in table.quasi_identifiers],
            "sensitive": [s.to_dict() for s in table.sensitive],
            "rare_codes": rare.to_dict(),
            "notes": list(table.notes),
        }


def _keeps_codes(plan: ExtractPlan) -> bool:
    table = plan.table("condition_occurrence")
    return (
        table is not None
        and "condition_source_value" in table.column_names
        and table.treatment_of("condition_source_value") is Treatment.KEEP
    )


def _terms(permit: Permit, plan: ExtractPlan) -> dict[str, Any]:
    return {
        "dataset": permit.dataset,
        "data_version": permit.data_version,
        "data_version_id": permit.data_version_id,
        "tables": {t.name: list(t.columns) for t in permit.tables},
        "period": permit.row_filter.period.model_dump(mode="json"),
        "population": permit.row_filter.population.model_dump(mode="json", exclude_defaults=True),
        "identifiers": [k.value for k in permit.potential_identifiers_granted],
        "date_policy": permit.date_policy.value,
        "date_mode": plan.date_mode.value,
    }


def _suggestions(report: SuggestionReport) -> dict[str, Any]:
    body = report.to_dict()
    for step in body["steps"]:
        change = PERMIT_CHANGES.get((str(step["column"]), str(step["to_level"])))
        step["permit_change"] = dict(change) if change else None
    return body


def _figures(
    request: RiskRequest, assessment: RiskAssessment | None, report: dict[str, Any]
) -> RiskFigures:
    digest = sha256_value(report)
    if assessment is None:
        return RiskFigures(assessed_at=request.assessed_at, method=METHOD, report_sha256=digest)
    return RiskFigures(
        assessed_at=request.assessed_at,
        method=METHOD,
        k_anonymity=assessment.k,
        prosecutor_risk=_share(assessment.prosecutor.average),
        journalist_risk=_share(assessment.journalist.average),
        marketer_risk=_share(assessment.marketer),
        sample_uniqueness=_share(assessment.unique_share),
        population_uniqueness=_share(assessment.population_uniqueness.share),
        l_diversity=assessment.l,
        report_sha256=digest,
    )


def _share(value: float) -> float | None:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else None


def _finite(value: Any) -> Any:
    """The report as canonical JSON takes it: non-finite numbers become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
