"""TOTP second factor (RFC 6238, 30-second steps, 6 digits).

The secret is sealed with the key store's envelope encryption (the server must read it back to
check codes, so it cannot be hashed). A code is accepted for the current step and one step
either side (clock drift); the step it matched is remembered and no code of that step or an
earlier one is accepted again, so an overheard code cannot be replayed.
"""

from __future__ import annotations

import datetime as dt
import hmac
from urllib.parse import parse_qs, urlparse

import pyotp

from havre.keys import KeyPurpose, KeyStore, envelope

TOTP_KEY = "identity/totp"
ISSUER = "Havre"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1


class TotpSecrets:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._ready = False

    def new_secret(self) -> str:
        return str(pyotp.random_base32(length=32))

    def seal(self, user_id: str, secret: str) -> bytes:
        if not self._ready:
            self.keys.ensure(TOTP_KEY, KeyPurpose.GENERAL)
            self._ready = True
        # the user id is bound into the ciphertext: a sealed secret copied onto another
        # account does not open
        return envelope.encrypt(self.keys, TOTP_KEY, secret.encode("ascii"), _aad(user_id))

    def unseal(self, user_id: str, sealed: bytes) -> str:
        return envelope.decrypt(self.keys, sealed, _aad(user_id)).decode("ascii")


def _aad(user_id: str) -> bytes:
    return f"havre-totp:{user_id}".encode()


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    return str(
        pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=email, issuer_name=issuer
        )
    )


def secret_of_uri(uri: str) -> str:
    """The shared secret of a provisioning URI, as an authenticator app reads it."""
    return parse_qs(urlparse(uri).query)["secret"][0]


def step_of(when: dt.datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, when: dt.datetime) -> int | None:
    """The time step ``code`` belongs to (within the drift window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = step_of(when)
    found = None
    # every candidate is compared (no early exit), so timing does not say which step matched
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, code) and found is None:
            found = step
    return found


def code_at(secret: str, when: dt.datetime) -> str:
    """The code an authenticator shows at ``when`` (for tests and scripted enrolment)."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(when))
