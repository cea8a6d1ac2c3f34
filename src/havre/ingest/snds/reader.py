"""The SNDS reader: an insurer's claims extract (docs/sources.md, ``snds/``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from havre.cdm.vocabulary import code_sets, commune_locations
from havre.core.errors import DataValidationError
from havre.ingest.context import IngestContext, Progress
from havre.ingest.delimited import DelimitedFormat, header_positions, stage_delimited
from havre.ingest.discovery import delivery_sha256, hash_files, parse_instant
from havre.ingest.fields import Field
from havre.ingest.model import Delivery, SourceFile, StageJoin, field_union
from havre.ingest.readers import register_reader
from havre.ingest.reasons import Reason
from havre.ingest.resolve import parent_join, parent_keys, resolved_view
from havre.ingest.snds.mapping import build_outputs
from havre.ingest.snds.resolve import person_join, resolve_persons
from havre.ingest.snds.tables import FIXED, KEEP, MCO, is_known, mco_years, table_fields
from havre.ingest.stage_parquet import parquet_columns, stage_parquet
from havre.lake.engine import sql_literal
from havre.pseudo.scheme import SchemeId

FORMAT = DelimitedFormat(delimiter=";")
# PMSI tables (one file per year each), staged and resolved as one relation per kind
PMSI = ("T_MCO_B", "T_MCO_C", "T_MCO_D")
# what belongs to a claim line (drugs, lab acts): staged as one relation, so that one hash
# table of the claim keys serves both, and resolved as one (each table keeps its counts)
CLAIM_ITEMS = "ER_ITEMS"
ITEM_TABLES = ("ER_PHA_F", "ER_BIO_F")
MANIFEST = "delivery.json"


class SndsReader:
    kind = "snds"
    scheme_id = SchemeId.NIR
    optout_scheme_id = SchemeId.OPTOUT_NIR
    needs_source_name = False

    def inspect(self, path: Path, progress: Progress) -> Delivery:
        root = _root(path)
        declared, extracted_at = _declared(root)
        csv = sorted(root.glob("*.csv"))
        parquet = sorted(root.glob("*.parquet"))
        if csv and parquet:
            raise DataValidationError(
                f"{root}: holds both .csv and .parquet tables; a delivery uses one format."
            )
        found = csv or parquet
        if not found:
            raise DataValidationError(
                f"{root}: no SNDS table (IR_BEN_R.csv, ER_PRS_F.csv...) in this folder.",
                hint="give the delivery's snds/ folder",
            )
        entries = []
        for file in found:
            if not is_known(file.stem):
                raise DataValidationError(
                    f"{file.name}: '{file.stem}' is not an SNDS table of the delivery contract.",
                    hint="see docs/sources.md for the tables an SNDS delivery holds",
                )
            entries.append((file, file.name, file.stem, declared.get(file.name, (None, None))[0]))
        tables = {stem for _, _, stem, _ in entries}
        missing = [t for t in FIXED if t not in tables]
        for year in mco_years(tables):
            missing += [f"T_MCO{year}{p}" for p in "BCD" if f"T_MCO{year}{p}" not in tables]
        listed_missing = [name for name in declared if not (root / name).exists()]
        if missing or listed_missing:
            names = sorted(set(missing) | {Path(n).stem for n in listed_missing})
            raise DataValidationError(
                f"{root}: table(s) missing from the delivery: {', '.join(names)}.",
                hint="a claims delivery holds every table of docs/sources.md",
            )
        for file, _, stem, _ in entries:  # their first bytes or footers, before hashing
            if file.suffix == ".csv":
                header_positions(file, table_fields(stem), FORMAT)
            else:
                parquet_columns(file, table_fields(stem))
        files = hash_files(entries, root, progress)
        for item in files:
            expected = declared.get(item.name, (None, None))[1]
            if expected is not None and expected != item.sha256:
                raise DataValidationError(
                    f"{item.name}: its SHA-256 differs from the one in {MANIFEST}.",
                    hint="the file was altered or damaged after the delivery was made",
                )
        return Delivery(self.kind, root, files, delivery_sha256(files), extracted_at=extracted_at)

    def load(self, ctx: IngestContext) -> None:
        for name, table in code_sets().items():
            ctx.register(name, table)
        ctx.register("commune_locations", commune_locations())
        by_table = ctx.delivery.by_table()
        parquet = ctx.delivery.files[0].name.endswith(".parquet")
        years = mco_years(set(by_table))

        def stage(table: str, join: StageJoin | None = None, *, keyed: bool = False) -> None:
            fields_of = None
            if table in PMSI:  # every year's file of a PMSI table, staged as one relation
                files = [f for y in years for f in by_table[f"T_MCO{y}{table[-1]}"]]
                fields, extra = table_fields(f"T_MCO{years[0]}{table[-1]}"), _mco_year
            elif table == CLAIM_ITEMS:
                files = [f for name in ITEM_TABLES for f in by_table[name]]
                fields = field_union(*(table_fields(name) for name in ITEM_TABLES))
                extra, fields_of = _item_table, _own_fields
            else:
                files, fields, extra = by_table[table], table_fields(table), None
            keep = _keep(table)
            if parquet:
                stage_parquet(
                    ctx,
                    table,
                    files,
                    fields,
                    extra_columns=extra,
                    join=join,
                    keep=keep,
                    fields_of=fields_of,
                    keyed=keyed,
                )
            else:
                stage_delimited(
                    ctx,
                    table,
                    files,
                    fields,
                    FORMAT,
                    extra_columns=extra,
                    join=join,
                    keep=keep,
                    fields_of=fields_of,
                    keyed=keyed,
                )

        def resolve(table: str, key: list[str] | None, carried: tuple[str, ...]) -> None:
            if table == CLAIM_ITEMS:
                fields = field_union(*(table_fields(name) for name in ITEM_TABLES))
                column, parts = "item_table", {name: str(i) for i, name in enumerate(ITEM_TABLES)}
            elif table in PMSI:
                fields = table_fields(f"T_MCO{years[0]}{table[-1]}")
                column, parts = "mco_year", {f"T_MCO{y}{table[-1]}": sql_literal(y) for y in years}
            else:
                fields = table_fields(table)
                ctx.add_table(
                    resolved_view(ctx, table, fields, key=key, carried=carried, keep=_keep(table))
                )
                return
            merged = resolved_view(
                ctx,
                table,
                fields,
                key=key,
                carried=(*carried, column),
                keep=_keep(table),
                partition=[column],
            )
            for name, value in parts.items():  # each table keeps its own counts and quarantine
                ctx.execute(
                    f"CREATE TEMP VIEW res_{name} AS "
                    f"SELECT * FROM {merged.relation} WHERE {column} = {value}"
                )
                own = tuple(f for f in merged.fields if f in table_fields(name))
                ctx.add_table(
                    dataclasses.replace(merged, name=name, relation=f"res_{name}", fields=own)
                )

        # persons first: every other record is joined to them as it is read
        stage("IR_BEN_R", keyed=True)  # by BEN_NIR and BEN_RNG_GEM (resolve_persons)
        ctx.add_table(resolve_persons(ctx))
        person = ("person_id",)
        stays = [("T_MCO_C", ["ETA_NUM", "RSA_NUM"])] if years else []
        for table, key in (
            ("ER_PRS_F", ["CLE_DCI_JNT"]),
            ("IR_IMB_R", None),
            ("KI_CCI_R", ["BEN_NIR", "BEN_RNG_GEM"]),
            *stays,
        ):
            fields = table_fields(f"T_MCO{years[0]}C" if table in PMSI else table)
            stage(table, person_join(fields), keyed=key is not None)
            resolve(table, key, person)
            ctx.step(f"{table}: checked, linked to persons, de-duplicated")
        # then what belongs to a claim line or a stay
        claim = ("person_id", "claim_start", "claim_pos")
        parent_keys(
            ctx,
            "ER_PRS_F",
            ["TRY_CAST(CLE_DCI_JNT AS BIGINT)"],
            {"person_id": "person_id", "claim_start": "EXE_SOI_DTD", "claim_pos": "pos"},
        )
        cle = ["TRY_CAST(s.CLE_DCI_JNT AS BIGINT)"]
        stage(CLAIM_ITEMS, parent_join("ER_PRS_F", cle, Reason.UNKNOWN_CLAIM, "CLE_DCI_JNT", claim))
        resolve(CLAIM_ITEMS, None, claim)
        ctx.step(
            f"{' and '.join(ITEM_TABLES)}: checked, linked to their claim line (one lookup of "
            "the claim keys for both), de-duplicated"
        )
        if years:
            stay = ("person_id", "stay_start", "stay_end", "stay_pos")
            parent_keys(
                ctx,
                "T_MCO_C",
                ["mco_year", "ETA_NUM", "RSA_NUM"],
                {
                    "person_id": "person_id",
                    "stay_start": "EXE_SOI_DTD",
                    "stay_end": "EXE_SOI_DTF",
                    "stay_pos": "pos",
                },
            )
            mine = ["s.mco_year", "s.ETA_NUM", "s.RSA_NUM"]
            join = parent_join("T_MCO_C", mine, Reason.UNKNOWN_STAY, "RSA_NUM", stay)
            for child, key in (("T_MCO_B", ["ETA_NUM", "RSA_NUM"]), ("T_MCO_D", None)):
                stage(child, join, keyed=key is not None)
                resolve(child, key, stay)
            ctx.step(
                f"PMSI 20{years[0]}-20{years[-1]}: stays, diagnoses checked and linked to "
                "their stay (every year's files read as one table)"
            )
        build_outputs(ctx, bool(years))


def _keep(table: str) -> frozenset[str] | None:
    """The fields staged of a table (``KEEP``; all of a table that has no entry)."""
    if table == CLAIM_ITEMS:
        return frozenset().union(*(KEEP[name] for name in ITEM_TABLES))
    return KEEP.get(table)


def _own_fields(source: SourceFile) -> tuple[Field, ...]:
    return table_fields(source.table)


def _item_table(source: SourceFile) -> dict[str, str]:
    """Which table of ``ITEM_TABLES`` a record is from (one byte, not the table's name)."""
    return {"item_table": f"CAST({ITEM_TABLES.index(source.table)} AS UTINYINT)"}


def _mco_year(source: SourceFile) -> dict[str, str]:
    match = MCO.fullmatch(source.table)
    if match is None:  # only PMSI files are staged with their year
        raise ValueError(source.table)
    return {"mco_year": f"'{match.group(1)}'"}


def _root(path: Path) -> Path:
    if not path.exists():
        raise DataValidationError(f"{path}: no such folder.")
    if not path.is_dir():
        raise DataValidationError(f"{path}: is a file; give the delivery's folder.")
    inner = path / "snds"
    if inner.is_dir() and not any(path.glob("*.csv")) and not any(path.glob("*.parquet")):
        return inner
    return path


def _declared(root: Path) -> tuple[dict[str, tuple[int | None, str | None]], dt.datetime | None]:
    """name → (rows, sha256) from ``delivery.json`` when the delivery has one, and when the
    delivery was made."""
    manifest = root / MANIFEST
    if not manifest.exists():
        return {}, None
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        if document.get("source", "snds") != "snds":
            raise DataValidationError(
                f"{MANIFEST}: declares the source '{document.get('source')}', not 'snds'.",
                hint="ingest it with the --source it declares",
            )
        files = {
            str(item["name"]): (
                None if item.get("rows") is None else int(item["rows"]),
                item.get("sha256"),
            )
            for item in document.get("files", [])
        }
        return files, parse_instant(document.get("created_at"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataValidationError(f"{MANIFEST}: cannot be read ({exc}).") from None


register_reader("snds", SndsReader)
