"""``synth-manifest.json``, ``synth-defects.csv`` and the deliveries' own manifests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

import havre
from havre.synth import params
from havre.synth.defects import KINDS
from havre.synth.writer import FileStats

MANIFEST_NAME = "synth-manifest.json"
DEFECTS_NAME = "synth-defects.csv"
EXPORT_REQUEST = "https://ehr.hospital-group.invalid/fhir/$export"


@dataclass(frozen=True)
class SynthManifest:
    """What was generated: arguments, per-file counts and defects, and the ground truth."""

    path: Path
    document: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        files: dict[str, dict[str, Any]] = self.document["files"]
        return files

    @property
    def defects(self) -> dict[str, int]:
        defects: dict[str, int] = self.document["defects"]
        return defects

    @property
    def ground_truth(self) -> dict[str, Any]:
        truth: dict[str, Any] = self.document["ground_truth"]
        return truth

    def rows(self, name: str) -> int:
        rows: int = self.files[name]["rows"]
        return rows

    def summary(self) -> dict[str, Any]:
        """The short form printed by ``havre synth --json``."""
        truth = self.ground_truth
        return {
            "out": str(self.path.parent),
            "manifest": str(self.path),
            "arguments": self.document["arguments"],
            "persons": truth["population"]["persons"],
            "rows": self.document["totals"]["rows"],
            "files": {name: entry["rows"] for name, entry in self.files.items()},
            "defects": self.document["totals"]["defects"],
            "diabetics_at_end": truth["diabetes"]["alive_at_end"],
            "hospital_patients": truth["hospital_group"]["patients"],
        }


def document(
    arguments: dict[str, Any], stats: list[FileStats], ground_truth: dict[str, Any]
) -> dict[str, Any]:
    totals = dict.fromkeys(KINDS, 0)
    files: dict[str, Any] = {}
    for entry in stats:
        for kind, count in entry.defects.items():
            totals[kind] += count
        files[entry.name] = {
            "table": entry.table,
            "rows": entry.rows,
            "optout_rows": entry.optout_rows,
            "defects": {kind: count for kind, count in entry.defects.items() if count},
            "sha256": entry.sha256,
            "bytes": entry.size,
        }
    return {
        "generator": "havre.synth",
        "havre_version": havre.__version__,
        "model_version": params.MODEL_VERSION,
        "arguments": arguments,
        "files": files,
        "defects": totals,
        "totals": {
            "files": len(files),
            "rows": sum(s.rows for s in stats),
            "defects": sum(totals.values()),
        },
        "ground_truth": ground_truth,
    }


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_defects(path: Path, table: pa.Table) -> None:
    header = ";".join(table.column_names) + "\n"
    with path.open("wb") as handle:
        handle.write(header.encode())
        if table.num_rows:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(
                table,
                sink,
                pacsv.WriteOptions(include_header=False, delimiter=";", quoting_style="none"),
            )
            handle.write(sink.getvalue().to_pybytes())


def delivery_json(stats: list[FileStats], created_at: str) -> dict[str, Any]:
    return {
        "source": "snds",
        "created_at": created_at,
        "files": [
            {"name": Path(s.name).name, "table": s.table, "rows": s.rows, "sha256": s.sha256}
            for s in stats
            if s.name.startswith("snds/")
        ],
    }


def export_manifest(stats: list[FileStats], transaction_time: str) -> dict[str, Any]:
    return {
        "transactionTime": transaction_time,
        "request": EXPORT_REQUEST,
        "requiresAccessToken": False,
        "output": [
            {"type": s.table, "url": Path(s.name).name, "count": s.rows}
            for s in stats
            if s.name.startswith("fhir/")
        ],
        "error": [],
    }
