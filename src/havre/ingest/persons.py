"""Persons: hub pseudonyms and objections, computed over whole relations in SQL.

The pipeline registers ``hub_pads`` (the hub key, padded), ``optout_pads`` (one row per key
version of the opt-out register: ``key_version``, ``ipad``, ``opad``) and ``optout_register``
(``subject_key``, ``key_version``) before the reader runs.
"""

from __future__ import annotations

from havre.core.errors import IntegrityError
from havre.ingest.context import IngestContext
from havre.pseudo.hmac_sql import hmac_sql
from havre.pseudo.scheme import person_id_sql


def pseudonym_sql(message: str) -> str:
    """SQL: the hub pseudonym of a message (``hub_pads`` must be cross-joined as ``hp``)."""
    return hmac_sql(message, "hp")


def person_id_from(pseudonym: str) -> str:
    return person_id_sql(pseudonym)


def objectors(ctx: IngestContext, relation: str, message: str, where: str, out: str) -> str:
    """Create ``out`` (``msg``): the opt-out messages of ``relation`` found in the register.

    Each distinct message is hashed once per key version of the register, into a table, and
    only then matched: a hash computed in the join condition itself would be computed for
    every (person, objection) pair — 10^10 HMACs for a million persons and 10,000 objections.
    """
    hashed = f"{out}_hashed"
    ctx.execute(
        f"""
        CREATE TEMP TABLE {hashed} AS
        SELECT m.msg, p.key_version, {hmac_sql("m.msg", "p")} AS subject_key
        FROM (SELECT DISTINCT {message} AS msg FROM {relation} WHERE {where}) AS m
        CROSS JOIN optout_pads AS p
        """
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE {out} AS
        SELECT DISTINCT h.msg FROM {hashed} AS h
        JOIN optout_register AS r
          ON r.key_version = h.key_version AND r.subject_key = h.subject_key
        """
    )
    ctx.execute(f"DROP TABLE {hashed}")
    return out


def check_person_ids(ctx: IngestContext, relation: str, column: str = "person_id") -> None:
    """Two pseudonyms must never share a person_id (63 bits of them): fail loudly if they do."""
    clash = ctx.engine.scalar(
        f"SELECT count(*) FROM (SELECT {column} FROM {relation} WHERE {column} IS NOT NULL "
        f"GROUP BY {column} HAVING count(DISTINCT hub_pseudonym) > 1)"
    )
    if clash:
        raise IntegrityError(
            f"{clash} person_id value(s) derived from different hub pseudonyms collide.",
            hint="a 63-bit collision: report it; the ingest was stopped, nothing was written",
        )
