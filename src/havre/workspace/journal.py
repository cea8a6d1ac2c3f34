"""The query journal: the text of each query a project ran, encrypted under its key.

The audit log keeps a query's SHA-256, never its text: a researcher may type values into a
query (a rare code, a date), and the audit log outlives the project. The text is kept here,
one file per distinct query, so the airlock can show a checker what produced an output; it
is crypto-shredded with the rest of the workspace at closure.
"""

from __future__ import annotations

import os
from pathlib import Path

from havre.core.errors import NotFoundError
from havre.keys import KeyStore
from havre.keys.envelope import decrypt, encrypt

JOURNAL_AAD = b"havre-workspace-query"


class QueryJournal:
    def __init__(self, folder: Path, keys: KeyStore, key_name: str) -> None:
        self.folder = folder
        self.keys = keys
        self.key_name = key_name

    def record(self, sql: str, sql_sha256: str) -> None:
        target = self.folder / f"{sql_sha256}.enc"
        if target.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = encrypt(self.keys, self.key_name, sql.encode("utf-8"), JOURNAL_AAD)
        partial = target.with_suffix(".tmp")
        with partial.open("wb") as handle:
            handle.write(blob)
        os.replace(partial, target)

    def text(self, sql_sha256: str) -> str:
        target = self.folder / f"{sql_sha256}.enc"
        if not target.is_file():
            raise NotFoundError(f"No query with SHA-256 {sql_sha256} in this project's journal.")
        return decrypt(self.keys, target.read_bytes(), JOURNAL_AAD).decode("utf-8")
