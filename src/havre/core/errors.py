"""Typed errors. Each carries a message a user can act on, a CLI exit code and an HTTP status.

The table of codes is documented in docs/cli.md; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HavreError(Exception):
    """Base of every error Havre raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "havre_error"

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.context:
            body["context"] = {k: _plain(v) for k, v in self.context.items()}
        return body

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class UsageError(HavreError):
    """The request itself is malformed: bad argument, bad value, bad file."""

    exit_code = 2
    http_status = 400
    code = "usage_error"


class ConfigError(UsageError):
    """A setting has a value Havre cannot use."""

    code = "config_error"


class NotFoundError(HavreError):
    exit_code = 3
    http_status = 404
    code = "not_found"


class AuthenticationError(HavreError):
    """Who you are could not be established (password, second factor, token, session)."""

    exit_code = 4
    http_status = 401
    code = "authentication_failed"


class PermissionDenied(HavreError):
    """You are known, but this action is not allowed to you (role, permit, separation of duties)."""

    exit_code = 5
    http_status = 403
    code = "permission_denied"


class StateError(HavreError):
    """The action does not fit the current state (workflow transition, existing, closed)."""

    exit_code = 6
    http_status = 409
    code = "invalid_state"


class IntegrityError(HavreError):
    """Stored data failed a verification: audit chain, checksum, manifest."""

    exit_code = 7
    http_status = 500
    code = "integrity_failure"


class KeyStoreError(HavreError):
    """A key is missing, destroyed, or cannot be unwrapped (wrong passphrase, HSM unavailable)."""

    exit_code = 8
    http_status = 500
    code = "key_store_error"


class DataValidationError(HavreError):
    """Input data is not what it claims to be (file shape, delimiter, encoding, missing table)."""

    exit_code = 9
    http_status = 422
    code = "data_validation_error"


class DisclosureError(HavreError):
    """An output cannot leave: it fails the statistical disclosure rules."""

    exit_code = 10
    http_status = 422
    code = "disclosure_refused"


class EngineError(HavreError):
    """The query engine failed or a limit (time, memory, rows) stopped the work."""

    exit_code = 11
    http_status = 503
    code = "engine_error"


class NotInitializedError(HavreError):
    """No hub exists at the given home."""

    exit_code = 12
    http_status = 503
    code = "hub_not_initialized"


class DatabaseUnavailable(HavreError):
    """The governance database cannot be reached."""

    exit_code = 13
    http_status = 503
    code = "database_unavailable"


ALL_ERRORS: tuple[type[HavreError], ...] = (
    HavreError,
    UsageError,
    ConfigError,
    NotFoundError,
    AuthenticationError,
    PermissionDenied,
    StateError,
    IntegrityError,
    KeyStoreError,
    DataValidationError,
    DisclosureError,
    EngineError,
    NotInitializedError,
    DatabaseUnavailable,
)
