"""The provenance manifest written beside released files (``manifest.json``).

It says where each file comes from and what was checked: the query's SHA-256 (its text stays
in the project's encrypted journal), the data version, the permit version and its hash, the
policy and the full check report (which never holds a withheld value), the checkers and their
verdicts, and the approval and release times. Its own SHA-256 is kept in the governance store,
so a download can prove the folder was not altered.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

import havre

FORMAT = "havre-release/1"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReleasedFile(Frozen):
    name: str
    sha256: str
    bytes: int
    media_type: str


class OutputProvenance(Frozen):
    output_id: str
    name: str
    kind: str
    version: int
    status: str
    files: tuple[ReleasedFile, ...]
    spec_sha256: str
    sql_sha256: str | None
    dataset: str | None
    data_version: int | None
    data_version_id: str | None
    workspace_version: int | None
    permit_version: int
    permit_sha256: str
    draws: str | None = None  # a figure: the table output it draws
    privacy: dict[str, Any] | None = None
    checks: dict[str, Any]


class CheckerVerdict(Frozen):
    user_id: str
    verdict: str
    reviewed_at: dt.datetime


class ProvenanceManifest(Frozen):
    format: str = FORMAT
    release_id: str
    project_id: str
    requested_by: str
    requested_at: dt.datetime
    context: str
    round: int
    checkers: tuple[CheckerVerdict, ...]
    consolidated_by: str
    agreed: bool
    resolution: str | None
    approved_at: dt.datetime
    released_by: str
    released_at: dt.datetime
    outputs: tuple[OutputProvenance, ...]
    software: dict[str, str] = {"havre": havre.__version__}

    def to_bytes(self) -> bytes:
        text = json.dumps(
            self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False
        )
        return (text + "\n").encode("utf-8")
