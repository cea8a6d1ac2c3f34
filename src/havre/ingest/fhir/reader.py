"""The FHIR reader: a hospital group's FHIR R4 Bulk Data export (NDJSON, gzip or not), or a
folder of JSON resources and Bundles (docs/sources.md, ``fhir/``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from havre.cdm.vocabulary import code_sets, commune_locations
from havre.core.errors import DataValidationError
from havre.ingest.context import IngestContext, Progress
from havre.ingest.discovery import delivery_sha256, hash_files, parse_instant, relative_name
from havre.ingest.fhir.mapping import build_outputs
from havre.ingest.fhir.records import declared_type, stage_records
from havre.ingest.fhir.resolve import (
    resolve_clinical,
    resolve_others,
    resolve_patients,
    resolve_plain,
)
from havre.ingest.fhir.resources import RESOURCES
from havre.ingest.model import Delivery
from havre.ingest.readers import register_reader
from havre.lake.textfiles import sniff_text
from havre.pseudo.scheme import SchemeId

MANIFEST = "manifest.json"
SUFFIXES = (".ndjson", ".ndjson.gz", ".json")
CLINICAL = ("Encounter", "Condition", "Observation", "MedicationRequest", "Procedure")


class FhirReader:
    kind = "fhir"
    scheme_id = SchemeId.NIR
    optout_scheme_id = SchemeId.OPTOUT_NIR
    needs_source_name = False

    def inspect(self, path: Path, progress: Progress) -> Delivery:
        root = _root(path)
        listed, extracted_at = _manifest(root)
        entries: list[tuple[Path, str, str, int | None]] = []
        if listed is not None:
            for name, kind, count in listed:
                file = root / name
                if not file.is_file():
                    raise DataValidationError(
                        f"{name}: listed in {MANIFEST} but missing from the export.",
                        hint="the export is incomplete; export again",
                    )
                entries.append((file, name, kind, count))
        else:
            found = sorted(
                p
                for p in root.iterdir()
                if p.is_file() and p.name != MANIFEST and p.name.endswith(SUFFIXES)
            )
            entries = [
                (p, relative_name(p, root), declared_type(p.name) or "unknown", None) for p in found
            ]
        if not entries:
            raise DataValidationError(
                f"{root}: no FHIR file (*.ndjson, *.ndjson.gz, *.json) in this folder.",
                hint="give the folder of the FHIR export",
            )
        ndjson = [e for e in entries if not e[1].endswith(".json")]
        if ndjson and not any(kind == "Patient" for _, _, kind, _ in ndjson):
            raise DataValidationError(
                f"{root}: the export has no Patient file: its resources cannot be tied to anyone.",
                hint="a patient-level export ($export) includes Patient.ndjson",
            )
        for file, *_ in entries:
            sniff_text(file)  # binary, or a damaged gzip: refused before hashing or reading
        files = hash_files(entries, root, progress)
        return Delivery(self.kind, root, files, delivery_sha256(files), extracted_at=extracted_at)

    def load(self, ctx: IngestContext) -> None:
        for name, table in code_sets().items():
            ctx.register(name, table)
        ctx.register("commune_locations", commune_locations())
        supported = set(RESOURCES)
        stage_records(ctx, supported)
        ctx.add_table(resolve_patients(ctx, RESOURCES["Patient"]))
        ctx.add_table(resolve_plain(ctx, RESOURCES["Organization"]))
        for name in CLINICAL:
            ctx.add_table(resolve_clinical(ctx, RESOURCES[name]))
        for table in resolve_others(ctx, supported):
            ctx.add_table(table)
        for name in [*RESOURCES]:
            ctx.read_counts.setdefault(name, 0)
        build_outputs(ctx)


def _root(path: Path) -> Path:
    if not path.exists():
        raise DataValidationError(f"{path}: no such folder.")
    if not path.is_dir():
        raise DataValidationError(f"{path}: is a file; give the export's folder.")
    inner = path / "fhir"
    if inner.is_dir() and not any(p.name.endswith(SUFFIXES) for p in path.iterdir()):
        return inner
    return path


def _manifest(root: Path) -> tuple[list[tuple[str, str, int | None]] | None, dt.datetime | None]:
    """(file, resource type, count) of the Bulk Data completion manifest, if there is one,
    and its transaction time."""
    manifest = root / MANIFEST
    if not manifest.exists():
        return None, None
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        listed = []
        for item in document["output"]:
            name = Path(str(item["url"]).split("?")[0]).name
            count = item.get("count")
            listed.append((name, str(item["type"]), None if count is None else int(count)))
        return listed, parse_instant(document.get("transactionTime"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataValidationError(f"{MANIFEST}: cannot be read ({exc}).") from None


register_reader("fhir", FhirReader)
