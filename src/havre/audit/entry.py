"""What one audit entry says, and how it is hashed."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from havre.core.canonical import canonical_json
from havre.core.clock import isoformat

GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True)
class Target:
    """What an action was about: ``Target("project", "prj_...")``."""

    kind: str
    id: str | None = None

    @classmethod
    def hub(cls) -> Target:
        return cls("hub")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: dt.datetime
    actor_user_id: str | None
    actor_name: str
    actor_roles: tuple[str, ...]
    token_id: str | None
    session_id: str | None
    client_address: str | None
    project_id: str | None
    action: str
    target_kind: str
    target_id: str | None
    justification: str | None
    outcome: Outcome
    reason: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    entry_hash: str = ""

    def content(self) -> dict[str, Any]:
        """The fields the hash covers (everything but the hashes themselves)."""
        return {
            "seq": self.seq,
            "ts": isoformat(self.ts),
            "actor": {
                "user_id": self.actor_user_id,
                "name": self.actor_name,
                "roles": sorted(self.actor_roles),
                "token_id": self.token_id,
                "session_id": self.session_id,
                "client_address": self.client_address,
            },
            "project_id": self.project_id,
            "action": self.action,
            "target": {"kind": self.target_kind, "id": self.target_id},
            "justification": self.justification,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "details": self.details,
        }

    def canonical(self) -> bytes:
        return canonical_json(self.content())

    def compute_hash(self) -> str:
        return chain_hash(self.prev_hash, self.canonical())

    def to_dict(self) -> dict[str, Any]:
        return {**self.content(), "prev_hash": self.prev_hash, "entry_hash": self.entry_hash}


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()
