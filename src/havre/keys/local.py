"""Local key store backend: the master key is a random key file, or derived from a passphrase.

The passphrase is stretched with argon2id; the salt and parameters live in the keyring so that
the same passphrase opens it again. A wrong passphrase fails the keyring's check value: a clear
error, never garbage.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from havre.core.errors import KeyStoreError
from havre.keys.base import MasterKey

NONCE_BYTES = 12
ARGON2_PARAMS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 2}


class LocalMasterKey(MasterKey):
    backend_name = "local"

    def __init__(self, key: bytes, source: str, location: str | None = None) -> None:
        if len(key) != 32:
            raise KeyStoreError("A local master key must be 32 bytes.")
        self._aead = AESGCM(key)
        self.source = source
        self.location = location

    @classmethod
    def from_key_file(cls, path: Path) -> LocalMasterKey:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(
                f"Master key file {path} does not exist.",
                hint="restore it from your backup, or set HAVRE_MASTER_PASSPHRASE if the hub "
                "was created with a passphrase",
            ) from None
        except PermissionError:
            raise KeyStoreError(f"Cannot read the master key file {path} (permission).") from None
        if len(raw) != 32:
            raise KeyStoreError(f"Master key file {path} must hold exactly 32 bytes.")
        return cls(raw, source="file", location=str(path))

    @classmethod
    def create_key_file(cls, path: Path) -> LocalMasterKey:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(key, source="file", location=str(path))

    @classmethod
    def from_passphrase(cls, passphrase: str, salt: bytes) -> LocalMasterKey:
        if len(passphrase) < 12:
            raise KeyStoreError("The master passphrase must be at least 12 characters long.")
        key = hash_secret_raw(
            passphrase.encode("utf-8"), salt, hash_len=32, type=Type.ID, **ARGON2_PARAMS
        )
        return cls(key, source="passphrase")

    @staticmethod
    def new_salt() -> bytes:
        return secrets.token_bytes(16)

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyStoreError(
                "A wrapped key could not be unwrapped: wrong master key, or the keyring was "
                "altered."
            ) from None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.backend_name, "master_source": self.source}
        if self.location:
            info["master_key_file"] = self.location
        return info
