"""Audited actions of projects, permits, calls for projects and the public register."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class ProjectAction(StrEnum):
    CREATE = "project.create"
    UPDATE = "project.update"
    SUBMIT = "project.submit"
    COMPLETENESS = "project.completeness"
    OPINION = "project.opinion"
    DECIDE = "project.decide"
    WITHDRAW = "project.withdraw"
    CLOSE = "project.close"
    RESULTS = "project.results"


@register
class PermitAction(StrEnum):
    ISSUE = "permit.issue"
    ACTIVATE = "permit.activate"
    AMEND = "permit.amend"
    SUSPEND = "permit.suspend"
    REINSTATE = "permit.reinstate"
    EXPIRE = "permit.expire"
    REFRESH = "permit.refresh"


@register
class RiskAction(StrEnum):
    ASSESS = "risk.assess"


@register
class CallAction(StrEnum):
    CREATE = "call.create"


@register
class RegisterAction(StrEnum):
    EXPORT = "register.export"
