"""Separation of duties: the checks every service calls before acting.

Each check raises ``PermissionDenied`` with a message that names the rule. They work on the
``Actor`` a service was given; the actor's roles are the person's hub-wide roles plus their
roles on ``actor.project_id`` (see ``IdentityService.actor_from_token``). The role-combination
rules (auditor and admin, a project's judges and its team) are applied at grant time in
``roles.check_combination``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.governance.identity.roles import GLOBAL_ONLY, Role


def require_person(actor: Actor, what: str) -> str:
    """A named person must do this: the local operator (shell access, no identity) cannot."""
    if actor.user_id is None:
        raise PermissionDenied(
            f"Only a named person can {what}; the local operator cannot.",
            hint="sign in (havre login) and pass --token",
        )
    return actor.user_id


def require_role(actor: Actor, role: Role | str, project_id: str | None = None) -> str:
    """The actor holds ``role`` (on ``project_id`` when given). Returns the user id."""
    return require_any_role(actor, (role,), project_id)


def require_any_role(
    actor: Actor, roles: Iterable[Role | str], project_id: str | None = None
) -> str:
    wanted = [Role(r) for r in roles]
    names = " or ".join(f"'{r}'" for r in wanted)
    where = f" on project {project_id}" if project_id is not None else ""
    user_id = require_person(actor, f"act as {names}{where}")
    # Without a project, an actor carries only hub-wide roles, which apply to every project.
    # Opened for another project, its roles mix that project's: they say nothing about this one.
    foreign = project_id is not None and actor.project_id not in (None, project_id)
    if foreign and not any(r in GLOBAL_ONLY and actor.has_role(r) for r in wanted):
        raise PermissionDenied(
            f"This request acts for project {actor.project_id}, not {project_id}.",
            hint=f"act for project {project_id} (--project {project_id})",
        )
    if not any(actor.has_role(r) for r in wanted):
        raise PermissionDenied(
            f"This needs the role {names}{where}; {actor.name} does not hold it.",
            hint="ask an administrator for the role, or ask someone who holds it",
        )
    return user_id


def require_not_member(
    actor: Actor, project_team_user_ids: Collection[str], what: str = "review"
) -> str:
    """Nobody judges a project they work on (ethics review, approval, output check)."""
    user_id = require_person(actor, what)
    if user_id in project_team_user_ids:
        raise PermissionDenied(
            f"Separation of duties: a member of the project's team cannot {what} it.",
            hint="someone outside the project's team must do it",
        )
    return user_id


def require_distinct(actor_user_id: str | None, other_user_id: str | None, what: str) -> None:
    """The same person cannot be on both sides (request and approve, submit and check)."""
    if actor_user_id is None:
        raise PermissionDenied(
            f"Only a named person can {what}; the local operator cannot.",
            hint="sign in (havre login) and pass --token",
        )
    if actor_user_id == other_user_id:
        raise PermissionDenied(
            f"Separation of duties: the same person cannot {what}.",
            hint="another authorized person must do it",
        )
