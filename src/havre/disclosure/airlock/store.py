"""The airlock's files.

```
$HAVRE_HOME/airlock/<project>/<request>/<output>/   candidates, encrypted under workspace/<project>
    spec.enc        the output spec, SQL included
    content.enc     the file as it would be released (CSV)
    record.enc      the release record (released cells with their person counts)
    attachment.enc  a figure or model file
$HAVRE_HOME/airlock/<project>/persons/<output>.enc  the output's population (for differencing)
$HAVRE_HOME/releases/<project>/<request>/          released files and manifest.json (plain)
```

Candidates are encrypted with the project's workspace key until release: they are computed
from its data and must die with it (closure destroys the key). Each blob's authenticated data
names its output and part, so blobs cannot be swapped between outputs. Only the released
folder holds plain files, and only what was approved.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from havre.disclosure.airlock.population import deserialize_persons
from havre.governance.projects import workspace_key_name
from havre.keys import KeyStore
from havre.keys.envelope import decrypt, encrypt

AIRLOCK = "airlock"
RELEASES = "releases"
PERSONS = "persons"
MANIFEST = "manifest.json"


class Part(StrEnum):
    SPEC = "spec"
    CONTENT = "content"
    RECORD = "record"
    ATTACHMENT = "attachment"


def _aad(output_id: str, part: str) -> bytes:
    return f"havre-airlock:{output_id}:{part}".encode()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, readable by the hub's account only, and flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


class AirlockFiles:
    def __init__(self, home: Path, keys: KeyStore) -> None:
        self.root = home / AIRLOCK
        self.releases = home / RELEASES
        self.keys = keys

    # -- candidates ---------------------------------------------------------------------------
    def output_dir(self, project_id: str, request_id: str, output_id: str) -> Path:
        return self.root / project_id / request_id / output_id

    def write(
        self, project_id: str, request_id: str, output_id: str, part: Part, data: bytes
    ) -> None:
        blob = encrypt(self.keys, workspace_key_name(project_id), data, _aad(output_id, part))
        write_private(self.output_dir(project_id, request_id, output_id) / f"{part}.enc", blob)

    def read(self, project_id: str, request_id: str, output_id: str, part: Part) -> bytes | None:
        path = self.output_dir(project_id, request_id, output_id) / f"{part}.enc"
        if not path.is_file():
            return None
        return decrypt(self.keys, path.read_bytes(), _aad(output_id, part))

    def remove_candidates(self, project_id: str, request_id: str) -> None:
        shutil.rmtree(self.root / project_id / request_id, ignore_errors=True)

    # -- populations --------------------------------------------------------------------------
    def persons_path(self, project_id: str, output_id: str) -> Path:
        return self.root / project_id / PERSONS / f"{output_id}.enc"

    def write_persons(self, project_id: str, output_id: str, data: bytes) -> None:
        blob = encrypt(self.keys, workspace_key_name(project_id), data, _aad(output_id, PERSONS))
        write_private(self.persons_path(project_id, output_id), blob)

    def read_persons(self, project_id: str, output_id: str) -> pa.Array | None:
        path = self.persons_path(project_id, output_id)
        if not path.is_file():
            return None
        return deserialize_persons(decrypt(self.keys, path.read_bytes(), _aad(output_id, PERSONS)))

    def remove_persons(self, project_id: str, output_ids: list[str]) -> None:
        for output_id in output_ids:
            self.persons_path(project_id, output_id).unlink(missing_ok=True)

    # -- released folders ---------------------------------------------------------------------
    def staging(self, project_id: str, request_id: str) -> Path:
        target = self.releases / project_id / ".staging" / request_id
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, mode=0o700)
        return target

    def publish(self, staged: Path, project_id: str, request_id: str) -> str:
        """Move a staged release into place; returns its path relative to ``releases/``."""
        final = self.releases / project_id / request_id
        shutil.rmtree(final, ignore_errors=True)  # a leftover of a release that did not commit
        os.replace(staged, final)
        with contextlib.suppress(OSError):
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return f"{project_id}/{request_id}"

    def released_dir(self, relative: str) -> Path:
        return self.releases / relative
