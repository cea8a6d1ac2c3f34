"""Roles, where they apply (globally or on one project), what they need, and which ones
cannot be held together.

The rules here are pure: they take the grants a person holds and say whether one more is
allowed. The services in this room apply them at grant time and again at approval time.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from havre.core.errors import PermissionDenied, UsageError


class Role(StrEnum):
    RESEARCHER = "researcher"
    PROJECT_LEAD = "project_lead"
    DATA_STEWARD = "data_steward"
    REVIEWER = "reviewer"  # ethics committee
    CHECKER = "checker"  # outputs leaving through the airlock
    AUDITOR = "auditor"
    ADMIN = "admin"


# Team roles exist only on a project: holding "researcher" means working on that project.
PROJECT_ONLY: frozenset[Role] = frozenset({Role.RESEARCHER, Role.PROJECT_LEAD})
# Hub-wide functions: they make no sense on a single project.
GLOBAL_ONLY: frozenset[Role] = frozenset({Role.ADMIN, Role.AUDITOR, Role.DATA_STEWARD})
# Roles that see pseudonymized rows (or handle outputs computed from them): the SNDS rules
# ask for a training attestation and signed terms of use before such access is given.
DATA_ROLES: frozenset[Role] = frozenset(
    {Role.RESEARCHER, Role.PROJECT_LEAD, Role.DATA_STEWARD, Role.CHECKER}
)
# Granting these takes two administrators: one requests, another approves.
FOUR_EYES: frozenset[Role] = frozenset({Role.ADMIN, Role.DATA_STEWARD})
# Four eyes needs two administrators: until the hub has that many who can act, the local
# operator (who holds the master key anyway) seats them.
BOOTSTRAP_ADMINS = 2

# Global roles that cannot be held by the same person: the auditor watches the people who
# run the hub, so must not be one of them.
INCOMPATIBLE_GLOBAL: tuple[frozenset[Role], ...] = (
    frozenset({Role.AUDITOR, Role.ADMIN}),
    frozenset({Role.AUDITOR, Role.DATA_STEWARD}),
)
# On one project, whoever judges the project (ethics review, output checks) is not on its team.
PROJECT_JUDGES: frozenset[Role] = frozenset({Role.REVIEWER, Role.CHECKER})
PROJECT_TEAM: frozenset[Role] = frozenset({Role.RESEARCHER, Role.PROJECT_LEAD})

Held = tuple[Role, str | None]


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        accepted = ", ".join(r.value for r in Role)
        raise UsageError(f"Unknown role '{value}'.", hint=f"use one of: {accepted}") from None


def check_scope(role: Role, project_id: str | None) -> None:
    """A role is global or per project according to what it means."""
    if role in PROJECT_ONLY and project_id is None:
        raise UsageError(
            f"The role '{role}' is held on a project.", hint="give the project (--project P)"
        )
    if role in GLOBAL_ONLY and project_id is not None:
        raise UsageError(
            f"The role '{role}' is hub-wide and cannot be limited to a project.",
            hint="grant it without --project",
        )


def check_combination(held: Iterable[Held], role: Role, project_id: str | None) -> None:
    """Refuse a grant that would combine roles the separation of duties keeps apart."""
    held = list(held)
    if project_id is None:
        global_roles = {r for r, p in held if p is None}
        for pair in INCOMPATIBLE_GLOBAL:
            other = sorted((pair - {role}) & global_roles) if role in pair else []
            if other:
                raise PermissionDenied(
                    f"Separation of duties: the roles '{role}' and '{other[0]}' cannot be "
                    "held by the same person.",
                    hint=f"revoke '{other[0]}' first, or choose another person",
                )
        return  # a hub-wide checker or reviewer is kept off its own projects case by case
    on_project = {r for r, p in held if p == project_id}
    team = sorted(on_project & PROJECT_TEAM)
    if role in PROJECT_JUDGES and team:
        raise PermissionDenied(
            f"Separation of duties: a member of project {project_id}'s team ({team[0]}) "
            f"cannot be its {role}.",
            hint="choose someone outside the project's team",
        )
    judges = sorted(on_project & PROJECT_JUDGES)
    if role in PROJECT_TEAM and judges:
        raise PermissionDenied(
            f"Separation of duties: the {judges[0]} of project {project_id} cannot join its "
            f"team as {role}.",
            hint="revoke that role first, or choose another person",
        )
