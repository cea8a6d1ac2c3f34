"""Assessing the re-identification risk of a project's terms: when the application reaches
review, on demand (the review page, ``havre risk assess --project``), and at issue when the
terms changed since the last assessment (docs/risk.md, "In the permit review").

The assessment builds an extract in memory and can take a while, so it runs outside any
governance transaction (on SQLite one held that long would stall every writer of the audit
log); its record is then written in one audited transaction (``risk.assess``). Refusals and
failures before that are audited too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.governance.identity import Role, require_person
from havre.governance.projects import completeness, store
from havre.governance.projects.actions import RiskAction
from havre.governance.projects.application import Application, SensitiveAttribute
from havre.governance.projects.base import Loaded, ProjectsBase
from havre.governance.projects.completeness import CatalogFacts
from havre.governance.projects.duties import require_judge
from havre.governance.projects.issuing import build_permit
from havre.governance.projects.permit import (
    AccessLevel,
    IdentifierKind,
    Permit,
    RiskFigures,
)
from havre.governance.projects.risk import (
    PermitDraft,
    RiskRecord,
    RiskRequest,
    RiskTrigger,
    terms_sha256,
)
from havre.governance.projects.workflow import ReviewStatus

# Revisions whose record can still change: once a permit is issued on a revision, the
# assessment it was granted with stays as it was (the permit holds its figures and hash).
STORABLE = frozenset(
    {
        ReviewStatus.DRAFT,
        ReviewStatus.SUBMITTED,
        ReviewStatus.IN_REVIEW,
        ReviewStatus.AWAITING_AUTHORISATION,
        ReviewStatus.AUTHORISED,
    }
)
REVIEW_WHY = "Re-identification risk of the requested extract, for the review."
ISSUE_WHY = "Re-identification risk of the extract the permit being issued grants."


@dataclass(frozen=True)
class Terms:
    """What one assessment is made on, and where its record goes."""

    permit: Permit  # a draft permit: the terms the extract would be built from
    sensitive: tuple[SensitiveAttribute, ...]
    revision: int | None
    store_on: int | None  # the revision the record is stored on (None: returned only)
    document_sha256: str | None  # that revision's document when the terms were read
    draft: bool = False


@dataclass(frozen=True)
class _Base:
    """The terms a project stands on, read in one transaction."""

    lead: str
    app: Application | None  # None: the permit in force, as it is
    withheld: tuple[IdentifierKind, ...]
    revision: int | None
    storable: bool
    document_sha256: str | None
    permit: Permit | None
    sensitive: tuple[SensitiveAttribute, ...] = ()


def require_assessor(actor: Actor, loaded: Loaded, team: frozenset[str], draft: bool) -> bool:
    """The team (its submitted terms only), data stewards and reviewers. Returns whether the
    actor assesses as a member of the team."""
    user_id = require_person(actor, "assess the re-identification risk of a project")
    if actor.project_id not in (None, loaded.id):
        raise PermissionDenied(
            f"This request acts for project {actor.project_id}, not {loaded.id}.",
            hint=f"act for project {loaded.id} (--project {loaded.id})",
        )
    if user_id in team:
        if draft:
            # a draft sets any criteria: for someone without a permit it would count persons
            raise PermissionDenied(
                f"The team of project {loaded.id} can assess its submitted terms, not a draft.",
                hint="data stewards and reviewers try drafts; change the application instead",
            )
        return True
    if actor.has_role(Role.DATA_STEWARD) or actor.has_role(Role.REVIEWER):
        return False
    raise PermissionDenied(
        f"Only the team of project {loaded.id}, data stewards and reviewers can assess its "
        "re-identification risk.",
        hint="ask a data steward or a reviewer",
    )


class RiskMixin(ProjectsBase):
    def assess_risk(
        self,
        actor: Actor,
        project_id: str,
        *,
        draft: PermitDraft | None = None,
        target_k: int | None = None,
        target_risk: float | None = None,
    ) -> RiskRecord:
        """The risk of the extract the project's terms would produce (the revision under
        review, else the permit in force), or of a draft of them. Stored on a revision under
        review when no draft is given; always audited with a justification."""
        return self._assess(
            actor,
            project_id,
            RiskTrigger.ON_DEMAND,
            draft=draft,
            target_k=target_k,
            target_risk=target_risk,
        )

    # -- the steps that assess on their own ---------------------------------------------------
    def _assess_for_review(self, actor: Actor, project_id: str) -> None:
        """After completeness: the reviewer finds the assessment waiting. A failure is audited
        (``risk.assess``, error) and does not undo the step; it can be run again on demand."""
        if self.risk_assessor is None:
            return
        try:
            self._assess(
                actor.with_justification(actor.justification or REVIEW_WHY),
                project_id,
                RiskTrigger.REVIEW,
            )
        except Exception:  # audited by _assess; the step it follows is done and committed
            return

    def _risk_for_issue(
        self, actor: Actor, project_id: str, app: Application, facts: CatalogFacts
    ) -> RiskFigures | None:
        """The figures the permit about to be issued is granted with: the stored assessment's
        when it was made on the same terms, else a fresh one. None when the issue will be
        refused anyway (it says why in its own audit entry)."""
        if self.risk_assessor is None:
            return None
        granted = self._granted_team(project_id)
        with self.db.transaction() as session:
            loaded = self._load(session, project_id)
            try:
                require_judge(
                    actor, loaded, (Role.DATA_STEWARD,), loaded.team(granted), "issue a permit for"
                )
            except PermissionDenied:
                return None
            row = loaded.open
            authorised = row is not None and row.status == ReviewStatus.AUTHORISED
            if row is None or not authorised or row.document_sha256 != app.sha256:
                return None
            withheld = tuple(store.withheld(row))
            stored = (
                RiskRecord.from_stored(row.risk_assessment, loaded.id)
                if row.risk_assessment
                else None
            )
            lead, revision, digest = loaded.project.lead_user_id, row.number, row.document_sha256
        if completeness.data_problems(app.data, facts):
            return None
        permit = self._draft_permit(project_id, revision, lead, app, withheld, facts)
        sensitive = app.data.sensitive
        if stored is not None and stored.terms_sha256 == terms_sha256(permit, sensitive):
            return stored.figures
        record = self._assess(
            actor.with_justification(actor.justification or ISSUE_WHY),
            project_id,
            RiskTrigger.ISSUE,
            terms=Terms(permit, sensitive, revision, revision, digest),
        )
        return record.figures

    # -- the assessment -----------------------------------------------------------------------
    def _assess(
        self,
        actor: Actor,
        project_id: str,
        trigger: RiskTrigger,
        *,
        draft: PermitDraft | None = None,
        target_k: int | None = None,
        target_risk: float | None = None,
        terms: Terms | None = None,
    ) -> RiskRecord:
        assessor = self.risk_assessor
        if assessor is None:
            raise StateError(
                "This hub's project service has no risk assessor.",
                hint="open the hub (Hub.open) to get hub.projects with its assessor",
            )
        if not (actor.justification and actor.justification.strip()):
            with self._audited(actor, RiskAction.ASSESS, project_id, justification_required=True):
                pass  # pragma: no cover - refused before entering
        details: dict[str, Any] = {"trigger": trigger.value, "draft": draft is not None}
        try:
            if terms is None:
                terms = self._terms(actor, project_id, draft)
            details["revision"] = terms.revision
            result = assessor.assess(
                RiskRequest(terms.permit, self.now(), terms.sensitive, target_k, target_risk)
            )
        except Exception as error:
            self._record_risk_failure(actor, project_id, details, error)
            raise
        with self._audited(
            actor, RiskAction.ASSESS, project_id, justification_required=True
        ) as scope:
            record = RiskRecord(
                project_id=project_id,
                revision=terms.revision,
                trigger=trigger.value,
                draft=terms.draft,
                assessed_at=self.now(),
                assessed_by=actor.name,
                terms_sha256=terms_sha256(terms.permit, terms.sensitive),
                figures=result.figures,
                report=result.report,
            )
            stored = False
            if terms.store_on is not None:
                rows = store.revisions(scope.session, project_id, lock=True)
                row = next((r for r in rows if r.number == terms.store_on), None)
                # terms that changed meanwhile keep their own record; this one is audited only
                if (
                    row is not None
                    and row.document_sha256 == terms.document_sha256
                    and ReviewStatus(row.status) in STORABLE
                ):
                    row.risk_assessment = record.stored_form()
                    stored = True
            record = replace(record, stored=stored)
            figures = record.figures
            scope.details = {
                **details,
                "stored": stored,
                "terms_sha256": record.terms_sha256,
                "report_sha256": figures.report_sha256,
                "k": figures.k_anonymity,
                "prosecutor_risk": figures.prosecutor_risk,
                "journalist_risk": figures.journalist_risk,
                "marketer_risk": figures.marketer_risk,
                "population_uniqueness": figures.population_uniqueness,
                "l": figures.l_diversity,
            }
        return record

    def _terms(self, actor: Actor, project_id: str, draft: PermitDraft | None) -> Terms:
        base = self._base_terms(actor, project_id, draft is not None)
        if base.app is None:
            assert base.permit is not None
            return Terms(base.permit, base.sensitive, base.revision, None, None)
        app = base.app
        withheld = base.withheld
        if draft is not None:
            app = app.model_copy(update={"data": draft.apply(app.data)})
            withheld = (*withheld, *draft.withhold)
        facts = completeness.look_up(self.catalog, app.data)
        problems = completeness.data_problems(app.data, facts)
        if problems:
            what = "The permit draft" if draft is not None else f"Project {project_id}'s terms"
            raise UsageError(
                f"{what} cannot be assessed: " + "; ".join(problems),
                hint="complete the data request (tables, period, date policy, identifiers)",
                problems=problems,
            )
        assert base.revision is not None
        permit = self._draft_permit(project_id, base.revision, base.lead, app, withheld, facts)
        storable = base.storable and draft is None
        return Terms(
            permit,
            app.data.sensitive,
            base.revision,
            base.revision if storable else None,
            base.document_sha256 if storable else None,
            draft=draft is not None,
        )

    def _base_terms(self, actor: Actor, project_id: str, draft: bool) -> _Base:
        granted = self._granted_team(project_id)
        with self.db.transaction() as session:
            loaded = self._load(session, project_id)
            as_team = require_assessor(actor, loaded, loaded.team(granted), draft)
            row = loaded.open
            if row is not None and as_team and row.status == ReviewStatus.DRAFT:
                row = None  # the team sees what it submitted, not a draft being written
            lead = loaded.project.lead_user_id
            if row is not None:
                return _Base(
                    lead,
                    store.document(row),
                    tuple(store.withheld(row)),
                    row.number,
                    ReviewStatus(row.status) in STORABLE,
                    row.document_sha256,
                    None,
                )
            in_force = loaded.in_force
            if in_force is None:
                raise StateError(
                    f"Project {project_id} is {loaded.status.value}: it has no submitted terms "
                    "and no permit to assess.",
                    hint="submit the application first; data stewards and reviewers can "
                    "assess a draft",
                )
            permit = store.load_permit(in_force)
            source = next(r for r in loaded.revisions if r.number == permit.revision)
            document = store.document(source)
            return _Base(
                lead,
                document if draft else None,  # without a draft: the permit as it is
                tuple(store.withheld(source)),
                permit.revision,
                False,
                None,
                None if draft else permit,
                document.data.sensitive,
            )

    def _draft_permit(
        self,
        project_id: str,
        revision: int,
        lead: str,
        app: Application,
        withheld: tuple[IdentifierKind, ...],
        facts: CatalogFacts,
    ) -> Permit:
        """The permit these terms would give (numbering, dates and persons do not matter)."""
        now = self.now()
        # access level and duration do not change the extract; a draft may lack them
        complete = app.model_copy(
            update={
                "access_level": app.access_level or AccessLevel.ROW_LEVEL,
                "duration_months": app.duration_months or 12,
            }
        )
        return build_permit(
            project_id=project_id,
            version=1,
            revision=revision,
            app=complete,
            withheld=withheld,
            facts=facts,
            named_persons=[lead],
            issued_at=now,
            starts_at=now,
            risk=None,
        )

    def _record_risk_failure(
        self, actor: Actor, project_id: str, details: dict[str, Any], error: Exception
    ) -> None:
        """The ``denied``/``error`` entry of an assessment that failed before its record."""
        try:
            with self._audited(actor, RiskAction.ASSESS, project_id) as scope:
                scope.details = details
                raise error
        except Exception as raised:
            if raised is not error:
                raise
