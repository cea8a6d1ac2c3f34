"""What the demo itself does that the audit log must record."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class DemoAction(StrEnum):
    # the operator reads two workspaces' pseudonym mappings with the hub's keys to count how
    # often the same integer is the same person; only counts leave the check
    LINKAGE_CHECK = "demo.linkage_check"
