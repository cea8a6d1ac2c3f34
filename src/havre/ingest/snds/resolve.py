"""Persons of an SNDS delivery: checked, de-duplicated, objectors found, hub pseudonyms
computed once; then the small table every other record is joined to while it is staged."""

from __future__ import annotations

from havre.ingest.context import IngestContext
from havre.ingest.fields import Field, Kind
from havre.ingest.model import LOADED, OPTED_OUT, QUARANTINED, ResolvedTable, StageJoin
from havre.ingest.persons import (
    check_person_ids,
    link_persons,
    objectors,
    person_id_from,
    pseudonym_sql,
)
from havre.ingest.reasons import Reason
from havre.ingest.resolve import (
    before_birth,
    flag_duplicates,
    key_sql,
    position,
    reference_problem_sql,
    status_sql,
)
from havre.ingest.snds.tables import table_fields
from havre.pseudo.nir import NIR_PATTERN
from havre.pseudo.scheme import SchemeId, nir_message_sql

NIR13 = "substr(c.BEN_NIR, 1, 13)"
RANK = "TRY_CAST(c.BEN_RNG_GEM AS INTEGER)"


def _columns(fields: tuple[Field, ...], alias: str = "c") -> str:
    return ", ".join(f"{alias}.{f.column}" for f in fields)


def _parent_status(prefix: str) -> str:
    """SQL: best status of a parent key among its records (loaded > opted out > quarantined)."""
    return (
        f"CASE WHEN bool_or({prefix}status = '{LOADED}') THEN '{LOADED}' "
        f"WHEN bool_or({prefix}status = '{OPTED_OUT}') THEN '{OPTED_OUT}' "
        f"ELSE '{QUARANTINED}' END"
    )


def resolve_persons(ctx: IngestContext) -> ResolvedTable:
    fields = table_fields("IR_BEN_R")
    flags = flag_duplicates(ctx, "chk_IR_BEN_R", key_sql(fields, ["BEN_NIR", "BEN_RNG_GEM"]))
    found = objectors(
        ctx, "chk_IR_BEN_R", "substr(BEN_NIR, 1, 13)", "problem IS NULL", "ben_objectors"
    )
    status, problem = status_sql(opted_out="o.msg IS NOT NULL", key_label="BEN_NIR")
    birth_ym = (
        "CAST(TRY_CAST(r.BEN_NAI_ANN AS INTEGER) AS VARCHAR) || '-' || "
        "lpad(CAST(TRY_CAST(r.BEN_NAI_MOI AS INTEGER) AS VARCHAR), 2, '0')"
    )
    message = nir_message_sql(
        "substr(r.BEN_NIR, 1, 13)",
        birth_ym,
        "r.BEN_SEX_COD",
        "CAST(TRY_CAST(r.BEN_RNG_GEM AS INTEGER) AS VARCHAR)",
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_IR_BEN_R AS
        SELECT s.*, {person_id_from("s.hub_pseudonym")} AS person_id
        FROM (
            SELECT r.*,
                   CASE WHEN r.status = '{LOADED}' THEN {pseudonym_sql(message)} END
                       AS hub_pseudonym
            FROM (
                SELECT c.file_id, c.line_no, {position("c")} AS pos, {_columns(fields)},
                       {status} AS status, {problem} AS problem
                FROM chk_IR_BEN_R AS c
                LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
                LEFT JOIN {found} AS o ON o.msg = {NIR13}
            ) AS r
            CROSS JOIN hub_pads AS hp
        ) AS s
        """
    )
    ctx.execute("DROP TABLE chk_IR_BEN_R")  # res_IR_BEN_R holds all of it, statuses too
    check_person_ids(ctx, "res_IR_BEN_R")
    link_persons(
        ctx, found, "res_IR_BEN_R", "substr(r.BEN_NIR, 1, 13)", "r.person_id", SchemeId.OPTOUT_NIR
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE person_keys AS
        SELECT {NIR13} AS nir13, {RANK} AS rnk, {_parent_status("c.")} AS status,
               max(c.person_id) AS person_id,
               max(CASE WHEN c.status = '{LOADED}' THEN make_date(
                   TRY_CAST(c.BEN_NAI_ANN AS INTEGER), TRY_CAST(c.BEN_NAI_MOI AS INTEGER), 1)
                   END) AS born
        FROM res_IR_BEN_R AS c
        WHERE c.BEN_NIR IS NOT NULL AND regexp_matches(c.BEN_NIR, '{NIR_PATTERN}')
          AND c.status <> 'duplicate'
        GROUP BY 1, 2
        """
    )
    ctx.step("IR_BEN_R: checked, de-duplicated, objectors removed, hub pseudonyms computed")
    return ResolvedTable("IR_BEN_R", "res_IR_BEN_R", fields)


def person_join(fields: tuple[Field, ...]) -> StageJoin:
    """A record naming a person (BEN_NIR, BEN_RNG_GEM), joined to the persons while staged."""
    reference = reference_problem_sql(
        "pk.status",
        unknown=Reason.UNKNOWN_PERSON,
        field="BEN_NIR",
        then=before_birth(fields, "pk.born", alias="s", typed=True),
    )
    return StageJoin(
        clause=(
            "LEFT JOIN person_keys AS pk ON pk.nir13 = substr(s.BEN_NIR, 1, 13) "
            "AND pk.rnk = TRY_CAST(s.BEN_RNG_GEM AS INTEGER)"
        ),
        reference=reference,
        opted_out=f"pk.status = '{OPTED_OUT}'",
        columns={"person_id": "pk.person_id"},
        named=("BEN_NIR", *(f.name for f in fields if f.kind is Kind.DATE)),
    )
