"""Passwords: argon2id hashes and the policy a new password must meet.

The policy refuses what an attacker tries first: short passwords, passwords from the list of
common ones (also after stripping leading/trailing digits and symbols and undoing letter
substitutions), repetitions of a short unit, digit-only passwords, and passwords built on the
person's own e-mail local part or name. Messages name the rule, never the password.
"""

from __future__ import annotations

import re
import secrets
import string
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from havre.core.errors import UsageError

MIN_LENGTH = 12
# argon2 cost grows with the input; a cap stops a megabyte "password" from tying up a worker.
MAX_LENGTH = 256
MIN_DISTINCT = 5
# RFC 9106 "low memory" profile (argon2id, t=3, m=64 MiB, p=4): argon2-cffi's default.
HASHER = PasswordHasher()

_EDGES = string.digits + string.punctuation + " "
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_LEET_L = str.maketrans({"1": "l"})


class WeakPassword(UsageError):
    code = "weak_password"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (
        resources.files("havre.governance.identity")
        .joinpath("data/common-passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def random_password(*, email: str, name: str, prefix: str = "pw-") -> str:
    """A random password that passes the policy (test people, demo people)."""
    while True:  # a random string passes but for once-in-a-million accidents
        password = prefix + secrets.token_urlsafe(18)
        try:
            check_password(password, email=email, name=name)
        except WeakPassword:
            continue
        return password


def check_password(password: str, *, email: str, name: str) -> None:
    """Refuse a password that does not meet the policy (``WeakPassword``, a ``UsageError``)."""
    hint = "choose a long passphrase of several unrelated words"
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"The password is too short: at least {MIN_LENGTH} characters are needed.", hint=hint
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password is longer than {MAX_LENGTH} characters.")
    lowered = password.lower()
    if password.isdigit():
        raise WeakPassword("The password has only digits.", hint=hint)
    if len(set(lowered)) < MIN_DISTINCT:
        raise WeakPassword(
            f"The password uses fewer than {MIN_DISTINCT} different characters.", hint=hint
        )
    if _is_common(lowered):
        raise WeakPassword("The password is in the list of common passwords.", hint=hint)
    for part in _personal_parts(email, name):
        if part in lowered:
            raise WeakPassword(
                "The password contains the account's e-mail name or the person's name.", hint=hint
            )


def _is_common(lowered: str) -> bool:
    common = common_passwords()
    core = lowered.strip(_EDGES)
    candidates = {lowered, core, core.translate(_LEET), core.translate(_LEET_L).translate(_LEET)}
    for candidate in list(candidates):
        candidates.add(candidate.strip(_EDGES))
        words = {w for w in re.split(r"[^a-z0-9]+", candidate) if w}
        if len(words) == 1:  # one word said again and again: "monkey-monkey-monkey"
            candidates.add(words.pop())
        unit = _repeated_unit(candidate)
        if unit is not None:
            candidates.add(unit)
    return any(candidate in common or _short_unit(candidate) for candidate in candidates)


def _repeated_unit(text: str) -> str | None:
    match = re.fullmatch(r"(.+?)\1+", text)
    return match.group(1) if match else None


def _short_unit(candidate: str) -> bool:
    unit = _repeated_unit(candidate)
    return unit is not None and len(unit) <= 4


def _personal_parts(email: str, name: str) -> set[str]:
    local = email.split("@", 1)[0].lower()
    parts = {local} | set(re.split(r"[._+\-]", local))
    parts |= {p.lower() for p in re.split(r"[\s\-'.]+", name)}
    return {p for p in parts if len(p) >= 3}


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


def dummy_hash() -> str:
    """A hash with the current parameters, to verify against when the account is unknown
    (so an unknown e-mail costs the same time as a wrong password)."""
    return _dummy_for(HASHER.time_cost, HASHER.memory_cost, HASHER.parallelism)


@lru_cache(maxsize=4)
def _dummy_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return HASHER.hash("havre-dummy-password-never-matches")
