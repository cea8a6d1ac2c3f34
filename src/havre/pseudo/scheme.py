"""Pseudonym schemes: the versioned recipes that turn a person's identity into a hub pseudonym.

A scheme names its inputs and normalization; together with the key name and key version it is
stored with every data version, so the lake can be re-keyed (new key version, new scheme
version) and a pseudonym can always be traced to the recipe that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

HUB_KEY = "pseudo/hub"
OPTOUT_KEY = "pseudo/optout"

# 63 bits: the OMOP person_id is a signed BIGINT and must stay positive.
PERSON_ID_MASK = (1 << 63) - 1


class SchemeId(StrEnum):
    """Recipes. The message each one hashes is written in its comment."""

    # NIR13|YYYY-MM|S|R — NIR without key, birth year-month, sex 1/2, rank of birth (1 in FHIR)
    NIR = "hmac-sha256:nir13-birthym-sex-rank:v1"
    # omop|<source name>|<person_id> — an OMOP source's own pseudonym, scoped by the source
    OMOP = "hmac-sha256:omop-source-person:v1"
    # NIR13 alone, under the opt-out key: the register has no birth date or sex
    OPTOUT_NIR = "hmac-sha256:optout-nir13:v1"
    # omop|<source name>|<person_id>, under the opt-out key
    OPTOUT_OMOP = "hmac-sha256:optout-omop-source-person:v1"


@dataclass(frozen=True)
class PseudonymScheme:
    scheme_id: SchemeId
    key_name: str
    key_version: int

    @property
    def label(self) -> str:
        return f"{self.scheme_id.value}@{self.key_name}:{self.key_version}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.scheme_id.value, "key": self.key_name, "key_version": self.key_version}


def nir_message_sql(nir13: str, birth_ym: str, sex: str, rank: str) -> str:
    """SQL: the message of the NIR scheme from normalized VARCHAR expressions."""
    return f"({nir13} || '|' || {birth_ym} || '|' || {sex} || '|' || {rank})"


def omop_message_sql(source_name: str, person_id: str) -> str:
    """SQL: the message of the OMOP scheme; ``source_name`` and ``person_id`` are SQL
    expressions, the id written as its integer's digits (``007`` is 7; NULL if no integer)."""
    return f"('omop|' || {source_name} || '|' || CAST(TRY_CAST({person_id} AS BIGINT) AS VARCHAR))"


def nir_message(nir13: str, birth_ym: str, sex: str, rank: int = 1) -> str:
    return f"{nir13.upper()}|{birth_ym}|{sex}|{rank}"


def omop_message(source_name: str, person_id: str | int) -> str:
    """The message of the OMOP scheme, the id written as ``omop_message_sql`` writes it."""
    return f"omop|{source_name}|{int(person_id)}"


def person_id_sql(pseudonym: str) -> str:
    """SQL: the OMOP ``person_id`` — the pseudonym's first 64 bits with the sign bit cleared.

    The full pseudonym is kept next to it for linkage; ingestion checks the derived ids are
    unique (a collision fails the ingest rather than merging two persons).
    """
    # the remainder by 2^63 clears the sign bit as a mask would; unlike a bitwise and, it
    # also holds on Spark, where the 64-bit value is a DECIMAL(20, 0)
    return (
        f"CAST(CAST(('0x' || substr({pseudonym}, 1, 16)) AS UBIGINT) "
        f"% CAST({PERSON_ID_MASK + 1} AS UBIGINT) AS BIGINT)"
    )


def person_id_of(pseudonym: str) -> int:
    return int(pseudonym[:16], 16) & PERSON_ID_MASK
