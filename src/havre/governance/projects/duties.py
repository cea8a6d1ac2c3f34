"""Who may take each step of a project, and the separation of duties between its team and
those who judge it. Each check raises ``PermissionDenied`` naming the rule."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.governance.identity import (
    Role,
    require_any_role,
    require_distinct,
    require_not_member,
    require_person,
)
from havre.governance.projects import store
from havre.governance.projects.base import Loaded
from havre.governance.projects.workflow import describe_steps


@contextlib.contextmanager
def naming_next_steps(loaded: Loaded) -> Iterator[None]:
    """A refusal also says what can be done next on the project, and by whom."""
    try:
        yield
    except PermissionDenied as error:
        steps = describe_steps(loaded.status, loaded.open_status)
        raise PermissionDenied(
            f"{error.message} Project {loaded.id} is {loaded.status.value}; allowed next "
            f"steps: {steps}.",
            hint=error.hint,
            **error.context,
        ) from None


def is_lead(actor: Actor, loaded: Loaded) -> bool:
    """The project lead, a co-lead named in the latest revision, or a holder of the
    project_lead role on this project."""
    if actor.user_id is None:
        return False
    if actor.user_id == loaded.project.lead_user_id:
        return True
    if actor.project_id == loaded.id and actor.has_role(Role.PROJECT_LEAD):
        return True
    return actor.user_id in store.document(loaded.latest).team_ids("project_lead")


def require_lead(actor: Actor, loaded: Loaded, what: str) -> str:
    with naming_next_steps(loaded):
        user_id = require_person(actor, what)
        if not is_lead(actor, loaded):
            raise PermissionDenied(
                f"Only the lead of project {loaded.id} (or a co-lead) can {what}.",
                hint="ask the project lead",
            )
        return user_id


def require_lead_or_admin(actor: Actor, loaded: Loaded, what: str) -> str:
    with naming_next_steps(loaded):
        user_id = require_person(actor, what)
        if not (is_lead(actor, loaded) or actor.has_role(Role.ADMIN)):
            raise PermissionDenied(
                f"Only the lead of project {loaded.id} or an administrator can {what}.",
                hint="ask the project lead or an administrator",
            )
        return user_id


def require_judge(
    actor: Actor,
    loaded: Loaded,
    roles: Collection[Role],
    team: Collection[str],
    what: str,
) -> str:
    """Someone holding one of ``roles`` who is not on the project's team and is not the
    person who applied (nobody approves their own project)."""
    with naming_next_steps(loaded):
        user_id = require_any_role(actor, roles, loaded.id)
        require_distinct(user_id, loaded.project.lead_user_id, f"{what} their own project")
        require_not_member(actor, team, what)
        return user_id
