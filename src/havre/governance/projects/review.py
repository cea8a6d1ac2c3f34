"""The reviewers' side: completeness check, ethics opinion, authorisation.

Who: a data steward checks completeness; a reviewer (hub-wide, or appointed on this project)
gives the ethics opinion; a data steward or an administrator records the authorisation, and
cannot be the reviewer who gave the opinion. None of them may be on the project's team or be
its lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum

from havre.core.actor import Actor
from havre.core.errors import UsageError
from havre.core.hashing import sha256_text
from havre.governance.identity import Role, require_distinct
from havre.governance.projects import store
from havre.governance.projects.actions import ProjectAction
from havre.governance.projects.application import LegalRouteKind
from havre.governance.projects.assessing import RiskMixin
from havre.governance.projects.duties import require_judge
from havre.governance.projects.permit import IdentifierKind
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, Step, choice

MAX_TEXT = 8000


class Opinion(StrEnum):
    FAVOURABLE = "favourable"
    UNFAVOURABLE = "unfavourable"
    CHANGES_REQUESTED = "changes_requested"


class Decision(StrEnum):
    AUTHORISED = "authorised"
    REFUSED = "refused"


REFERENCE_OF: dict[LegalRouteKind, str] = {
    LegalRouteKind.CNIL_AUTHORISATION: "the CNIL decision number",
    LegalRouteKind.REFERENCE_METHODOLOGY: "the reference of the conformity declaration",
    LegalRouteKind.PERMANENT_ACCESS: "the text listing the body for permanent access",
}


def required_text(value: str | None, what: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise UsageError(f"{what} is required.")
    if len(text) > MAX_TEXT:
        raise UsageError(f"{what} is {len(text)} characters long; at most {MAX_TEXT}.")
    return text


class ReviewMixin(RiskMixin):
    def check_completeness(
        self, actor: Actor, project_id: str, complete: bool, comment: str | None = None
    ) -> None:
        """Complete: on to the ethics review, with the risk of the requested extract assessed
        for the reviewer. Incomplete: back to the applicant, with comments."""
        granted = self._granted_team(project_id)
        with self._audited(actor, ProjectAction.COMPLETENESS, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            require_judge(
                actor,
                loaded,
                (Role.DATA_STEWARD,),
                loaded.team(granted),
                "check the completeness of",
            )
            revision = loaded.require_open(Step.COMPLETENESS, ReviewStatus.SUBMITTED)
            text = " ".join((comment or "").split()) or None
            if not complete:
                text = required_text(comment, "A comment saying what is missing")
            status = ReviewStatus.IN_REVIEW if complete else ReviewStatus.DRAFT
            revision.status = status.value
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus(status.value).value
            outcome = "complete" if complete else "incomplete"
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "completeness",
                outcome,
                actor,
                self.now(),
                comment=text,
            )
            scope.details = {"revision": revision.number, "outcome": outcome}
        if complete:
            self._assess_for_review(actor, project_id)

    def give_opinion(
        self, actor: Actor, project_id: str, opinion: Opinion | str, text: str
    ) -> None:
        """The ethics opinion. Changes requested: back to draft with the text. Unfavourable:
        the application (or amendment) is rejected; the hub issues no permit against it."""
        opinion = choice(Opinion, opinion, "opinion")
        granted = self._granted_team(project_id)
        with self._audited(actor, ProjectAction.OPINION, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            require_judge(actor, loaded, (Role.REVIEWER,), loaded.team(granted), "review")
            revision = loaded.require_open(Step.OPINION, ReviewStatus.IN_REVIEW)
            body = required_text(text, "The text of the opinion")
            status = {
                Opinion.FAVOURABLE: ReviewStatus.AWAITING_AUTHORISATION,
                Opinion.CHANGES_REQUESTED: ReviewStatus.DRAFT,
                Opinion.UNFAVOURABLE: ReviewStatus.REJECTED,
            }[opinion]
            revision.status = status.value
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus(status.value).value
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "opinion",
                opinion.value,
                actor,
                self.now(),
                comment=body,
            )
            scope.details = {
                "revision": revision.number,
                "opinion": opinion.value,
                "text_sha256": sha256_text(body),
            }

    def decide(
        self,
        actor: Actor,
        project_id: str,
        decision: Decision | str,
        *,
        reference: str,
        decided_on: dt.date,
        withhold: Iterable[IdentifierKind | str] = (),
        comment: str | None = None,
    ) -> None:
        """Record the authorisation (or refusal) with its reference and date. ``withhold``
        lists requested potential identifiers the authorisation does not grant."""
        decision = choice(Decision, decision, "decision")
        granted = self._granted_team(project_id)
        with self._audited(actor, ProjectAction.DECIDE, project_id) as scope:
            loaded = self._load(scope.session, project_id)
            user_id = require_judge(
                actor, loaded, (Role.DATA_STEWARD, Role.ADMIN), loaded.team(granted), "decide on"
            )
            revision = loaded.require_open(Step.DECIDE, ReviewStatus.AWAITING_AUTHORISATION)
            opinions = [
                s
                for s in store.steps(scope.session, loaded.id)
                if s.revision == revision.number and s.step == "opinion"
            ]
            if opinions:
                require_distinct(
                    user_id,
                    opinions[-1].actor_user_id,
                    "give the ethics opinion and record the authorisation",
                )
            app = store.document(revision)
            route = app.legal_route.kind if app.legal_route else LegalRouteKind.CNIL_AUTHORISATION
            ref = required_text(reference, f"The reference ({REFERENCE_OF[route]})")[:200]
            if decided_on > self.now().date():
                raise UsageError(f"The decision date {decided_on} is in the future.")
            kinds = sorted({choice(IdentifierKind, k, "potential identifier") for k in withhold})
            requested = set(app.data.requested_kinds())
            stray = [k.value for k in kinds if k not in requested]
            if stray:
                raise UsageError(
                    f"Cannot withhold {', '.join(stray)}: not requested by the application.",
                    hint=f"requested: {', '.join(sorted(k.value for k in requested)) or 'none'}",
                )
            status = (
                ReviewStatus.AUTHORISED
                if decision is Decision.AUTHORISED
                else ReviewStatus.REJECTED
            )
            revision.status = status.value
            revision.withheld = store.json_list([k.value for k in kinds])
            if revision.kind == store.INITIAL:
                loaded.project.status = ProjectStatus(status.value).value
            store.add_step(
                scope.session,
                loaded.project,
                revision.number,
                "decision",
                decision.value,
                actor,
                self.now(),
                comment=comment and " ".join(comment.split())[:MAX_TEXT],
                reference=ref,
                decided_on=decided_on,
            )
            scope.details = {
                "revision": revision.number,
                "decision": decision.value,
                "route": route.value,
                "decided_on": decided_on,
                "withheld": [k.value for k in kinds],
            }
