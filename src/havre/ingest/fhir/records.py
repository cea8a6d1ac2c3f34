"""FHIR exports, record by record: NDJSON lines (gzip or not) and JSON files (one resource or
a Bundle, whose entries are the records). Every record gets a file, a number and, before any
field is read, a verdict on the record as a whole (encoding, JSON, resourceType)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from havre.core.errors import DataValidationError, EngineError, IntegrityError
from havre.ingest.context import ByteCounter, IngestContext
from havre.ingest.model import SourceFile
from havre.ingest.reasons import Reason
from havre.lake.textfiles import line_sql, uses_crlf

RESOURCE_TYPE = r"^[A-Z][A-Za-z]{1,63}$"
_DECLARED = re.compile(r"([A-Z][A-Za-z]{1,63})[._-]")
BUNDLE_LIMIT = 512 << 20  # a JSON file is parsed whole: refuse what would not fit


def declared_type(name: str) -> str | None:
    """The resource type a file name announces (``Patient.000.ndjson`` → ``Patient``)."""
    match = _DECLARED.match(Path(name).name)
    return match.group(1) if match else None


def _json_records(source: SourceFile) -> pa.Table:
    """The records of a JSON file: its entries if it is a Bundle, else the file itself."""
    if source.bytes > BUNDLE_LIMIT:
        raise DataValidationError(
            f"{source.name}: a {source.bytes >> 20} MiB JSON file; large exports come as NDJSON.",
            hint="export with $export (NDJSON), or split the Bundle",
        )
    data = source.path.read_bytes()
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        document = None
    raws: list[bytes] = []
    urls: list[str | None] = []
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            raws.append((json.dumps(resource) if isinstance(resource, dict) else "{}").encode())
            url = entry.get("fullUrl") if isinstance(entry, dict) else None
            urls.append(url if isinstance(url, str) else None)
    else:
        raws.append(data if document is not None else b"{ malformed")
        urls.append(None)
    return pa.table(
        {
            "line_no": pa.array(range(1, len(raws) + 1), pa.int64()),
            # with a line end, like lines read from NDJSON files
            "raw": pa.array([raw + b"\n" for raw in raws], pa.binary()),
            "full_url": pa.array(urls, pa.string()),
        }
    )


def _records_select(
    source: SourceFile, relation: str, full_url: str, crlf: bool, listed: str
) -> str:
    """SQL: the records of one file (``relation``: ``line_no``, ``raw``), with their verdict.
    A record is a JSON object (RFC 8259: DuckDB's parser also takes trailing commas, NaN and
    repeated keys, Spark's refuses them; docs/ingest.md#spark)."""
    return f"""
        SELECT file_id, line_no, full_url, line, h1, h2, table_name,
               CASE WHEN line IS NULL THEN '{Reason.INVALID_UTF8.value}'
                    WHEN line = '' THEN '{Reason.EMPTY_LINE.value}'
                    WHEN NOT json_ok THEN '{Reason.MALFORMED_JSON.value}'
                    WHEN rtype IS NULL THEN '{Reason.NOT_A_RESOURCE.value}|resourceType'
                    WHEN rtype NOT IN ({listed})
                    THEN '{Reason.UNSUPPORTED_RESOURCE.value}|resourceType'
               END AS line_problem
        FROM (
            SELECT *, coalesce(rtype, '{source.table}') AS table_name
            FROM (
                SELECT *, CASE WHEN regexp_matches(coalesce(raw_type, ''), '{RESOURCE_TYPE}')
                          THEN raw_type END AS rtype
                FROM (
                    SELECT *, CASE WHEN json_ok
                              THEN json_extract_string(line, '$.resourceType') END AS raw_type
                    FROM (
                        SELECT {source.file_id} AS file_id, line_no, full_url, line,
                               hash(line) AS h1, hash(line || chr(31)) AS h2,
                               coalesce(json_valid(line)
                                        AND regexp_matches(line, '^[ \t\r\n]*[{{]'), false)
                                   AS json_ok
                        FROM (SELECT line_no, {full_url} AS full_url, {line_sql(crlf)} AS line
                              FROM {relation})
                    )
                )
            )
        )
    """


def stage_records(ctx: IngestContext, supported: set[str]) -> None:
    """Create ``fhir_records``: one row per record of every file, with its verdict."""
    listed = ", ".join(f"'{name}'" for name in sorted(supported))
    first = True
    for source in ctx.delivery.files:
        relation = f"records_{source.file_id}"
        verb = "CREATE TEMP TABLE fhir_records AS" if first else "INSERT INTO fhir_records"
        first = False
        if source.name.endswith(".json"):
            json_records = _json_records(source)
            ctx.register(relation, json_records)
            try:
                ctx.execute(
                    f"{verb} {_records_select(source, relation, 'full_url', False, listed)}"
                )
            finally:
                ctx.engine.unregister(relation)
            read = json_records.num_rows
        else:
            crlf = uses_crlf(source.path)
            counter = ByteCounter(ctx.progress, f"reading {source.name}", source.bytes)
            select = _records_select(source, relation, "CAST(NULL AS VARCHAR)", crlf, listed)
            numbered = ctx.engine.register_lines(relation, source.path, crlf=crlf, progress=counter)
            try:
                ctx.execute(f"{verb} {select}")
                read = numbered.count()
            except EngineError:
                failure = numbered.failure()
                if failure is not None:
                    raise failure from None  # the file, not the engine, failed
                raise
            finally:
                ctx.engine.unregister(relation)
        ctx.file_reads[source.file_id] = read
        if source.declared_rows is not None and source.declared_rows != read:
            raise DataValidationError(
                f"{source.name}: {read} resources read, the export manifest declares "
                f"{source.declared_rows}.",
                hint="the file was truncated or altered after the export",
            )
    staged = int(ctx.engine.scalar("SELECT count(*) FROM fhir_records") or 0)
    if staged != sum(ctx.file_reads.values()):
        raise IntegrityError(
            f"FHIR records staged ({staged}) differ from records read "
            f"({sum(ctx.file_reads.values())}).",
            hint="nothing was published; report this with the delivery's hash",
        )
    counts = ctx.engine.sql(
        "SELECT table_name, count(*) AS n FROM fhir_records GROUP BY table_name"
    ).to_pylist()
    for row in counts:
        ctx.read_counts[str(row["table_name"])] = int(row["n"])
    ctx.step("read every FHIR record (NDJSON lines, Bundle entries), checked encoding and JSON")
