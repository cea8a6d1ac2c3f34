"""Keyed digests of bearer secrets (session and API tokens, recovery codes).

Only the digest is stored. It is an HMAC-SHA256 under a key-store key, so a copy of the
database alone cannot be used to test guesses of the shorter secrets (recovery codes). The
digest names the key version (``v2:...``): after a rotation, secrets issued under earlier
versions still match until they expire.
"""

from __future__ import annotations

import hashlib
import hmac

from havre.core.ids import random_token
from havre.keys import KeyPurpose, KeyState, KeyStore

DIGEST_KEY = "identity/digest"
SESSION_PREFIX = "hvs_"
API_TOKEN_PREFIX = "hvt_"  # noqa: S105 - a prefix, not a secret
TOKEN_BYTES = 32  # 256 bits of randomness


class SecretDigester:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.keys.ensure(DIGEST_KEY, KeyPurpose.GENERAL)
            self._ready = True

    def digest(self, secret: str) -> str:
        """The digest under the active key version (for storing)."""
        self._ensure()
        key, version = self.keys.data_key(DIGEST_KEY)
        return _mac(key, version, secret)

    def candidates(self, secret: str) -> list[str]:
        """The digest under every live key version (for looking up)."""
        self._ensure()
        out = []
        for info in self.keys.info(DIGEST_KEY).versions:
            if info.state is KeyState.DESTROYED:
                continue
            key, version = self.keys.data_key(DIGEST_KEY, info.version)
            out.append(_mac(key, version, secret))
        return out


def _mac(key: bytes, version: int, secret: str) -> str:
    mac = hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"v{version}:{mac}"


def new_session_token() -> str:
    return SESSION_PREFIX + random_token(TOKEN_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + random_token(TOKEN_BYTES)
