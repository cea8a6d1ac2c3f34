"""Audited identity actions."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class IdentityAction(StrEnum):
    USER_ADD = "user.add"
    USER_LOGIN = "user.login"
    USER_LOGOUT = "user.logout"
    USER_LOCK = "user.lock"
    USER_UNLOCK = "user.unlock"
    USER_SUSPEND = "user.suspend"
    USER_REINSTATE = "user.reinstate"
    USER_ATTEST = "user.attest"
    PASSWORD_CHANGE = "user.password_change"  # noqa: S105 - an action name
    PASSWORD_RESET = "user.password_reset"  # noqa: S105 - an action name
    TOTP_RESET = "user.totp_reset"
    RECOVERY_CODES = "user.recovery_codes"
    SESSION_CREATE = "session.create"
    SESSION_REVOKE = "session.revoke"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action name
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 - an action name
    TOKEN_USE = "token.use"  # noqa: S105 - an action name
    ROLE_GRANT = "role.grant"
    ROLE_REQUEST = "role.request"
    ROLE_APPROVE = "role.approve"
    ROLE_REJECT = "role.reject"
    ROLE_REVOKE = "role.revoke"
    ACCESS_REVIEW = "access.review"
    ACCESS_SUSPEND_INACTIVE = "access.suspend_inactive"
    CAMPAIGN_OPEN = "access.campaign_open"
    CAMPAIGN_ATTEST = "access.campaign_attest"
