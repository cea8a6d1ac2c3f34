"""Record ids of lake rows: unique, cheap, and not the source's own keys or line numbers.

An id is a keyed bijection of the source record's position (file, line, and which row of the
record): ``(x * k1 + k2) mod p + 1`` with ``x = pos * 8 + sub``, p the largest prime below 2^47
and k1, k2 drawn per run. Distinct positions give distinct ids (no collision check needed), and
an id says nothing about where its record was in the delivery.

The product is computed in 64-bit integers only: k1 is split into four 12-bit limbs and the
product reduced limb by limb (Horner), every intermediate staying below 2^61. 128-bit integer
arithmetic did the same ten times slower, and not every engine has it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

PRIME = 2**47 - 115
MAX_SUB = 8
LIMB_BITS = 12
LIMBS = 4  # 48 bits: every k1 < PRIME
# positions: file_id * 2^32 + line number (havre.ingest.resolve.position), so x < 2^47
LINE_BITS = 32
MAX_FILES = 1 << 12
MAX_LINES = (1 << LINE_BITS) - 1


@dataclass(frozen=True)
class RecordIds:
    k1: int = field(default_factory=lambda: 1 + secrets.randbelow(PRIME - 1))
    k2: int = field(default_factory=lambda: secrets.randbelow(PRIME))

    def sql(self, position: str, sub: int = 0) -> str:
        """SQL: the id of row ``sub`` (0..7) made from the record at ``position`` (a BIGINT)."""
        if not 0 <= sub < MAX_SUB:
            raise ValueError("sub must be in 0..7")
        x = f"({position} * {MAX_SUB} + {sub})"
        limbs = [(self.k1 >> (LIMB_BITS * i)) & ((1 << LIMB_BITS) - 1) for i in range(LIMBS)]
        product = f"({x} * {limbs[-1]} % {PRIME})"
        for limb in reversed(limbs[:-1]):
            product = f"(({product} * {1 << LIMB_BITS} + {x} * {limb}) % {PRIME})"
        return f"CAST(({product} + {self.k2}) % {PRIME} + 1 AS BIGINT)"

    def of(self, position: int, sub: int = 0) -> int:
        """The id ``sql`` computes, in Python (for tests)."""
        return ((position * MAX_SUB + sub) * self.k1 + self.k2) % PRIME + 1
