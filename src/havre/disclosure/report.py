"""What a check says about an output: per cell, which rules it failed and why.

A report never carries the value of a cell that is not released: a failed cell has
``value = None`` and its reasons name the rule and its parameter, never the count or amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from havre.disclosure.cells import CellKey


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a status, not a password)
    FAIL = "fail"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class CellFlag:
    """One rule's verdict on one cell (``index`` is the cell's flat position in the output)."""

    index: int
    rule: str
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class CellResult:
    cell: CellKey
    status: Status
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    value: float | int | None
    margin: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell": list(self.cell),
            "margin": self.margin,
            "status": self.status.value,
            "rules": list(self.rules),
            "reasons": list(self.reasons),
            "value": self.value,
        }


@dataclass(frozen=True)
class Mitigation:
    """What was done to make the output releasable, and whether protection was proven."""

    suppression: bool = False
    primary_suppressed: int = 0
    secondary_suppressed: int = 0
    protected: bool | None = None
    lp_checks: int = 0
    rounding_base: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "suppression": self.suppression,
            "primary_suppressed": self.primary_suppressed,
            "secondary_suppressed": self.secondary_suppressed,
            "protected": self.protected,
            "lp_checks": self.lp_checks,
            "rounding_base": self.rounding_base,
        }


@dataclass(frozen=True)
class DisclosureReport:
    output: str  # "table", "regression", "survival", "histogram"
    status: Status
    policy: dict[str, Any]
    cells: tuple[CellResult, ...]
    description: dict[str, Any] = field(default_factory=dict)
    mitigation: Mitigation | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, int]:
        counts = {"cells": len(self.cells)}
        for status in Status:
            counts[status.value] = sum(1 for c in self.cells if c.status is status)
        return counts

    def failed(self, rule: str | None = None) -> list[CellKey]:
        return [
            c.cell
            for c in self.cells
            if c.status is Status.FAIL and (rule is None or rule in c.rules)
        ]

    def flagged(self, rule: str) -> list[CellKey]:
        """Cells a rule flagged (fail or review)."""
        return [c.cell for c in self.cells if rule in c.rules]

    def cell(self, key: Sequence[str | None]) -> CellResult:
        wanted = tuple(key)
        for result in self.cells:
            if result.cell == wanted:
                return result
        raise KeyError(f"no cell {wanted} in the report")

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "status": self.status.value,
            **self.description,
            "policy": self.policy,
            "parameters": self.policy.get("parameters", {}),
            "mitigation": self.mitigation.to_dict() if self.mitigation else None,
            "summary": self.summary(),
            "cells": [c.to_dict() for c in self.cells],
            "notes": list(self.notes),
        }


def combine_status(statuses: Sequence[Status]) -> Status:
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.REVIEW in statuses:
        return Status.REVIEW
    return Status.PASS
