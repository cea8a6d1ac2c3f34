"""Writing a data version: encrypted Parquet files in a staging folder, then an atomic publish.

A version is built under ``<dataset>/.staging/<version>``, holding the dataset's lock. Publish
writes the manifest, renames the folder to ``v<NNNN>`` (atomic on one file system) and adds the
registry row in the caller's transaction. A crash before the commit leaves no visible version:
the next run, under the same lock, removes the leftovers and starts again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from havre.core.clock import as_utc
from havre.core.errors import StateError
from havre.core.hashing import sha256_bytes, sha256_file
from havre.core.ids import new_id
from havre.keys import KeyPurpose
from havre.lake.manifest import MANIFEST_FILE, FileInfo, Manifest
from havre.lake.models import DataVersionRow
from havre.lake.version import DataVersionInfo, decrypting_format, encrypted_dataset

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from havre.lake.store import Lake

ROWS_PER_FILE = 4_000_000
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1  # zstd 1: most of level 3's size for a fraction of its time


def version_folder(version: int) -> str:
    return f"v{version:04d}"


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VersionBuilder:
    """One version being written. Use as a context manager: leaving it unpublished aborts."""

    def __init__(self, lake: Lake, dataset: str, version: int) -> None:
        self.lake = lake
        self.dataset = dataset
        self.version = version
        self.dataset_dir = lake.root / dataset
        self.staging = self.dataset_dir / ".staging" / version_folder(version)
        self.key_name = f"dataset/{dataset}/{version_folder(version)}"
        self.quarantine_key_name = f"quarantine/{dataset}/{version_folder(version)}"
        self.published: DataVersionInfo | None = None
        self._lock_fd: int | None = None
        # tables may be written from several threads; the key factory is shared
        self._crypto_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------------------
    def __enter__(self) -> VersionBuilder:
        self.dataset_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dataset_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(
                f"Another ingest is writing dataset '{self.dataset}'.",
                hint="wait for it to finish, then run this one again",
            ) from None
        self._lock_fd = fd
        self.lake.clean_leftovers(self.dataset)
        self.staging.mkdir(parents=True)
        keys = self.lake.keys
        keys.ensure(self.key_name, KeyPurpose.DATASET)
        keys.ensure(self.quarantine_key_name, KeyPurpose.DATASET)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.published is None:
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    @property
    def key_version(self) -> int:
        return self.lake.keys.data_key(self.key_name)[1]

    @property
    def quarantine_key_version(self) -> int:
        return self.lake.keys.data_key(self.quarantine_key_name)[1]

    # -- writing ----------------------------------------------------------------------------
    def write_table(
        self, name: str, data: pa.RecordBatchReader, plain: tuple[str, ...] = ()
    ) -> tuple[FileInfo, ...]:
        """Write a table's files. ``plain``: columns whose values seldom repeat (record ids),
        not dictionary-encoded — a dictionary of distinct values only costs time and space.
        Safe to call from several threads at once (one table each)."""
        return self._write(f"tables/{name}", data, self.key_name, plain)

    def write_quarantine(self, data: pa.RecordBatchReader) -> tuple[FileInfo, ...]:
        return self._write("quarantine", data, self.quarantine_key_name)

    def _write(
        self,
        folder: str,
        data: pa.RecordBatchReader,
        key_name: str,
        plain: tuple[str, ...] = (),
    ) -> tuple[FileInfo, ...]:
        directory = self.staging / folder
        directory.mkdir(parents=True, exist_ok=False)
        with self._crypto_lock:
            properties = self.lake.crypto.encryption_properties(key_name)
        dictionary = [name for name in data.schema.names if name not in plain]
        files: list[FileInfo] = []
        writer: pq.ParquetWriter | None = None
        path = directory
        rows = 0

        def close() -> None:
            assert writer is not None
            writer.close()
            files.append(self._registered(path, rows))

        def start() -> pq.ParquetWriter:
            nonlocal path, rows
            path = directory / f"part-{len(files):05d}.parquet"
            rows = 0
            return pq.ParquetWriter(
                path,
                data.schema,
                compression=COMPRESSION,
                compression_level=COMPRESSION_LEVEL,
                use_dictionary=dictionary,
                encryption_properties=properties,
            )

        writer = start()
        for batch in data:
            if batch.num_rows == 0:
                continue
            if rows >= ROWS_PER_FILE:
                close()
                writer = start()
            writer.write_batch(batch)
            rows += batch.num_rows
        close()
        fsync_path(directory)
        return tuple(files)

    def adopt_table(self, name: str, paths: list[Path]) -> tuple[FileInfo, ...]:
        """Move a table's encrypted Parquet files, written by another engine (Spark), into the
        version as ``tables/<name>/part-NNNNN.parquet``, registered like ``write_table``'s:
        rows read from each footer (decrypted with the store's keys), SHA-256 of the bytes."""
        directory = self.staging / "tables" / name
        directory.mkdir(parents=True, exist_ok=False)
        with self._crypto_lock:
            decryption = self.lake.crypto.decryption_properties()
        files: list[FileInfo] = []
        for number, source in enumerate(paths):
            path = directory / f"part-{number:05d}.parquet"
            shutil.move(source, path)
            rows = pq.ParquetFile(path, decryption_properties=decryption).metadata.num_rows
            files.append(self._registered(path, rows))
        fsync_path(directory)
        return tuple(files)

    def _registered(self, path: Path, rows: int) -> FileInfo:
        """A written file as the manifest lists it, once it is on disk (fsync)."""
        fsync_path(path)
        return FileInfo(
            path=str(path.relative_to(self.staging)),
            sha256=sha256_file(path),
            rows=rows,
            bytes=path.stat().st_size,
        )

    def staged_dataset(self, files: tuple[FileInfo, ...]) -> ds.Dataset:
        """Files written so far, readable (decrypting) before the version is published."""
        return encrypted_dataset(self.staging, files, decrypting_format(self.lake.crypto))

    # -- publishing -------------------------------------------------------------------------
    def publish(self, session: Session, manifest: Manifest) -> DataVersionInfo:
        """Make the version visible, in the caller's transaction (committed by the caller)."""
        payload = manifest.to_bytes()
        target = self.staging / MANIFEST_FILE
        with target.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_path(self.staging)
        final = self.dataset_dir / version_folder(self.version)
        if final.exists():
            shutil.rmtree(final)  # left by a run that crashed between rename and commit
        os.rename(self.staging, final)
        fsync_path(self.dataset_dir)
        total = manifest.reconciliation.total
        lineage = manifest.lineage
        row = DataVersionRow(
            id=new_id("dsv"),
            dataset=self.dataset,
            version=self.version,
            path=f"{self.dataset}/{version_folder(self.version)}",
            manifest_sha256=sha256_bytes(payload),
            delivery_sha256=lineage.delivery_sha256,
            source_kind=lineage.source_kind,
            source_name=lineage.source_name,
            pseudonym_scheme=str(lineage.pseudonym_scheme.get("label", "")),
            key_name=manifest.encryption.key,
            key_version=manifest.encryption.key_version,
            records_read=total.read,
            records_loaded=total.loaded,
            records_quarantined=total.quarantined,
            records_opted_out=total.opted_out,
            records_duplicates=total.duplicates,
            created_at=as_utc(self.lake.clock.now()),
            created_by=manifest.created_by,
        )
        session.add(row)
        session.flush()
        self.published = self.lake.info_of(row)
        return self.published

    def unpublish(self) -> None:
        """Undo the rename when the transaction that registers the version fails."""
        final = self.dataset_dir / version_folder(self.version)
        with contextlib.suppress(OSError):
            shutil.rmtree(final)
        self.published = None
