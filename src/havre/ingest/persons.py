"""Persons: hub pseudonyms and objections, computed over whole relations in SQL.

The pipeline registers ``hub_pads`` (the hub key, padded), ``optout_pads`` (one row per key
version of the opt-out register: ``key_version``, ``ipad``, ``opad``) and ``optout_register``
(``subject_key``, ``key_version``) before the reader runs. ``optout_pads`` holds the opt-out
key's active version even when no objection uses it yet, so that every loaded person can be
linked to the register as it will be (``link_persons``).
"""

from __future__ import annotations

from havre.core.errors import IntegrityError
from havre.ingest.context import IngestContext
from havre.ingest.model import LOADED
from havre.pseudo.hmac_sql import hmac_sql
from havre.pseudo.scheme import SchemeId, person_id_sql

LINK_ROWS = "optout_link_rows"


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
    The hashed messages stay in ``hashed_name(out)`` for ``link_persons``.
    """
    hashed = hashed_name(out)
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
    return out


def hashed_name(out: str) -> str:
    return f"{out}_hashed"


def link_persons(
    ctx: IngestContext, found: str, relation: str, message: str, person_id: str, scheme: SchemeId
) -> None:
    """Add the loaded persons of ``relation`` to the link to the opt-out register.

    ``found`` is what ``objectors`` returned for the same messages; ``message`` and
    ``person_id`` are SQL over ``relation`` aliased ``r``. The hashed messages are dropped.
    """
    hashed = hashed_name(found)
    ctx.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {LINK_ROWS} "
        "(person_id BIGINT, scheme VARCHAR, key_version INTEGER, subject_key VARCHAR)"
    )
    ctx.execute(
        f"""
        INSERT INTO {LINK_ROWS}
        SELECT DISTINCT {person_id}, '{scheme.value}', h.key_version, h.subject_key
        FROM {relation} AS r JOIN {hashed} AS h ON h.msg = {message}
        WHERE r.status = '{LOADED}'
        """
    )
    ctx.execute(f"DROP TABLE {hashed}")


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
