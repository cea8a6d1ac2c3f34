"""The checkers' side: two blind reviews of a submitted request, then their consolidation.

Each checker reviews every output of the round (approve, return or reject, with a comment
when not approving) without seeing the other's review: ``show`` hides it until both are in.
The round is then consolidated: when the two agree, one of them records the outcome; when they
disagree, a third independent checker decides and writes the resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from havre.audit import Outcome
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.errors import PermissionDenied, StateError, UsageError
from havre.core.ids import new_id
from havre.disclosure.airlock.actions import ReleaseAction
from havre.disclosure.airlock.base import AirlockBase, release_target
from havre.disclosure.airlock.duties import require_independent_checker
from havre.disclosure.airlock.states import ReleaseState, Step, require_step
from havre.disclosure.airlock.views import ReleaseView
from havre.disclosure.models import ReleaseConsolidationRow, ReleaseReviewRow

MIN_RESOLUTION = 10


class Verdict(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"


class Decision(StrEnum):
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"


SEVERITY = {Verdict.APPROVE: 0, Verdict.RETURN: 1, Verdict.REJECT: 2}
DECISION_OF = {
    Verdict.APPROVE: Decision.APPROVED,
    Verdict.RETURN: Decision.RETURNED,
    Verdict.REJECT: Decision.REJECTED,
}
ACTION_OF = {
    Decision.APPROVED: ReleaseAction.APPROVE,
    Decision.RETURNED: ReleaseAction.RETURN,
    Decision.REJECTED: ReleaseAction.REJECT,
}


def parse_verdict(value: str) -> Verdict:
    try:
        return Verdict(value.strip().lower())
    except ValueError:
        raise UsageError(
            f"Unknown verdict {value!r}.", hint="use approve, return or reject"
        ) from None


def parse_decision(value: str) -> Decision:
    try:
        return Decision(value.strip().lower())
    except ValueError:
        raise UsageError(
            f"Unknown outcome {value!r}.", hint="use approved, returned or rejected"
        ) from None


class ReviewingMixin(AirlockBase):
    def review(
        self,
        actor: Actor,
        request_id: str,
        verdict: str,
        *,
        outputs: Mapping[str, str] | None = None,
        notes: Mapping[str, str] | None = None,
        comment: str | None = None,
    ) -> ReleaseView:
        """One checker's blind review: ``verdict`` for every output, unless ``outputs`` gives
        another for some (by name); ``notes`` are comments per output."""
        default = parse_verdict(verdict)
        chosen = {name: parse_verdict(v) for name, v in (outputs or {}).items()}
        notes = dict(notes or {})
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        with self.audited_request(actor, ReleaseAction.REVIEW, request_id, project_id) as scope:
            session = scope.session
            row = self.load(session, request_id, lock=True)
            user_id = require_independent_checker(actor, row, team, "review")
            require_step(row.id, ReleaseState(row.state), Step.REVIEW)
            self.require_live(project_id, session)
            existing = self.reviews(session, row.id, row.round)
            if any(r.checker_user_id == user_id for r in existing):
                raise StateError(
                    f"You already reviewed round {row.round} of release request {row.id}: a "
                    "second, independent checker must review it.",
                )
            names = [o.name for o in self.outputs(session, row.id)]
            unknown = sorted((set(chosen) | set(notes)) - set(names))
            if unknown:
                raise UsageError(
                    f"Release request {row.id} has no output {', '.join(unknown)}.",
                    hint=f"its outputs are: {', '.join(names)}",
                )
            verdicts = {n: chosen.get(n, default) for n in names}
            overall = max(verdicts.values(), key=SEVERITY.__getitem__)
            if overall is not Verdict.APPROVE and not (comment or "").strip() and not notes:
                raise UsageError(
                    "Say why outputs are returned or rejected (--comment, or a note per output).",
                    hint="the requester reads it to rework the outputs",
                )
            session.add(
                ReleaseReviewRow(
                    id=new_id("rvw"),
                    request_id=row.id,
                    round=row.round,
                    checker_user_id=user_id,
                    verdict=overall.value,
                    verdicts=canonical_text(
                        {
                            n: {"verdict": v.value, "comment": notes.get(n)}
                            for n, v in verdicts.items()
                        }
                    ),
                    comment=(comment or "").strip() or None,
                    created_at=self.now(),
                )
            )
            if len(existing) + 1 >= 2:
                row.state = ReleaseState.REVIEWED.value
                row.reviewed_at = self.now()
            row.updated_at = self.now()
            session.flush()
            scope.details = {
                "round": row.round,
                "state": row.state,
                "reviews": len(existing) + 1,
                "verdicts": {v.value: sum(1 for x in verdicts.values() if x is v) for v in Verdict},
            }
            return self.view(session, row, actor, team)

    def consolidate(
        self,
        actor: Actor,
        request_id: str,
        outcome: str | None = None,
        resolution: str | None = None,
    ) -> ReleaseView:
        """The round's outcome: the agreed verdict (recorded by one of the two reviewers), or,
        when they disagree, a third checker's decision with its written resolution."""
        wanted = parse_decision(outcome) if outcome is not None else None
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        with self.audited_request(
            actor, ReleaseAction.CONSOLIDATE, request_id, project_id
        ) as scope:
            session = scope.session
            row = self.load(session, request_id, lock=True)
            user_id = require_independent_checker(actor, row, team, "consolidate")
            require_step(row.id, ReleaseState(row.state), Step.CONSOLIDATE)
            self.require_live(project_id, session)
            reviews = self.reviews(session, row.id, row.round)
            reviewers = {r.checker_user_id for r in reviews}
            said = sorted({Verdict(r.verdict) for r in reviews}, key=SEVERITY.__getitem__)
            agreed = len(said) == 1
            text = (resolution or "").strip() or None
            if agreed:
                decision = DECISION_OF[said[0]]
                if user_id not in reviewers:
                    raise PermissionDenied(
                        "The two checkers agree: one of them records the outcome.",
                        hint="ask one of the reviewers to consolidate",
                    )
                if wanted is not None and wanted is not decision:
                    raise UsageError(
                        f"Both checkers said {said[0].value}: the outcome is {decision.value}, "
                        f"not {wanted.value}.",
                        hint="a different outcome needs a new round: return the request",
                    )
            else:
                if user_id in reviewers:
                    raise PermissionDenied(
                        "The two checkers disagree "
                        f"({' and '.join(v.value for v in said)}): a third checker, who did "
                        "not review this round, decides.",
                        hint="ask another checker off the project to consolidate",
                    )
                if wanted is None:
                    raise UsageError(
                        "The two checkers disagree: give the outcome (approved, returned or "
                        "rejected)."
                    )
                if text is None or len(text) < MIN_RESOLUTION:
                    raise UsageError(
                        "The two checkers disagree: write the resolution (--resolution), how "
                        "the disagreement was settled.",
                    )
                decision = wanted
            now = self.now()
            session.add(
                ReleaseConsolidationRow(
                    id=new_id("cns"),
                    request_id=row.id,
                    round=row.round,
                    by_user_id=user_id,
                    outcome=decision.value,
                    agreed=agreed,
                    resolution=text,
                    created_at=now,
                )
            )
            row.state = decision.value
            row.decided_at = row.updated_at = now
            row.decided_by = user_id
            session.flush()
            facts = {
                "round": row.round,
                "outcome": decision.value,
                "agreed": agreed,
                "verdicts": [v.value for v in said],
            }
            scope.details = facts
            self.audit.append(
                session,
                actor,
                ACTION_OF[decision],
                release_target(row.id),
                Outcome.OK,
                details=facts,
                project_id=project_id,
            )
            view = self.view(session, row, actor, team)
        if decision is Decision.REJECTED:
            self._drop_candidates(project_id, request_id)
        return view

    def approve(self, actor: Actor, request_id: str, comment: str | None = None) -> ReleaseView:
        return self.consolidate(actor, request_id, Decision.APPROVED.value, comment)

    def return_request(
        self, actor: Actor, request_id: str, comment: str | None = None
    ) -> ReleaseView:
        return self.consolidate(actor, request_id, Decision.RETURNED.value, comment)

    def reject(self, actor: Actor, request_id: str, comment: str | None = None) -> ReleaseView:
        return self.consolidate(actor, request_id, Decision.REJECTED.value, comment)

    def _drop_candidates(self, project_id: str, request_id: str) -> None:
        with self.db.transaction() as session:
            ids = [o.id for o in self.outputs(session, request_id, current=False)]
        self.files.remove_candidates(project_id, request_id)
        self.files.remove_persons(project_id, ids)
