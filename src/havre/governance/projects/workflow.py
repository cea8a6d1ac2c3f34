"""The states of a project and of each application revision, the steps between them, who
takes each step, and the refusal that names what can be done instead.

A project's first revision is its application: until its permit is activated, the project's
status is that revision's. Afterwards the project lives on (active, suspended, expired,
closed) and each amendment is a further revision going through the same review steps.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from havre.core.errors import StateError, UsageError

E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: str, what: str) -> E:
    """A value of a closed list given by a caller, or a ``UsageError`` listing the list."""
    try:
        return kind(str(value))
    except ValueError:
        accepted = ", ".join(member.value for member in kind)
        raise UsageError(f"Unknown {what} {value!r}.", hint=f"use one of: {accepted}") from None


class ReviewStatus(StrEnum):
    """Of one application revision."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_AUTHORISATION = "awaiting_authorisation"
    AUTHORISED = "authorised"
    PERMIT_ISSUED = "permit_issued"
    IN_FORCE = "in_force"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ProjectStatus(StrEnum):
    """Of a project, as the public register shows it."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_AUTHORISATION = "awaiting_authorisation"
    AUTHORISED = "authorised"
    PERMIT_ISSUED = "permit_issued"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Step(StrEnum):
    UPDATE = "update"
    SUBMIT = "submit"
    COMPLETENESS = "completeness"
    OPINION = "review"
    DECIDE = "decide"
    ISSUE = "issue"
    ACTIVATE = "activate"
    WITHDRAW = "withdraw"
    AMEND = "amend"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    CLOSE = "close"
    RESULTS = "results"
    REFRESH = "refresh"


WHO: dict[Step, str] = {
    Step.UPDATE: "project lead",
    Step.SUBMIT: "project lead",
    Step.COMPLETENESS: "data steward",
    Step.OPINION: "reviewer",
    Step.DECIDE: "data steward or admin",
    Step.ISSUE: "data steward",
    Step.ACTIVATE: "data steward or admin other than the issuer",
    Step.WITHDRAW: "project lead",
    Step.AMEND: "project lead",
    Step.SUSPEND: "data steward or admin",
    Step.REINSTATE: "data steward or admin",
    Step.CLOSE: "project lead or admin",
    Step.RESULTS: "project lead or admin",
    Step.REFRESH: "data steward",
}

# Steps open on a revision under review.
REVIEW_STEPS: dict[ReviewStatus, tuple[Step, ...]] = {
    ReviewStatus.DRAFT: (Step.UPDATE, Step.SUBMIT, Step.WITHDRAW),
    ReviewStatus.SUBMITTED: (Step.COMPLETENESS, Step.WITHDRAW),
    ReviewStatus.IN_REVIEW: (Step.OPINION, Step.WITHDRAW),
    ReviewStatus.AWAITING_AUTHORISATION: (Step.DECIDE, Step.WITHDRAW),
    ReviewStatus.AUTHORISED: (Step.ISSUE, Step.CLOSE),
    ReviewStatus.PERMIT_ISSUED: (Step.ACTIVATE, Step.CLOSE),
}
OPEN_REVIEW = frozenset(REVIEW_STEPS)

# Steps open on a project whose permit was activated once.
LIFE_STEPS: dict[ProjectStatus, tuple[Step, ...]] = {
    ProjectStatus.ACTIVE: (Step.AMEND, Step.REFRESH, Step.SUSPEND, Step.CLOSE),
    ProjectStatus.SUSPENDED: (Step.REINSTATE, Step.AMEND, Step.CLOSE),
    ProjectStatus.EXPIRED: (Step.AMEND, Step.CLOSE),
    ProjectStatus.CLOSED: (Step.RESULTS,),
}
LIVING = frozenset(LIFE_STEPS) - {ProjectStatus.CLOSED}
FINAL_NOTES: dict[ProjectStatus, str] = {
    ProjectStatus.REJECTED: "a rejected application is final; apply again as a new project",
    ProjectStatus.WITHDRAWN: "a withdrawn application is final; apply again as a new project",
}

PAST: dict[Step, str] = {
    Step.UPDATE: "edited",
    Step.SUBMIT: "submitted",
    Step.COMPLETENESS: "checked for completeness",
    Step.OPINION: "given an ethics opinion",
    Step.DECIDE: "decided on",
    Step.ISSUE: "issued a permit",
    Step.ACTIVATE: "activated",
    Step.WITHDRAW: "withdrawn",
    Step.AMEND: "amended",
    Step.SUSPEND: "suspended",
    Step.REINSTATE: "reinstated",
    Step.CLOSE: "closed",
    Step.RESULTS: "given results",
    Step.REFRESH: "moved to a newer data version",
}


def allowed_steps(status: ProjectStatus, open_review: ReviewStatus | None) -> list[Step]:
    """What can be done next: the open revision's review steps, then the project's own."""
    steps: list[Step] = []
    if open_review is not None:
        steps += REVIEW_STEPS.get(open_review, ())
    for step in LIFE_STEPS.get(status, ()):
        if step is Step.AMEND and open_review is not None:
            continue  # one amendment at a time
        if step not in steps:
            steps.append(step)
    return steps


def describe_steps(status: ProjectStatus, open_review: ReviewStatus | None) -> str:
    steps = allowed_steps(status, open_review)
    if not steps:
        return "none (" + FINAL_NOTES.get(status, "nothing can change it any more") + ")"
    return ", ".join(f"{step.value} ({WHO[step]})" for step in steps)


def refuse(
    project_id: str,
    step: Step,
    status: ProjectStatus,
    open_review: ReviewStatus | None,
    why: str | None = None,
) -> StateError:
    """The error for a step that does not fit the project's state."""
    state = (
        status.value
        if open_review is None or open_review.value == status.value
        else (f"{status.value}, with an amendment {open_review.value}")
    )
    message = f"Project {project_id} is {state}: it cannot be {PAST[step]}"
    message += f" ({why})." if why else "."
    allowed = describe_steps(status, open_review)
    return StateError(
        f"{message} Allowed next steps: {allowed}.",
        hint="'havre project show' gives the project's state and history",
        status=status.value,
        allowed=[s.value for s in allowed_steps(status, open_review)],
    )
