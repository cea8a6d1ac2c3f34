"""Audit log: append in the caller's transaction, hash-chained, Merkle tree with signed
checkpoints; verification, proofs, search, export and archives (``AuditTrail``)."""

from havre.audit.actions import AuditAction, HubAction, register
from havre.audit.entry import AuditRecord, Outcome, Target
from havre.audit.log import AuditLog, PendingEntry
from havre.audit.scope import AuditScope, audited

__all__ = [
    "AuditAction",
    "AuditLog",
    "AuditRecord",
    "AuditScope",
    "HubAction",
    "Outcome",
    "PendingEntry",
    "Target",
    "audited",
    "register",
]
