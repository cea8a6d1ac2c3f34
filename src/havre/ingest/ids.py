"""Record ids of lake rows: unique, cheap, and not the source's own keys or line numbers.

An id is a keyed bijection of the source record's position (file, line, and which row of the
record): ``(pos * 8 + sub) * k1 + k2 mod p`` with p the largest prime below 2^63 and k1, k2
drawn per run. Distinct positions give distinct ids (no collision check needed), and an id says
nothing about where its record was in the delivery.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

PRIME = 2**63 - 25
MAX_SUB = 8


@dataclass(frozen=True)
class RecordIds:
    k1: int = field(default_factory=lambda: 1 + secrets.randbelow(PRIME - 1))
    k2: int = field(default_factory=lambda: secrets.randbelow(PRIME))

    def sql(self, position: str, sub: int = 0) -> str:
        """SQL: the id of row ``sub`` (0..7) made from the record at ``position`` (a BIGINT)."""
        if not 0 <= sub < MAX_SUB:
            raise ValueError("sub must be in 0..7")
        return (
            f"CAST(((CAST({position} AS HUGEINT) * {MAX_SUB} + {sub}) * {self.k1} + {self.k2}) "
            f"% {PRIME} + 1 AS BIGINT)"
        )
