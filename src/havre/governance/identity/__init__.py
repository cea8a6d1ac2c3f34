"""Identity: personal accounts, argon2id passwords, mandatory TOTP, sessions and API tokens,
roles with separation of duties and four-eyes grants, lockout, access reviews."""

from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.duties import (
    require_any_role,
    require_distinct,
    require_not_member,
    require_person,
    require_role,
)
from havre.governance.identity.roles import DATA_ROLES, FOUR_EYES, Role
from havre.governance.identity.service import IdentityService
from havre.governance.identity.views import (
    AccessReview,
    CampaignView,
    GrantView,
    LoginResult,
    NewToken,
    NewUser,
    SessionInfo,
    TokenView,
    UserView,
)

__all__ = [
    "DATA_ROLES",
    "FOUR_EYES",
    "AccessReview",
    "CampaignView",
    "GrantView",
    "IdentityAction",
    "IdentityService",
    "LoginResult",
    "NewToken",
    "NewUser",
    "Role",
    "SessionInfo",
    "TokenView",
    "UserView",
    "require_any_role",
    "require_distinct",
    "require_not_member",
    "require_person",
    "require_role",
]
