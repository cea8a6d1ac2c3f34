"""PKCS#11 key store backend: the master key is a non-extractable AES key inside a token
(an HSM in production; SoftHSM2 in tests). Data keys are wrapped by AES-GCM computed in the
token, so the master key never enters this process.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

from havre.core.errors import KeyStoreError
from havre.keys.base import MasterKey

NONCE_BYTES = 12


class Pkcs11MasterKey(MasterKey):
    backend_name = "pkcs11"

    def __init__(self, module: Path, token_label: str, pin: str, key_label: str) -> None:
        try:
            import pkcs11
            from pkcs11 import Attribute, KeyType, ObjectClass
        except ImportError:  # the 'hsm' extra is not installed
            raise KeyStoreError(
                "The PKCS#11 key store needs the 'hsm' extra: pip install 'havre[hsm]'."
            ) from None
        if not module.exists():
            raise KeyStoreError(
                f"PKCS#11 library {module} not found.",
                hint="install the HSM's library (SoftHSM2: apt-get install softhsm2) or set "
                "HAVRE_PKCS11_MODULE",
            )
        self._pkcs11 = pkcs11
        self._lock = threading.Lock()
        self.module = module
        self.token_label = token_label
        self.key_label = key_label
        try:
            lib = pkcs11.lib(str(module))
            token = lib.get_token(token_label=token_label)
        except Exception as exc:
            raise KeyStoreError(
                f"PKCS#11 token '{token_label}' not found in {module}: {exc}"
            ) from None
        try:
            self._session = token.open(user_pin=pin, rw=True)
        except pkcs11.UserAlreadyLoggedIn:
            # login state is per process: another session of ours already logged in
            self._session = token.open(rw=True)
        except Exception as exc:
            raise KeyStoreError(
                f"Cannot log in to PKCS#11 token '{token_label}': {type(exc).__name__}.",
                hint="check HAVRE_PKCS11_PIN",
            ) from None
        try:
            self._key: Any = self._session.get_key(
                object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=key_label
            )
        except pkcs11.NoSuchKey:
            self._key = self._session.generate_key(
                KeyType.AES,
                256,
                label=key_label,
                store=True,
                template={
                    Attribute.EXTRACTABLE: False,
                    Attribute.SENSITIVE: True,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                },
            )
        except pkcs11.MultipleObjectsReturned:
            raise KeyStoreError(
                f"Several keys labelled '{key_label}' in token '{token_label}'."
            ) from None

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        nonce = secrets.token_bytes(NONCE_BYTES)
        with self._lock:
            sealed = self._key.encrypt(
                plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)
            )
        return nonce + bytes(sealed)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        nonce, sealed = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            with self._lock:
                plain = self._key.decrypt(
                    sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)
                )
        except self._pkcs11.PKCS11Error:
            raise KeyStoreError(
                "The token could not unwrap a key: wrong token or master key, or the keyring "
                "was altered."
            ) from None
        return bytes(plain)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.backend_name,
            "module": str(self.module),
            "token": self.token_label,
            "master_key_label": self.key_label,
        }

    def close(self) -> None:
        try:
            self._session.close()
        except Exception:  # closing a dead session is not an error worth reporting
            return
