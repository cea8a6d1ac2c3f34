"""Who may run ingestion and read the quarantine: the hub's data stewards, and the local
operator (who holds the master key anyway)."""

from __future__ import annotations

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied

STEWARD = "data_steward"


def require_steward(actor: Actor, what: str) -> None:
    if actor.is_operator or actor.has_role(STEWARD):
        return
    raise PermissionDenied(
        f"Only a data steward may {what}.",
        hint="ask an administrator for the data_steward role, or run it as the hub's operator",
    )
