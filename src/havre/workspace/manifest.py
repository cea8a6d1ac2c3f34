"""The workspace manifest: what a workspace version holds and where it came from.

Stored encrypted under the project's key (``manifest.enc``, envelope encryption): its table
and column names, counts and the permit's terms say what the project studies, which is the
project's business. The SHA-256 of the encrypted bytes is in the registry, so a swapped
manifest is detected; AES-GCM detects an edited one.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from havre.core.canonical import canonical_json
from havre.core.errors import IntegrityError
from havre.keys import KeyStore
from havre.keys.envelope import decrypt, encrypt

MANIFEST_FORMAT = 1
MANIFEST_FILE = "manifest.enc"
MANIFEST_AAD = b"havre-workspace-manifest"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkspaceFile(_Model):
    path: str  # relative to the version folder
    sha256: str  # of the encrypted bytes
    bytes: int


class WorkspaceColumn(_Model):
    name: str
    type: str
    treatment: str
    identifier: str | None = None


class WorkspaceTable(_Model):
    name: str
    rows: int
    columns: tuple[WorkspaceColumn, ...]
    file: WorkspaceFile


class PermitRef(_Model):
    version: int
    sha256: str
    access_level: str
    date_policy: str
    date_mode: str  # what was applied: exact only when the policy and the kind allow it
    identifiers: tuple[str, ...]
    period_start: str
    period_end: str
    population: dict[str, Any]


class DataRef(_Model):
    dataset: str
    version: int
    version_id: str


class OptOutCheck(_Model):
    checked: bool  # False when the data version carries no link to the register
    register_entries: int  # active objections in the register when the workspace was built
    objectors_in_version: int  # persons of the data version found among them (all removed)
    note: str = ""


class WorkspaceManifest(_Model):
    format: int = MANIFEST_FORMAT
    project_id: str
    version: int
    created_at: str
    created_by: str
    permit: PermitRef
    data: DataRef
    tables: tuple[WorkspaceTable, ...]
    persons: int  # persons in this version
    pseudonyms: WorkspaceFile  # the mapping HMAC -> project pseudonym, every person ever seen
    persons_mapped: int
    pseudonym_key_version: int  # the key version pseudonyms and offsets are derived from
    shift_days: int  # the largest date offset (kept at every refresh, like the key version)
    optouts: OptOutCheck
    withheld: tuple[str, ...]  # granted columns a workspace never carries
    encryption: dict[str, Any]  # key name and version of the tables
    software: dict[str, str]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def total_bytes(self) -> int:
        return sum(t.file.bytes for t in self.tables) + self.pseudonyms.bytes

    def table(self, name: str) -> WorkspaceTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def seal(self, keys: KeyStore, key_name: str) -> bytes:
        return encrypt(keys, key_name, canonical_json(self.model_dump(mode="json")), MANIFEST_AAD)

    @classmethod
    def open(cls, keys: KeyStore, blob: bytes, label: str) -> WorkspaceManifest:
        """Decrypt (a destroyed key raises ``KeyStoreError``) and validate."""
        plain = decrypt(keys, blob, MANIFEST_AAD)
        try:
            return cls.model_validate(json.loads(plain))
        except (ValueError, ValidationError) as exc:
            raise IntegrityError(
                f"The manifest of workspace {label} cannot be read: {exc}"
            ) from None
