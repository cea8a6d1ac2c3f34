"""What a rule may know beyond the output itself: earlier releases, the population, and the
verdicts of the rules that ran before it in the policy's order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from havre.disclosure.releases import PopulationOverlap, PopulationRef, ReleaseRecord
from havre.disclosure.report import CellFlag, Status

if TYPE_CHECKING:
    from havre.disclosure.protection.suppress import ProtectionResult


@dataclass
class CheckContext:
    population: PopulationRef | None = None
    earlier_releases: tuple[ReleaseRecord, ...] = ()
    overlaps: Mapping[str, PopulationOverlap] = field(default_factory=dict)
    """Exact membership differences with earlier releases, by release id, when known."""
    suppress: bool = False
    """The caller asks for the protected table (primary + secondary suppression)."""
    flags: list[CellFlag] = field(default_factory=list)
    """Verdicts so far, appended by the runner after each rule."""
    protection: ProtectionResult | None = None
    notes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Reasons the output as a whole cannot leave, whatever is suppressed."""

    def failed_indices(self) -> set[int]:
        return {f.index for f in self.flags if f.status is Status.FAIL}

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def refuse(self, reason: str) -> None:
        if reason not in self.refusals:
            self.refusals.append(reason)
