"""Workspace files: encrypted Parquet under ``$HAVRE_HOME/workspaces/<project>/v<NNNN>/``.

A version is written in ``<project>/.staging/v<NNNN>``, every file fsync'ed and hashed, then
renamed into place (atomic on one file system) and registered in the governance store in the
same audited transaction; a crash leaves a staging folder or an unregistered version folder,
both removed by the next build of the project (it holds the project's lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from havre.core.errors import IntegrityError, KeyStoreError, StateError
from havre.core.hashing import sha256_bytes, sha256_file
from havre.core.prefetch import prefetch
from havre.keys import KeyStore
from havre.keys.parquet import ParquetCrypto
from havre.workspace.manifest import MANIFEST_FILE, WorkspaceFile, WorkspaceManifest

ROW_GROUP_ROWS = 1 << 20
TABLES = "tables"
PSEUDONYMS = "pseudonyms.parquet"


def version_folder(version: int) -> str:
    return f"v{version:04d}"


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WorkspaceFiles:
    """The files of every project's workspaces, and the key that protects them."""

    def __init__(self, root: Path, keys: KeyStore) -> None:
        self.root = root
        self.keys = keys

    def project_dir(self, project_id: str) -> Path:
        return self.root / project_id

    def path_of(self, relative: str) -> Path:
        return self.root / relative

    @contextlib.contextmanager
    def locked(self, project_id: str) -> Iterator[None]:
        """One build or refresh of a project at a time (others are refused, not queued)."""
        folder = self.project_dir(project_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError(
                    f"The workspace of project {project_id} is being built or refreshed.",
                    hint="wait for that run to finish, then check 'havre workspace status'",
                ) from None
            yield
        finally:
            os.close(fd)

    def clean_leftovers(self, project_id: str, registered: set[int]) -> list[str]:
        """Remove staging folders and version folders the registry does not know."""
        folder = self.project_dir(project_id)
        removed = []
        staging = folder / ".staging"
        if staging.exists():
            for leftover in staging.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(f".staging/{leftover.name}")
        for candidate in folder.glob("v[0-9][0-9][0-9][0-9]"):
            if int(candidate.name[1:]) not in registered:
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate.name)
        return removed

    def staging(self, project_id: str, version: int) -> Path:
        target = self.project_dir(project_id) / ".staging" / version_folder(version)
        shutil.rmtree(target, ignore_errors=True)
        (target / TABLES).mkdir(parents=True, mode=0o700)
        return target

    def publish(self, staged: Path, project_id: str, version: int) -> str:
        """Move a staged version into place; returns its path relative to the root."""
        final = self.project_dir(project_id) / version_folder(version)
        if final.exists():
            raise StateError(f"Workspace folder {final} already exists.")
        os.replace(staged, final)
        fsync_path(final.parent)
        return f"{project_id}/{version_folder(version)}"

    def remove(self, relative: str) -> None:
        shutil.rmtree(self.path_of(relative), ignore_errors=True)

    def purge(self, project_id: str) -> None:
        shutil.rmtree(self.project_dir(project_id), ignore_errors=True)

    # -- encrypted files --------------------------------------------------------------------
    def write_table(
        self,
        folder: Path,
        relative: str,
        batches: pa.RecordBatchReader,
        schema: pa.Schema,
        crypto: ParquetCrypto,
        key_name: str,
    ) -> tuple[int, WorkspaceFile]:
        """Write ``batches`` (cast to ``schema``) as one encrypted Parquet file. The engine
        computes the next batches in a thread while this one is compressed and encrypted."""
        path = folder / relative
        rows = 0
        properties = crypto.encryption_properties(key_name)
        with (
            pq.ParquetWriter(
                path, schema, compression="zstd", encryption_properties=properties
            ) as writer,
            contextlib.closing(prefetch(iter(batches), depth=4, name="workspace-read")) as ahead,
        ):
            for batch in ahead:
                if batch.num_rows:
                    writer.write_batch(batch.cast(schema), row_group_size=ROW_GROUP_ROWS)
                    rows += batch.num_rows
        fsync_path(path)
        return rows, WorkspaceFile(
            path=relative, sha256=sha256_file(path), bytes=path.stat().st_size
        )

    def write_manifest(self, folder: Path, manifest: WorkspaceManifest, key_name: str) -> str:
        blob = manifest.seal(self.keys, key_name)
        path = folder / MANIFEST_FILE
        with path.open("wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_path(folder)
        return sha256_bytes(blob)

    def read_manifest(self, relative: str, expected_sha256: str, label: str) -> WorkspaceManifest:
        path = self.path_of(relative) / MANIFEST_FILE
        if not path.is_file():
            raise IntegrityError(f"Workspace {label}: the manifest is missing from {path}.")
        blob = path.read_bytes()
        if sha256_bytes(blob) != expected_sha256:
            raise IntegrityError(
                f"Workspace {label}: the manifest does not match the registry.",
                hint="the workspace folder was altered; refresh the workspace",
            )
        return WorkspaceManifest.open(self.keys, blob, label)

    def open_file(
        self, relative: str, item: WorkspaceFile, crypto: ParquetCrypto, label: str
    ) -> pq.ParquetFile:
        """An encrypted file, checked against the manifest first."""
        path = self.path_of(relative) / item.path
        if not path.is_file():
            raise IntegrityError(f"Workspace {label}: file {item.path} is missing.")
        if path.stat().st_size != item.bytes or sha256_file(path) != item.sha256:
            raise IntegrityError(
                f"Workspace {label}: file {item.path} does not match its manifest.",
                hint="the workspace folder was altered; refresh the workspace",
            )
        try:
            return pq.ParquetFile(path, decryption_properties=crypto.decryption_properties())
        except OSError as exc:
            raise KeyStoreError(
                f"Workspace {label}: {item.path} cannot be decrypted ({exc}).",
                hint="the project's key was destroyed (closure) or the key store is not this hub's",
            ) from None
