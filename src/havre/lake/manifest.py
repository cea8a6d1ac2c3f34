"""The manifest of a data version: tables, schemas, row counts, file hashes, lineage, quality.

Written once, in the version's folder, before the version is published; its SHA-256 is kept
in the registry, so a manifest edited afterwards is detected when the version is opened.
Manifests hold no patient data: names, counts, hashes and descriptions only.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from havre.core.errors import IntegrityError

MANIFEST_FORMAT = 1
MANIFEST_FILE = "manifest.json"


class IdentifierKind(StrEnum):
    """Kinds of potential identifiers: kept in the lake, tagged, granted one by one."""

    COMMUNE = "commune"
    BIRTH_MONTH = "birth_month"
    EXACT_DATE = "exact_date"
    DEATH_DATE = "death_date"
    DEATH_COMMUNE = "death_commune"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnInfo(_Model):
    name: str
    type: str
    description: str = ""
    required: bool = False
    identifier: IdentifierKind | None = None


class FileInfo(_Model):
    path: str  # relative to the version folder
    sha256: str
    rows: int
    bytes: int


class TableInfo(_Model):
    name: str
    description: str = ""
    rows: int
    columns: tuple[ColumnInfo, ...]
    files: tuple[FileInfo, ...]

    def column(self, name: str) -> ColumnInfo:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


class SourceFile(_Model):
    name: str
    table: str
    sha256: str
    bytes: int
    records: int


class Counts(_Model):
    """``read == loaded + quarantined + opted_out + duplicates``, per source table and in total."""

    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    opted_out: int = 0
    duplicates: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.opted_out + self.duplicates

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            read=self.read + other.read,
            loaded=self.loaded + other.loaded,
            quarantined=self.quarantined + other.quarantined,
            opted_out=self.opted_out + other.opted_out,
            duplicates=self.duplicates + other.duplicates,
        )


class Reconciliation(_Model):
    tables: dict[str, Counts]
    total: Counts


class Lineage(_Model):
    source_kind: str
    source_name: str
    delivery_sha256: str
    source_files: tuple[SourceFile, ...]
    steps: tuple[str, ...]
    software: dict[str, str]
    pseudonym_scheme: dict[str, Any]


class Encryption(_Model):
    scheme: str = "parquet-modular-encryption/AES_GCM_V1/uniform"
    key: str
    key_version: int


class QuarantineInfo(_Model):
    rows: int
    by_reason: dict[str, int]
    files: tuple[FileInfo, ...]
    encryption: Encryption


class QualityResult(_Model):
    """One data quality check (OHDSI DQD style): how many rows violate it, and whether it passes."""

    check: str
    category: str  # completeness, conformance, plausibility
    table: str
    column: str | None = None
    description: str
    violating: int
    total: int
    threshold_pct: float
    passed: bool

    @property
    def violating_pct(self) -> float:
        return 0.0 if self.total == 0 else 100.0 * self.violating / self.total


class Coverage(_Model):
    start: str | None = None  # ISO dates of the earliest and latest event
    end: str | None = None


class Manifest(_Model):
    format: int = MANIFEST_FORMAT
    dataset: str
    version: int
    created_at: str
    created_by: str
    description: str = ""
    encryption: Encryption
    tables: tuple[TableInfo, ...]
    quarantine: QuarantineInfo
    reconciliation: Reconciliation
    lineage: Lineage
    coverage: Coverage = Field(default_factory=Coverage)
    quality: tuple[QualityResult, ...] = ()
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> TableInfo:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    def to_bytes(self) -> bytes:
        return (
            json.dumps(self.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"
        ).encode()

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise IntegrityError(f"The manifest {path} is missing.") from None
        except (ValueError, TypeError) as exc:
            raise IntegrityError(f"The manifest {path} cannot be read: {exc}") from None
