"""Parquet modular encryption with keys from the key store.

pyarrow asks a ``KmsClient`` to wrap the file's data encryption keys with a "master key
identifier". Ours is ``<key name>@<version>``, naming a data key of the key store. The wrapped
form is the one parquet-java's ``InMemoryKMS`` produces (base64 of nonce | AES-GCM ciphertext,
the identifier as AAD), so a JVM engine given the same key can read the files too.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

import pyarrow.parquet.encryption as pe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from havre.core.errors import KeyStoreError
from havre.keys.base import KeyStore

NONCE_BYTES = 12


def key_identifier(name: str, version: int) -> str:
    return f"{name}@{version}"


def parse_identifier(identifier: str) -> tuple[str, int]:
    name, _, version = identifier.rpartition("@")
    if not name or not version.isdigit():
        raise KeyStoreError(f"Malformed Parquet master key identifier '{identifier}'.")
    return name, int(version)


def wrap_with(key: bytes, key_bytes: bytes, identifier: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, key_bytes, identifier.encode("utf-8"))
    return base64.b64encode(nonce + sealed).decode("ascii")


def unwrap_with(key: bytes, wrapped: str | bytes, identifier: str) -> bytes:
    raw = base64.b64decode(wrapped)
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], identifier.encode("utf-8"))
    except InvalidTag:
        raise KeyStoreError(f"Cannot unwrap a Parquet key under '{identifier}'.") from None


class KeyStoreKmsClient(pe.KmsClient):  # type: ignore[misc]
    def __init__(self, store: KeyStore) -> None:
        super().__init__()
        self._store = store

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        name, version = parse_identifier(master_key_identifier)
        key, _ = self._store.data_key(name, version)
        return wrap_with(key, key_bytes, master_key_identifier)

    def unwrap_key(self, wrapped_key: str | bytes, master_key_identifier: str) -> bytes:
        name, version = parse_identifier(master_key_identifier)
        key, _ = self._store.data_key(name, version)
        return unwrap_with(key, wrapped_key, master_key_identifier)


class ParquetCrypto:
    """Encryption and decryption properties for pyarrow, bound to one key store."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._factory = pe.CryptoFactory(self._client)
        self._kms_config = pe.KmsConnectionConfig()

    def _client(self, _config: Any) -> KeyStoreKmsClient:
        return KeyStoreKmsClient(self._store)

    def encryption_properties(self, key_name: str) -> Any:
        """Uniform encryption (every column and the footer) under the key's active version."""
        _, version = self._store.data_key(key_name)
        config = pe.EncryptionConfiguration(
            footer_key=key_identifier(key_name, version),
            uniform_encryption=True,
            encryption_algorithm="AES_GCM_V1",
            plaintext_footer=False,
            double_wrapping=True,
            cache_lifetime=dt.timedelta(minutes=10),
        )
        return self._factory.file_encryption_properties(self._kms_config, config)

    def decryption_properties(self) -> Any:
        config = pe.DecryptionConfiguration(cache_lifetime=dt.timedelta(minutes=10))
        return self._factory.file_decryption_properties(self._kms_config, config)

    def clear_cache(self) -> None:
        self._factory.remove_cache_entries_for_all_tokens()
