"""Statuses of FHIR records: Patients first (pseudonym, objection), then what refers to them."""

from __future__ import annotations

from havre.ingest.context import IngestContext
from havre.ingest.fhir.resources import Resource
from havre.ingest.fields import problem_sql, value_sql
from havre.ingest.model import LOADED, OPTED_OUT, QUARANTINED, ResolvedTable
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
    position,
    reference_problem_sql,
    status_sql,
)
from havre.lake.engine import sql_literal
from havre.pseudo.scheme import SchemeId, nir_message_sql

SEX = "CASE r.gender WHEN 'male' THEN '1' WHEN 'female' THEN '2' END"


def reference_key(expr: str, kind: str) -> str:
    """SQL: the key a reference points at — ``Kind/<id>`` (relative, absolute or versioned)
    gives the id; ``urn:uuid:...`` (inside Bundles) is kept whole, to match a ``fullUrl``."""
    return (
        f"CASE WHEN {expr} LIKE 'urn:%' THEN {expr} "
        f"ELSE nullif(regexp_extract({expr}, '(?:^|/){kind}/([^/]+)', 1), '') END"
    )


def stage_resource(ctx: IngestContext, resource: Resource) -> str:
    """``chk_<Resource>``: the fields of every record of this type, and its first problem."""
    fields = resource.fields
    values = ", ".join(f"{value_sql(f, resource.extract[f.name])} AS {f.column}" for f in fields)
    columns = ", ".join(f.column for f in fields)
    ctx.execute(
        f"""
        CREATE TEMP TABLE chk_{resource.name} AS
        SELECT file_id, line_no, full_url, h1, h2, {columns},
               coalesce(line_problem, {problem_sql(fields, ctx.today_iso, expected_fields=None)})
                   AS problem
        FROM (
            SELECT file_id, line_no, full_url, h1, h2, line_problem, {values}
            FROM (
                SELECT *, CASE WHEN line_problem IS NULL
                               THEN from_json(line, '{resource.structure_sql}') END AS r
                FROM fhir_records WHERE table_name = '{resource.name}'
            )
        )
        """
    )
    return f"chk_{resource.name}"


def _columns(resource: Resource, alias: str = "c") -> str:
    return ", ".join(f"{alias}.{f.column}" for f in resource.fields)


def _best_status(alias: str) -> str:
    return (
        f"CASE WHEN bool_or({alias}.status = '{LOADED}') THEN '{LOADED}' "
        f"WHEN bool_or({alias}.status = '{OPTED_OUT}') THEN '{OPTED_OUT}' "
        f"ELSE '{QUARANTINED}' END"
    )


def resolve_patients(ctx: IngestContext, resource: Resource) -> ResolvedTable:
    chk = stage_resource(ctx, resource)
    flags = flag_duplicates(ctx, chk, ["id"])
    found = objectors(ctx, chk, "substr(ins, 1, 13)", "problem IS NULL", "patient_objectors")
    status, problem = status_sql(opted_out="o.msg IS NOT NULL", key_label="id")
    message = nir_message_sql("substr(r.ins, 1, 13)", "substr(r.birthDate, 1, 7)", SEX, "'1'")
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_Patient AS
        SELECT s.*, {person_id_from("s.hub_pseudonym")} AS person_id
        FROM (
            SELECT r.*,
                   CASE WHEN r.status = '{LOADED}' THEN {pseudonym_sql(message)} END
                       AS hub_pseudonym
            FROM (
                SELECT c.file_id, c.line_no, c.full_url, {position("c")} AS pos,
                       {_columns(resource)}, {status} AS status, {problem} AS problem
                FROM {chk} AS c
                LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
                LEFT JOIN {found} AS o ON o.msg = substr(c.ins, 1, 13)
            ) AS r
            CROSS JOIN hub_pads AS hp
        ) AS s
        """
    )
    check_person_ids(ctx, "res_Patient")
    link_persons(
        ctx, found, "res_Patient", "substr(r.ins, 1, 13)", "r.person_id", SchemeId.OPTOUT_NIR
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE patient_keys AS
        SELECT k.ref, {_best_status("k")} AS status, max(k.person_id) AS person_id,
               max(CASE WHEN k.status = '{LOADED}' THEN TRY_CAST(k.birthDate AS DATE) END)
                   AS born
        FROM (
            SELECT id AS ref, status, person_id, birthDate FROM res_Patient
            WHERE status <> 'duplicate'
            UNION ALL
            SELECT full_url, status, person_id, birthDate FROM res_Patient
            WHERE status <> 'duplicate' AND full_url IS NOT NULL
        ) AS k
        WHERE k.ref IS NOT NULL
        GROUP BY k.ref
        """
    )
    ctx.step("Patient: checked, de-duplicated, objectors removed, hub pseudonyms from the INS")
    return ResolvedTable("Patient", "res_Patient", resource.fields)


