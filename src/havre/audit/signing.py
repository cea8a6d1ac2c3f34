"""Ed25519 signatures of checkpoints and archives, and the public keys that check them.

The private key is ``audit/signing`` in the key store (its 32-byte data key is the Ed25519
seed). Verification never trusts a key found in the governance database: an attacker who can
write there could sign whatever they like. Keys come from the key store itself, or from a
public-key file exported with ``havre audit public-key`` and kept by an outsider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from havre.core.errors import KeyStoreError, UsageError
from havre.keys import KeyPurpose, KeyState, KeyStore

AUDIT_SIGNING_KEY = "audit/signing"
PUBLIC_KEYS_FORMAT = "havre-audit-public-keys/1"
ANY_KEY = "*"


def key_id(name: str, version: int) -> str:
    return f"{name}@{version}"


@dataclass(frozen=True)
class Signature:
    key_name: str
    key_version: int
    value: str  # hex of the 64-byte Ed25519 signature

    @property
    def key_id(self) -> str:
        return key_id(self.key_name, self.key_version)


class Signer:
    """Signs with the active version of the audit signing key."""

    def __init__(self, keys: KeyStore, key_name: str = AUDIT_SIGNING_KEY) -> None:
        self.keys = keys
        self.key_name = key_name

    def active_version(self) -> int:
        """The version new signatures use (the key is created on first use)."""
        version = self.keys.ensure(self.key_name, KeyPurpose.AUDIT_SIGNING).active_version
        if version is None:
            raise KeyStoreError(
                f"The audit signing key '{self.key_name}' has no active version.",
                hint=f"rotate it: a new version signs from now on ({self.key_name})",
            )
        return version

    def sign(self, message: bytes, version: int) -> Signature:
        private, _ = self.keys.signing_key(self.key_name, version)
        return Signature(self.key_name, version, private.sign(message).hex())

    def trusted_keys(self) -> TrustedKeys:
        return TrustedKeys.from_key_store(self.keys, self.key_name)


class TrustedKeys:
    """Public keys by key id (``audit/signing@1``); ``*`` stands for a lone PEM key."""

    def __init__(self, keys: dict[str, Ed25519PublicKey], source: str) -> None:
        self.keys = keys
        self.source = source

    def verify(self, key: str, message: bytes, signature_hex: str) -> bool:
        public = self.keys.get(key) or self.keys.get(ANY_KEY)
        if public is None:
            return False
        try:
            public.verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def knows(self, key: str) -> bool:
        return key in self.keys or ANY_KEY in self.keys

    @classmethod
    def from_key_store(cls, store: KeyStore, name: str = AUDIT_SIGNING_KEY) -> TrustedKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        if store.exists(name):
            for version in store.info(name).versions:
                if version.state is KeyState.DESTROYED:
                    continue
                private, _ = store.signing_key(name, version.version)
                keys[key_id(name, version.version)] = private.public_key()
        return cls(keys, f"key store ({store.path})")

    @classmethod
    def from_file(cls, path: Path) -> TrustedKeys:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the public key file {path}: {exc.strerror}.") from None
        if text.lstrip().startswith("-----BEGIN"):
            public = serialization.load_pem_public_key(text.encode("ascii"))
            if not isinstance(public, Ed25519PublicKey):
                raise UsageError(f"{path} holds a public key that is not Ed25519.")
            return cls({ANY_KEY: public}, str(path))
        try:
            document = json.loads(text)
            if document.get("format") != PUBLIC_KEYS_FORMAT:
                raise ValueError("format")
            keys = {
                item["key_id"]: Ed25519PublicKey.from_public_bytes(
                    bytes.fromhex(item["public_key"])
                )
                for item in document["keys"]
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UsageError(
                f"{path} is neither a PEM Ed25519 public key nor a file written by "
                "'havre audit public-key --json'."
            ) from None
        return cls(keys, str(path))

    def to_document(self) -> dict[str, Any]:
        return {
            "format": PUBLIC_KEYS_FORMAT,
            "algorithm": "Ed25519",
            "keys": [
                {
                    "key_id": name,
                    "public_key": public.public_bytes(
                        serialization.Encoding.Raw, serialization.PublicFormat.Raw
                    ).hex(),
                    "pem": public.public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    ).decode("ascii"),
                }
                for name, public in sorted(self.keys.items())
            ],
        }


def require_keys(keys: TrustedKeys) -> TrustedKeys:
    if not keys.keys:
        raise KeyStoreError(
            "No audit signing key to verify signatures with.",
            hint="run 'havre init', or give --public-key FILE",
        )
    return keys
