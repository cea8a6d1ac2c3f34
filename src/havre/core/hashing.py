"""Hashes of bytes, files and values (SHA-256, hex)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from havre.core.canonical import canonical_json

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_value(value: Any) -> str:
    """Hash of a value's canonical JSON."""
    return sha256_bytes(canonical_json(value))