def resolve_plain(ctx: IngestContext, resource: Resource) -> ResolvedTable:
    """A resource about no patient (Organization)."""
    chk = stage_resource(ctx, resource)
    flags = flag_duplicates(ctx, chk, ["id"])
    status, problem = status_sql(key_label="id")
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_{resource.name} AS
        SELECT c.file_id, c.line_no, c.full_url, {position("c")} AS pos, {_columns(resource)},
               {status} AS status, {problem} AS problem
        FROM {chk} AS c
        LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
        """
    )
    return ResolvedTable(resource.name, f"res_{resource.name}", resource.fields)


def resolve_clinical(ctx: IngestContext, resource: Resource) -> ResolvedTable:
    """A resource about a patient (``subject``)."""
    chk = stage_resource(ctx, resource)
    flags = flag_duplicates(ctx, chk, ["id"])
    reference = reference_problem_sql(
        "pk.status",
        unknown=Reason.UNKNOWN_PERSON,
        field="subject",
        then=before_birth(resource.fields, "pk.born"),
    )
    status, problem = status_sql(
        reference_problem=f"CASE WHEN c.problem IS NULL THEN {reference} END",
        opted_out=f"pk.status = '{OPTED_OUT}'",
        key_label="id",
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_{resource.name} AS
        SELECT c.file_id, c.line_no, c.full_url, {position("c")} AS pos, {_columns(resource)},
               {status} AS status, {problem} AS problem, pk.person_id
        FROM {chk} AS c
        LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
        LEFT JOIN patient_keys AS pk ON pk.ref = {reference_key("c.subject", "Patient")}
        """
    )
    ctx.step(f"{resource.name}: checked, de-duplicated, linked to its Patient")
    return ResolvedTable(resource.name, f"res_{resource.name}", resource.fields)


def resolve_others(ctx: IngestContext, supported: set[str]) -> list[ResolvedTable]:
    """Records of types Havre does not map, and records that are not resources at all."""
    names = [
        str(row["table_name"])
        for row in ctx.engine.sql(
            "SELECT DISTINCT table_name FROM fhir_records ORDER BY table_name"
        ).to_pylist()
        if row["table_name"] not in supported
    ]
    tables = []
    for number, name in enumerate(names):
        relation = f"res_other_{number}"
        ctx.execute(
            f"""
            CREATE TEMP TABLE {relation} AS
            SELECT file_id, line_no, '{QUARANTINED}' AS status, line_problem AS problem
            FROM fhir_records WHERE table_name = {sql_literal(name)}
            """
        )
        tables.append(ResolvedTable(name, relation, ()))
    for row in ctx.engine.sql(
        "SELECT table_name, count(*) AS n FROM fhir_records "
        f"WHERE line_problem LIKE '{Reason.UNSUPPORTED_RESOURCE.value}%' GROUP BY table_name"
    ).to_pylist():
        ctx.unsupported[str(row["table_name"])] = int(row["n"])
    return tables
