"""Reading a published data version: its manifest, and its tables decrypted on the fly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from havre.core.errors import IntegrityError, NotFoundError
from havre.core.hashing import sha256_file
from havre.keys.parquet import ParquetCrypto
from havre.lake.manifest import MANIFEST_FILE, Counts, FileInfo, IdentifierKind, Manifest, TableInfo

if TYPE_CHECKING:
    import pyarrow.dataset as ds


@dataclass(frozen=True)
class DataVersionInfo:
    """A registry entry: one published, immutable data version."""

    id: str
    dataset: str
    version: int
    path: str
    manifest_sha256: str
    delivery_sha256: str
    source_kind: str
    source_name: str
    pseudonym_scheme: str
    key_name: str
    key_version: int
    counts: Counts
    created_at: dt.datetime
    created_by: str

    @property
    def label(self) -> str:
        return f"{self.dataset}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["counts"] = self.counts.model_dump()
        return data


class LakeVersion:
    """One data version, opened. Tables are ``pyarrow.dataset`` objects that decrypt as they
    scan, so DuckDB (``engine.register``) or Arrow can query them without a plaintext copy."""

    def __init__(
        self, info: DataVersionInfo, manifest: Manifest, path: Path, crypto: ParquetCrypto
    ) -> None:
        self.info = info
        self.manifest = manifest
        self.path = path
        self._format = decrypting_format(crypto)

    @property
    def tables(self) -> list[str]:
        return self.manifest.table_names

    def table(self, name: str) -> TableInfo:
        try:
            return self.manifest.table(name)
        except KeyError:
            raise NotFoundError(
                f"Data version {self.info.label} has no table '{name}'.",
                hint=f"tables: {', '.join(self.tables)}",
            ) from None

    def schema(self, name: str) -> pa.Schema:
        return self.dataset(name).schema

    def dataset(self, name: str) -> ds.Dataset:
        return self._open_files(self.table(name).files)

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        return self.dataset(name).to_table(columns=columns)

    def column_tags(self, name: str) -> dict[str, IdentifierKind]:
        """Columns of a table that are potential identifiers, with their kind."""
        return {c.name: c.identifier for c in self.table(name).columns if c.identifier is not None}

    def quarantine(self) -> ds.Dataset:
        """The records rejected by the ingest that made this version (for data stewards)."""
        return self._open_files(self.manifest.quarantine.files)

    def verify(self) -> None:
        """Check every file against the SHA-256 in the manifest."""
        files = [f for t in self.manifest.tables for f in t.files]
        files += list(self.manifest.quarantine.files)
        for item in files:
            target = self.path / item.path
            if not target.is_file():
                raise IntegrityError(f"{self.info.label}: file {item.path} is missing.")
            if sha256_file(target) != item.sha256:
                raise IntegrityError(
                    f"{self.info.label}: file {item.path} does not match its manifest checksum.",
                    hint="the lake was altered; restore this version from a backup",
                )

    def _open_files(self, files: tuple[FileInfo, ...]) -> ds.Dataset:
        return encrypted_dataset(self.path, files, self._format)


def encrypted_dataset(
    root: Path, files: tuple[FileInfo, ...], decrypting: ds.ParquetFileFormat
) -> ds.Dataset:
    """The files (paths relative to ``root``) as one dataset, decrypted as it is scanned
    (``decrypting_format``)."""
    import pyarrow.dataset as ds  # on use: importing it loads pandas (~0.2 s of every start)

    return ds.dataset([str(root / f.path) for f in files], format=decrypting)


def decrypting_format(crypto: ParquetCrypto) -> ds.ParquetFileFormat:
    """Parquet format whose scans decrypt with keys from the key store."""
    import pyarrow.dataset as ds  # on use: importing it loads pandas (~0.2 s of every start)

    return ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(
            decryption_properties=crypto.decryption_properties()
        )
    )


def read_manifest(path: Path, expected_sha256: str, label: str) -> Manifest:
    target = path / MANIFEST_FILE
    if not target.is_file():
        raise IntegrityError(f"{label}: the manifest is missing from {path}.")
    if sha256_file(target) != expected_sha256:
        raise IntegrityError(
            f"{label}: the manifest does not match the checksum in the registry.",
            hint="the lake was altered; restore this version from a backup",
        )
    return Manifest.read(target)
