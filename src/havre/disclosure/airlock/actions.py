"""Audited actions of the airlock and of the privacy budget."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class ReleaseAction(StrEnum):
    CREATE = "release.create"
    CHECK = "release.check"
    SUBMIT = "release.submit"
    REVIEW = "release.review"
    CONSOLIDATE = "release.consolidate"
    APPROVE = "release.approve"
    RETURN = "release.return"
    REJECT = "release.reject"
    RELEASE = "release.release"
    WITHDRAW = "release.withdraw"
    DOWNLOAD = "release.download"
    INSPECT = "release.inspect"


@register
class PrivacyAction(StrEnum):
    SPEND = "dp.spend"
    BUDGET = "dp.budget"
