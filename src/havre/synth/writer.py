"""Files of a delivery, appended chunk by chunk: CSV (with its header), NDJSON or Parquet,
hashed as they are written, with the global line number of every defect."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from havre.synth import omop, tables
from havre.synth.arrays import Array
from havre.synth.chunk import FilePart
from havre.synth.defects import KINDS

PARQUET_COMPRESSION = "zstd"


@dataclass
class FileStats:
    name: str
    table: str
    rows: int = 0
    optout_rows: int = 0
    sha256: str = ""
    size: int = 0
    defects: dict[str, int] = field(default_factory=dict)


@dataclass
class _Open:
    stats: FileStats
    header_lines: int  # lines before the first record (1 for CSV, 0 for NDJSON)
    handle: BinaryIO | None = None
    parquet: pq.ParquetWriter | None = None
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


@dataclass
class DefectRows:
    """Every defect written so far: file, 1-based line, kind, field."""

    files: list[Array] = field(default_factory=list)
    lines: list[Array] = field(default_factory=list)
    kinds: list[Array] = field(default_factory=list)
    fields: list[Array] = field(default_factory=list)

    def table(self) -> pa.Table:
        def joined(parts: list[Array], dtype: str) -> Array:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        table = pa.table(
            {
                "file": pa.array(joined(self.files, "<U40").astype(str), pa.string()),
                "line": pa.array(joined(self.lines, "int64").astype(np.int64)),
                "kind": pa.array(joined(self.kinds, "<U20").astype(str), pa.string()),
                "field": pa.array(joined(self.fields, "<U40").astype(str), pa.string()),
            }
        )
        return table.sort_by([("file", "ascending"), ("line", "ascending")])


class DeliveryWriter:
    """Writes the files of a delivery under ``root``; every expected file exists at the end,
    even when no record went into it."""

    def __init__(self, root: Path, files: list[tuple[str, str, pa.Schema | None]]) -> None:
        self.root = root
        self.defects = DefectRows()
        self._files: dict[str, _Open] = {}
        for name, table, schema in files:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            stats = FileStats(name=name, table=table, defects=dict.fromkeys(KINDS, 0))
            if name.endswith(".parquet"):
                assert schema is not None
                writer = pq.ParquetWriter(path, schema, compression=PARQUET_COMPRESSION)
                self._files[name] = _Open(stats, header_lines=1, parquet=writer)
                continue
            handle = path.open("wb")
            opened = _Open(stats, header_lines=0, handle=handle)
            if name.endswith(".csv") and schema is not None:
                # OMOP exports are comma-separated; SNDS extracts and registers use ';'
                delimiter = "," if name.startswith(omop.FOLDER) else ";"
                self._append(opened, (delimiter.join(schema.names) + "\n").encode())
                opened.header_lines = 1
            self._files[name] = opened

    def _append(self, opened: _Open, data: bytes) -> None:
        assert opened.handle is not None
        opened.handle.write(data)
        opened.digest.update(data)
        opened.stats.size += len(data)

    def write(self, part: FilePart) -> None:
        opened = self._files[part.name]
        before = opened.stats.rows
        if isinstance(part.payload, pa.Table):
            assert opened.parquet is not None
            if part.payload.num_rows:
                opened.parquet.write_table(part.payload)
        elif part.payload:
            self._append(opened, part.payload)
        opened.stats.rows += part.rows
        opened.stats.optout_rows += part.optout_rows
        found = part.defects
        if len(found):
            self.defects.files.append(np.full(len(found), part.name, dtype="<U40"))
            self.defects.lines.append(found.row + before + opened.header_lines + 1)
            self.defects.kinds.append(found.kind)
            self.defects.fields.append(found.field)
            kinds, counts = np.unique(found.kind, return_counts=True)
            for kind, count in zip(kinds.tolist(), counts.tolist(), strict=True):
                opened.stats.defects[kind] += count

    def close(self) -> list[FileStats]:
        for name, opened in self._files.items():
            if opened.parquet is not None:
                opened.parquet.close()
                opened.stats.sha256, opened.stats.size = _hash_file(self.root / name)
            elif opened.handle is not None:
                opened.handle.close()
                opened.stats.sha256 = opened.digest.hexdigest()
        return [opened.stats for opened in self._files.values()]

    def abort(self) -> None:
        for opened in self._files.values():
            if opened.parquet is not None:
                opened.parquet.close()
            elif opened.handle is not None:
                opened.handle.close()


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def layout(
    formats: tuple[str, ...], file_format: str, years: list[int]
) -> list[tuple[str, str, pa.Schema | None]]:
    """Every file of a delivery: (path, table, schema), in manifest order."""
    files: list[tuple[str, str, pa.Schema | None]] = []
    if "snds" in formats:
        for spec in tables.SNDS_TABLES:
            for year in years if spec.per_year else [None]:
                table = spec.file_table(year)
                files.append((f"snds/{table}.{file_format}", table, spec.schema()))
    if "fhir" in formats:
        for resource in FHIR_RESOURCES:
            files.append((f"fhir/{resource}.000.ndjson", resource, None))
    if "omop" in formats:
        for table in omop.TABLES:
            columns = [column.name for column in omop.cdm_columns(table)]
            schema = pa.schema([(name, pa.string()) for name in columns])
            files.append((omop.file_name(table), table, schema))
    optout = pa.schema([(name, pa.string()) for name in tables.OPTOUT_COLUMNS])
    files.append(("optout/optout.csv", "optout", optout))
    if "omop" in formats:
        omop_optout = pa.schema([(name, pa.string()) for name in omop.OPTOUT_COLUMNS])
        files.append((omop.OPTOUT_FILE, "optout_omop", omop_optout))
    return files


FHIR_RESOURCES = (
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
)
