"""Audited actions on the opt-out register."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class OptOutAction(StrEnum):
    IMPORT = "optout.import"
    ADD = "optout.add"
    REMOVE = "optout.remove"
    LIST = "optout.list"
