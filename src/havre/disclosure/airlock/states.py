"""The states of a release request, the steps each allows, and who takes them.

```
pending ─submit─▶ submitted ─2 blind reviews─▶ reviewed ─consolidate─▶ approved ─release─▶ released
   ▲                                                         ├─▶ returned ─check (rework)─┐
   └─────────────────────────────────────────────────────────│────────────────────────────┘
                                                             └─▶ rejected
withdraw (the requester): from any state but released, rejected and withdrawn
```
"""

from __future__ import annotations

from enum import StrEnum

from havre.core.errors import StateError


class ReleaseState(StrEnum):
    PENDING = "pending"  # checked, not yet submitted (or reworked after a return)
    SUBMITTED = "submitted"  # waiting for two blind reviews
    REVIEWED = "reviewed"  # both reviews in: to be consolidated
    APPROVED = "approved"
    RETURNED = "returned"  # back to the requester for changes
    REJECTED = "rejected"  # final
    RELEASED = "released"  # final: files written, downloadable
    WITHDRAWN = "withdrawn"  # final


class Step(StrEnum):
    CHECK = "check"
    SUBMIT = "submit"
    REVIEW = "review"
    CONSOLIDATE = "consolidate"
    RELEASE = "release"
    WITHDRAW = "withdraw"
    DOWNLOAD = "download"


ALLOWED: dict[ReleaseState, tuple[Step, ...]] = {
    ReleaseState.PENDING: (Step.CHECK, Step.SUBMIT, Step.WITHDRAW),
    ReleaseState.SUBMITTED: (Step.REVIEW, Step.WITHDRAW),
    ReleaseState.REVIEWED: (Step.CONSOLIDATE, Step.WITHDRAW),
    ReleaseState.APPROVED: (Step.RELEASE, Step.WITHDRAW),
    ReleaseState.RETURNED: (Step.CHECK, Step.WITHDRAW),
    ReleaseState.REJECTED: (),
    ReleaseState.RELEASED: (Step.DOWNLOAD,),
    ReleaseState.WITHDRAWN: (),
}

WHO: dict[Step, str] = {
    Step.CHECK: "the requester (with a new output spec after a return)",
    Step.SUBMIT: "the requester",
    Step.REVIEW: "two independent checkers, each blind to the other",
    Step.CONSOLIDATE: "a checker who reviewed it; a third checker when the two disagree",
    Step.RELEASE: "the checker who consolidated it, or a data steward",
    Step.WITHDRAW: "the requester",
    Step.DOWNLOAD: "the project's named persons and data stewards",
}


def allowed_steps(state: ReleaseState) -> list[str]:
    return [step.value for step in ALLOWED[state]]


def require_step(request_id: str, state: ReleaseState, step: Step) -> None:
    """Refuse ``step`` when the request's state does not allow it, naming what does."""
    if step in ALLOWED[state]:
        return
    steps = ALLOWED[state]
    following = (
        "; ".join(f"{s.value} ({WHO[s]})" for s in steps) if steps else "none: this is final"
    )
    raise StateError(
        f"Release request {request_id} is {state.value}: it cannot be taken to '{step.value}'. "
        f"Next steps: {following}.",
        state=state.value,
        allowed=[s.value for s in steps],
    )
