"""Step 7: the auditor reads the audit log, signs a checkpoint and verifies the whole trail.

The checkpoint comes first, so the verification that follows checks its signature and Merkle
root too. The summary counts entries by room and outcome and lists every refusal; it never
shows more than the entries hold (no patient data is ever in them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from havre.audit import Outcome
from havre.audit.query import MAX_LIMIT, AuditQuery
from havre.demo.cast import Cast
from havre.hub import Hub

WHY = "Demo: summarize the audit log of the story for the report."


@dataclass(frozen=True)
class AuditFacts:
    entries: int
    by_room: dict[str, int]  # the first part of the action: project, workspace, release...
    by_outcome: dict[str, int]
    by_action: dict[str, int]
    refusals: list[dict[str, Any]]  # denied entries: seq, action, actor, reason
    checkpoint: dict[str, Any]  # the signed statement and its signature
    verification: dict[str, Any]
    public_keys: dict[str, Any]  # to check the checkpoint's signature outside the hub
    verified_by: str
    notes: list[str] = field(default_factory=list)


def verify_and_checkpoint(hub: Hub, cast: Cast) -> AuditFacts:
    auditor = cast.actor("auditor", None, WHY)
    trail = hub.audit_trail
    with hub.db.transaction() as session:
        size = hub.audit.size(session)
    found = trail.search(auditor, AuditQuery(limit=max(1, min(size, MAX_LIMIT))))
    notes = []
    if size > MAX_LIMIT:
        notes.append(f"the summary covers the latest {MAX_LIMIT:,} of {size:,} entries")
    actions = Counter(entry.action for entry in found)
    refusals = [
        {
            "seq": entry.seq,
            "time": entry.ts.isoformat(),
            "actor": entry.actor_name,
            "project_id": entry.project_id,
            "action": entry.action,
            "reason": entry.reason,
        }
        for entry in found
        if entry.outcome is Outcome.DENIED
    ]
    checkpoint = trail.checkpoint(cast.actor("auditor", None, "Demo: sign a checkpoint."))
    report = trail.verify()
    return AuditFacts(
        entries=report.entries,
        by_room=dict(sorted(Counter(a.split(".")[0] for a in actions.elements()).items())),
        by_outcome=dict(sorted(Counter(e.outcome.value for e in found).items())),
        by_action=dict(sorted(actions.items())),
        refusals=refusals,
        checkpoint=checkpoint.to_dict(),
        verification=report.to_dict(),
        public_keys=trail.public_keys(),
        verified_by=cast["auditor"].character.name,
        notes=notes,
    )
