"""Envelope encryption of small blobs (files, secrets) under a named data key.

Format: ``HVE1`` | 2-byte header length | canonical JSON header {key, version, alg} | nonce |
AES-256-GCM ciphertext. The header is authenticated (part of the AAD), so the key version
cannot be swapped.
"""

from __future__ import annotations

import json
import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from havre.core.canonical import canonical_json
from havre.core.errors import KeyStoreError
from havre.keys.base import KeyStore

MAGIC = b"HVE1"
NONCE_BYTES = 12


def encrypt(store: KeyStore, key_name: str, plaintext: bytes, aad: bytes = b"") -> bytes:
    key, version = store.data_key(key_name)
    header = canonical_json({"alg": "AES-256-GCM", "key": key_name, "version": version})
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, MAGIC + header + aad)
    return MAGIC + struct.pack(">H", len(header)) + header + nonce + sealed


def decrypt(store: KeyStore, blob: bytes, aad: bytes = b"") -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < 6:
        raise KeyStoreError("Not a Havre encrypted blob.")
    (length,) = struct.unpack(">H", blob[4:6])
    header = blob[6 : 6 + length]
    rest = blob[6 + length :]
    meta = json.loads(header)
    key, _ = store.data_key(meta["key"], int(meta["version"]))
    try:
        return AESGCM(key).decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], MAGIC + header + aad)
    except InvalidTag:
        raise KeyStoreError(
            "Encrypted blob failed authentication (altered or wrong key)."
        ) from None


def key_of(blob: bytes) -> tuple[str, int]:
    """Which key name and version protect a blob (read from its header)."""
    (length,) = struct.unpack(">H", blob[4:6])
    meta = json.loads(blob[6 : 6 + length])
    return str(meta["key"]), int(meta["version"])
