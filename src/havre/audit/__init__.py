"""Audit log: append in the caller's transaction, hash-chained; verification and proofs."""

from havre.audit.actions import HubAction, register
from havre.audit.entry import AuditRecord, Outcome, Target
from havre.audit.log import AuditLog
from havre.audit.scope import AuditScope, audited

__all__ = [
    "AuditLog",
    "AuditRecord",
    "AuditScope",
    "HubAction",
    "Outcome",
    "Target",
    "audited",
    "register",
]
