"""Who acts. Every service call that touches data or governance takes an ``Actor``."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Actor:
    """The authenticated person (or the local operator) behind a call.

    ``user_id`` is None only for the local operator: someone with shell access to the hub's
    home and its master key, acting through the CLI without a token (initialisation,
    bootstrap of the first administrator, ingestion run by the hub's own staff).
    """

    user_id: str | None
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    project_id: str | None = None
    justification: str | None = None
    token_id: str | None = None
    session_id: str | None = None
    client_address: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.user_id is None

    def with_justification(self, justification: str | None) -> Actor:
        return replace(self, justification=justification)

    def for_project(self, project_id: str | None) -> Actor:
        return replace(self, project_id=project_id)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def operator(cls, justification: str | None = None) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(
            user_id=None,
            name=f"operator:{who}",
            roles=frozenset({"operator"}),
            justification=justification,
        )
