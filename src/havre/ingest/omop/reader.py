"""The OMOP reader: CSV files of an OMOP CDM v5.4 database (docs/sources.md).

The source's ``person_id`` is its own pseudonym: the hub pseudonym is keyed on the source's
name and that id (``--name``). Record ids are regenerated and foreign keys to persons and
visits remapped; direct identifiers an export may carry (exact birth date, addresses,
coordinates, source person value) are not read.
"""

from __future__ import annotations

from pathlib import Path

from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.core.errors import DataValidationError
from havre.ingest.context import IngestContext, Progress
from havre.ingest.delimited import DelimitedFormat, header_positions, stage_delimited
from havre.ingest.discovery import delivery_sha256, hash_files
from havre.ingest.model import (
    LOADED,
    OPTED_OUT,
    QUARANTINED,
    Delivery,
    ResolvedTable,
    SourceFile,
)
from havre.ingest.omop.tables import (
    DROPPED,
    NOT_READ,
    PERSON_TABLES,
    fields,
    omop_table_names,
    primary_key,
)
from havre.ingest.persons import (
    check_person_ids,
    link_persons,
    objectors,
    person_id_from,
    pseudonym_sql,
)
from havre.ingest.readers import register_reader
from havre.ingest.reasons import Reason
from havre.ingest.resolve import (
    before_birth,
    flag_duplicates,
    key_sql,
    position,
    reference_problem_sql,
    status_sql,
)
from havre.lake.engine import sql_literal
from havre.pseudo.scheme import SchemeId, omop_message_sql

FORMAT = DelimitedFormat(delimiter=",", quoted=True, strict_header=False)
# the loaded visit a record names, if it is the same person's
VISIT_JOIN = (
    "LEFT JOIN visit_keys AS vk ON vk.source_id = TRY_CAST(c.visit_occurrence_id AS BIGINT) "
    "AND vk.person_id = c.person_id"
)
# a person's birth is the first of their month of birth when the export gives it (else of
# January): no event of theirs may be dated before it
BIRTH_MONTH = (
    "CASE WHEN TRY_CAST(month_of_birth AS INTEGER) BETWEEN 1 AND 12 "
    "THEN TRY_CAST(month_of_birth AS INTEGER) ELSE 1 END"
)


class OmopReader:
    kind = "omop"
    scheme_id = SchemeId.OMOP
    optout_scheme_id = SchemeId.OPTOUT_OMOP
    needs_source_name = True

    def inspect(self, path: Path, progress: Progress) -> Delivery:
        if not path.is_dir():
            raise DataValidationError(f"{path}: no such folder.")
        known = omop_table_names()
        entries: list[tuple[Path, str, str, int | None]] = []
        notes = []
        for file in sorted(path.glob("*.csv")):
            table = file.stem.lower()
            if table in NOT_READ:
                notes.append(f"{file.name}: vocabulary or metadata table, not read")
                continue
            if table not in known:
                raise DataValidationError(
                    f"{file.name}: '{file.stem}' is not an OMOP CDM v5.4 table.",
                    hint="an OMOP delivery holds one CSV per CDM table (person.csv...)",
                )
            entries.append((file, file.name, table, None))
        if not any(table == "person" for _, _, table, _ in entries):
            raise DataValidationError(
                f"{path}: table(s) missing from the delivery: person.",
                hint="an OMOP delivery holds person.csv and the event tables",
            )
        for file, _, table, _ in entries:
            if table in LAKE_TABLES:  # the others are counted as unsupported, not read
                header_positions(file, fields(table), FORMAT)
        files = hash_files(entries, path, progress)
        return Delivery(self.kind, path, files, delivery_sha256(files), notes=notes)

    def load(self, ctx: IngestContext) -> None:
        by_table = ctx.delivery.by_table()
        source = sql_literal(ctx.source_name)
        for table, files in sorted(by_table.items()):
            if table in LAKE_TABLES:
                stage_delimited(ctx, table, files, fields(table), FORMAT)
            else:
                _unsupported(ctx, table, files)
        ctx.step("staged and checked every record against the OMOP CDM v5.4 specification")
        _persons(ctx, source)
        for table in LAKE_TABLES:
            if table in by_table and table != "person":
                ctx.add_table(_resolve(ctx, table))
        _visit_ids(ctx, "visit_occurrence" in by_table)
        _note_unlinked_visits(ctx, [t for t in LAKE_TABLES if t in by_table])
        for table in LAKE_TABLES:
            ctx.outputs[table] = _output(ctx, table, table in by_table)
        ctx.step("person_id replaced by the hub's; record ids regenerated, visit links remapped")


