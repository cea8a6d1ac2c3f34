"""Separation of duties in the airlock.

* Requesting: a person the project's active permit names (``Permits.require_access``).
* Reviewing: two checkers (the ``checker`` role, hub-wide or on the project), neither the
  requester nor on the project's team, and not the same person.
* Consolidating: when both reviews agree, one of the two reviewers records the outcome; when
  they disagree, a third checker (independent of the project, the requester and both reviewers)
  decides and writes the resolution. An administrator cannot approve: approving is a disclosure
  judgement, the checker's.
* Releasing: the checker who consolidated the approval, or a data steward; never the requester
  or a member of the team.
"""

from __future__ import annotations

from collections.abc import Collection

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.disclosure.models import ReleaseRequestRow
from havre.governance.identity import (
    Role,
    require_any_role,
    require_distinct,
    require_not_member,
    require_person,
)


def require_requester(actor: Actor, row: ReleaseRequestRow, what: str) -> str:
    user_id = require_person(actor, what)
    if user_id != row.requester_user_id:
        raise PermissionDenied(
            f"Only the person who made release request {row.id} can {what}.",
            hint="a new request of your own can carry your outputs",
        )
    return user_id


def require_independent_checker(
    actor: Actor, row: ReleaseRequestRow, team: Collection[str], what: str
) -> str:
    """A checker for this project who is neither the requester nor on the project's team."""
    user_id = require_any_role(actor, (Role.CHECKER,), row.project_id)
    require_distinct(user_id, row.requester_user_id, f"request a release and {what} it")
    require_not_member(actor, team, what)
    return user_id


def require_releaser(actor: Actor, row: ReleaseRequestRow, team: Collection[str]) -> str:
    """The checker who consolidated the approval, or a data steward off the project."""
    user_id = require_person(actor, "release outputs")
    if user_id != row.decided_by:
        require_any_role(actor, (Role.DATA_STEWARD,), row.project_id)
    require_distinct(user_id, row.requester_user_id, "request a release and release it")
    require_not_member(actor, team, "release")
    return user_id
