"""Project pseudonyms and date offsets, derived from the project's key.

Three secrets are derived from the workspace key ``workspace/<project>`` (HMAC-SHA256 with a
fixed label each, so one leaking tells nothing of the others):

- the **pseudonym key**: ``HMAC(pseudonym key, hub pseudonym)`` orders persons; each gets a
  compact integer (1, 2, ...) in that order, persisted inside the encrypted workspace so a
  person keeps their number at every refresh; newcomers are numbered after the last one,
  again in HMAC order, which leaks nothing about them;
- the **shift key**: ``HMAC(shift key, hub pseudonym)`` gives one offset in days per person,
  in ``[-D, -1] ∪ [1, D]`` (never zero, so no date is left exact by chance);
- the **order salt**: a 63-bit number that breaks ties when records are renumbered.

The functions ending in ``_of`` compute the same values in Python, for tests (the SQL forms
are what the extraction runs).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import pyarrow as pa

from havre.pseudo.hmac_sql import hmac_hex, hmac_sql, pads_table

PSEUDONYM_LABEL = b"havre/workspace/project-pseudonym/v1"
SHIFT_LABEL = b"havre/workspace/date-shift/v1"
ORDER_LABEL = b"havre/workspace/record-order/v1"
MAPPING_SCHEMA = pa.schema(
    [
        pa.field("project_key", pa.string(), nullable=False),
        pa.field("project_person_id", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ProjectSecrets:
    """What the extraction needs from the project key (held in memory only)."""

    pseudonym_key: bytes
    shift_key: bytes
    order_salt: int
    shift_days: int
    key_version: int

    @classmethod
    def derive(cls, project_key: bytes, key_version: int, shift_days: int) -> ProjectSecrets:
        def label(what: bytes) -> bytes:
            return hmac.new(project_key, what, hashlib.sha256).digest()

        salt = int.from_bytes(label(ORDER_LABEL)[:8], "big") >> 1
        return cls(label(PSEUDONYM_LABEL), label(SHIFT_LABEL), salt, shift_days, key_version)

    def pseudonym_pads(self) -> pa.Table:
        return pads_table(self.pseudonym_key)

    def shift_pads(self) -> pa.Table:
        return pads_table(self.shift_key)

    # -- the same values in Python, for tests ------------------------------------------------
    def project_key_of(self, hub_pseudonym: str) -> str:
        return hmac_hex(self.pseudonym_key, hub_pseudonym)

    def shift_of(self, hub_pseudonym: str) -> int:
        value = int(hmac_hex(self.shift_key, hub_pseudonym)[:8], 16) % (2 * self.shift_days)
        return -(value + 1) if value < self.shift_days else value - self.shift_days + 1


def project_key_sql(hub_pseudonym: str, pads: str) -> str:
    """SQL: the HMAC that orders a person in the project (``pads`` cross-joined)."""
    return hmac_sql(hub_pseudonym, pads)


def shift_sql(shift_hex: str, shift_days: int) -> str:
    """SQL: the offset in days, never zero, from the hex HMAC ``shift_hex`` (same formula as
    ``shift_of``)."""
    span = 2 * shift_days
    value = f"CAST(CAST(('0x' || substr({shift_hex}, 1, 8)) AS UBIGINT) % {span} AS INTEGER)"
    return (
        f"CASE WHEN {value} < {shift_days} THEN -({value} + 1) ELSE {value} - {shift_days} + 1 END"
    )


def empty_mapping() -> pa.Table:
    return MAPPING_SCHEMA.empty_table()