def _unsupported(ctx: IngestContext, table: str, files: list[SourceFile]) -> None:
    """An OMOP table Havre does not map: its records are read, counted and quarantined."""
    relation = f"res_{table}"
    for number, source in enumerate(files):
        lines = f"lines_{source.file_id}"
        numbered = ctx.engine.register_lines(lines, source.path, crlf=False)
        verb = "CREATE TEMP TABLE {} AS" if number == 0 else "INSERT INTO {}"
        try:
            ctx.execute(
                f"{verb.format(relation)} SELECT {source.file_id} AS file_id, line_no, "
                f"'{QUARANTINED}' AS status, '{Reason.UNSUPPORTED_RESOURCE.value}' AS problem "
                f"FROM {lines} WHERE line_no > 1"
            )
            read = numbered.count()
        finally:
            ctx.engine.unregister(lines)
        ctx.add_read(table, max(read - 1, 0), source.file_id)
    ctx.unsupported[table] = ctx.read_counts.get(table, 0)
    ctx.add_table(ResolvedTable(table, relation, ()))


def _persons(ctx: IngestContext, source: str) -> None:
    person_fields = fields("person")
    flags = flag_duplicates(ctx, "chk_person", key_sql(person_fields, ["person_id"]))
    message = omop_message_sql(source, "r.person_id")
    found = objectors(
        ctx,
        "chk_person",
        omop_message_sql(source, "person_id"),
        "problem IS NULL",
        "person_objectors",
    )
    status, problem = status_sql(opted_out="o.msg IS NOT NULL", key_label="person_id")
    columns = ", ".join(f"c.{f.column}" for f in person_fields)
    own = omop_message_sql(source, "c.person_id")
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_person AS
        SELECT s.*, {person_id_from("s.hub_pseudonym")} AS new_person_id
        FROM (
            SELECT r.*, CASE WHEN r.status = '{LOADED}' THEN {pseudonym_sql(message)} END
                        AS hub_pseudonym
            FROM (
                SELECT c.file_id, c.line_no, {position("c")} AS pos, {columns},
                       {status} AS status, {problem} AS problem
                FROM chk_person AS c
                LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
                LEFT JOIN {found} AS o
                  ON o.msg = {own}
            ) AS r CROSS JOIN hub_pads AS hp
        ) AS s
        """
    )
    check_person_ids(ctx, "res_person", "new_person_id")
    link_persons(
        ctx,
        found,
        "res_person",
        omop_message_sql(source, "r.person_id"),
        "r.new_person_id",
        SchemeId.OPTOUT_OMOP,
    )
    ctx.execute(
        f"""
        CREATE TEMP TABLE person_keys AS
        SELECT TRY_CAST(person_id AS BIGINT) AS source_id,
               CASE WHEN bool_or(status = '{LOADED}') THEN '{LOADED}'
                    WHEN bool_or(status = '{OPTED_OUT}') THEN '{OPTED_OUT}'
                    ELSE '{QUARANTINED}' END AS status,
               max(new_person_id) AS person_id,
               max(CASE WHEN status = '{LOADED}'
                   THEN make_date(TRY_CAST(year_of_birth AS INTEGER), {BIRTH_MONTH}, 1) END)
                   AS born
        FROM res_person WHERE TRY_CAST(person_id AS BIGINT) IS NOT NULL AND status <> 'duplicate'
        GROUP BY 1
        """
    )
    ctx.add_table(ResolvedTable("person", "res_person", person_fields))
    ctx.step("person: checked, de-duplicated, objectors removed, hub pseudonyms from the source id")


def _resolve(ctx: IngestContext, table: str) -> ResolvedTable:
    table_fields = fields(table)
    chk = f"chk_{table}"
    key = primary_key(table)
    named = [key] if key else ["person_id"] if table == "death" else None
    flags = flag_duplicates(ctx, chk, key_sql(table_fields, named) if named else None)
    columns = ", ".join(f"c.{f.column}" for f in table_fields if f.name != "person_id")
    if table in PERSON_TABLES:
        reference = reference_problem_sql(
            "pk.status",
            unknown=Reason.UNKNOWN_PERSON,
            field="person_id",
            then=before_birth(table_fields, "pk.born"),
        )
        status, problem = status_sql(
            reference_problem=f"CASE WHEN c.problem IS NULL THEN {reference} END",
            opted_out=f"pk.status = '{OPTED_OUT}'",
            key_label=key or "person_id",
        )
        join = "LEFT JOIN person_keys AS pk ON pk.source_id = TRY_CAST(c.person_id AS BIGINT)"
        person = "pk.person_id AS person_id"
    else:
        status, problem = status_sql(key_label=key or "")
        join = ""
        person = "CAST(NULL AS BIGINT) AS person_id"
    ctx.execute(
        f"""
        CREATE TEMP TABLE res_{table} AS
        SELECT c.file_id, c.line_no, {position("c")} AS pos, {columns},
               {status} AS status, {problem} AS problem, {person}
        FROM {chk} AS c
        LEFT JOIN {flags} AS f ON f.file_id = c.file_id AND f.line_no = c.line_no
        {join}
        """
    )
    return ResolvedTable(table, f"res_{table}", table_fields)


def _visit_ids(ctx: IngestContext, present: bool) -> None:
    if not present:
        ctx.execute("CREATE TEMP TABLE visit_keys (source_id BIGINT, pos BIGINT, person_id BIGINT)")
        return
    ctx.execute(
        f"""
        CREATE TEMP TABLE visit_keys AS
        SELECT TRY_CAST(visit_occurrence_id AS BIGINT) AS source_id, min(pos) AS pos,
               min(person_id) AS person_id
        FROM res_visit_occurrence WHERE status = '{LOADED}' GROUP BY 1
        """
    )


def _note_unlinked_visits(ctx: IngestContext, tables: list[str]) -> None:
    """Records loaded with a ``visit_occurrence_id`` that no loaded visit of their person has
    keep no link."""
    ctx.note_unlinked(
        {
            table: f"SELECT count(*) FROM res_{table} AS c {VISIT_JOIN} "
            f"WHERE c.status = '{LOADED}' AND c.visit_occurrence_id IS NOT NULL "
            "AND vk.source_id IS NULL"
            for table in tables
            if table != "visit_occurrence"
            and any(f.name == "visit_occurrence_id" for f in fields(table))
        },
        "a visit_occurrence_id",
    )


def _output(ctx: IngestContext, table: str, present: bool) -> str:
    spec = omop_table(table)
    if not present:
        return f"SELECT {spec.select_list({})} WHERE false"
    values: dict[str, str] = {}
    key = primary_key(table)
    for column in spec.columns:
        if (table, column.name) in DROPPED or column.name in (
            "drug_cip13",
            "specialty_source_value",
        ):
            continue
        if column.name.startswith(("death_commune", "death_dep")):
            continue
        values[column.name] = f"c.{column.name}"
        if column.sql_type != "VARCHAR":
            values[column.name] = f"TRY_CAST(c.{column.name} AS {column.sql_type})"
    if key and table not in ("location", "care_site"):
        values[key] = ctx.ids.sql("c.pos")
    joins = ""
    if table == "person":
        values["person_id"] = "c.new_person_id"
        values["hub_pseudonym"] = "c.hub_pseudonym"
    elif "person_id" in values:
        values["person_id"] = "c.person_id"
    if "visit_occurrence_id" in values and table != "visit_occurrence":
        values["visit_occurrence_id"] = ctx.ids.sql("vk.pos")
        joins = VISIT_JOIN
    for dropped in ("preceding_visit_occurrence_id", "visit_detail_id"):
        if dropped in values:
            values[dropped] = "NULL"
    return f"""
        SELECT {spec.select_list(values)}
        FROM res_{table} AS c {joins}
        WHERE c.status = '{LOADED}'"""


register_reader("omop", OmopReader)
