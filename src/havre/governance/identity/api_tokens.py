"""API tokens for scripts: random (256 bits), stored as a keyed digest, scoped to a user, an
optional project and a subset of the user's roles, with an expiry; listable and revocable."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit import Target
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.errors import NotFoundError, PermissionDenied, StateError, UsageError
from havre.core.ids import new_id
from havre.governance.identity import store
from havre.governance.identity.actions import IdentityAction
from havre.governance.identity.base import IdentityBase, by_name
from havre.governance.identity.bearer import ALL_SCOPES
from havre.governance.identity.digests import new_api_token
from havre.governance.identity.duties import require_person
from havre.governance.identity.models import ApiTokenRow
from havre.governance.identity.roles import Role, parse_role
from havre.governance.identity.views import NewToken, TokenView

DEFAULT_TOKEN_DAYS = 30


def token_target(token_id: str | None) -> Target:
    return Target("token", token_id)


def token_view(row: ApiTokenRow, now: dt.datetime) -> TokenView:
    if row.revoked_at is not None:
        state = "revoked"
    elif now >= row.expires_at:
        state = "expired"
    else:
        state = "active"
    return TokenView(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        project_id=row.project_id,
        scopes=tuple(json.loads(row.scopes)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        state=state,
    )


class TokensMixin(IdentityBase):
    def create_token(
        self,
        actor: Actor,
        *,
        name: str,
        project_id: str | None = None,
        scopes: Sequence[str] = (ALL_SCOPES,),
        days: int | None = None,
    ) -> NewToken:
        """A new API token for the signed-in person. The token is returned this once."""
        with self._audited(actor, IdentityAction.TOKEN_CREATE, token_target(None)) as scope:
            user_id = require_person(actor, "create an API token")
            if actor.session_id is None:
                # a leaked API token must not be able to mint longer-lived ones
                raise PermissionDenied(
                    "API tokens are created from a signed-in session, not from another token.",
                    hint="sign in (havre login) and use that session's token",
                )
            store.check_project(project_id)
            name = name.strip()
            if not 1 <= len(name) <= 100 or not store.is_plain(name):
                raise UsageError("A token needs a name of 1 to 100 characters (--name).")
            days = DEFAULT_TOKEN_DAYS if days is None else days
            limit = self.settings.api_token_max_days
            if not 1 <= days <= limit:
                raise UsageError(
                    f"A token lives 1 to {limit} days; {days} asked.",
                    hint="HAVRE_API_TOKEN_MAX_DAYS sets the limit",
                )
            wanted = self._scopes(scope.session, user_id, scopes)
            now = self.now()
            token = new_api_token()
            row = ApiTokenRow(
                id=new_id("tok"),
                user_id=user_id,
                token_digest=self.digests.digest(token),
                name=name,
                project_id=project_id,
                scopes=canonical_text(wanted),
                created_at=now,
                created_in_session=actor.session_id,
                expires_at=now + dt.timedelta(days=days),
            )
            scope.session.add(row)
            scope.session.flush()
            scope.target = token_target(row.id)
            scope.project_id = project_id
            scope.details = {"scopes": wanted, "days": days}
            return NewToken(token=token, info=token_view(row, now))

    @staticmethod
    def _scopes(session: Session, user_id: str, scopes: Sequence[str]) -> list[str]:
        names = sorted({s.strip().lower() for s in scopes if s.strip()}) or [ALL_SCOPES]
        if ALL_SCOPES in names:
            if len(names) > 1:
                raise UsageError("Scope 'all' cannot be combined with named roles.")
            return names
        held = {g.role for g in store.grants_of(session, user_id)}
        for name in names:
            role = parse_role(name)
            if role.value not in held:
                raise PermissionDenied(
                    f"A token cannot carry the role '{role}': you do not hold it.",
                    hint="scopes narrow a token to roles you hold",
                )
        return [Role(n).value for n in names]

    def list_tokens(
        self, actor: Actor, user_ref: str | None = None, *, include_inactive: bool = False
    ) -> list[TokenView]:
        """Your own tokens; an administrator, auditor or the operator may list anyone's."""
        now = self.now()
        with self.db.transaction() as session:
            if user_ref is None:
                user_id = require_person(actor, "list their own tokens (give --user)")
            else:
                user_id = store.find_user(session, user_ref).id
            if user_id != actor.user_id and not (
                actor.is_operator or actor.has_role(Role.ADMIN) or actor.has_role(Role.AUDITOR)
            ):
                raise PermissionDenied("Only administrators and auditors list others' tokens.")
            rows = session.execute(
                select(ApiTokenRow)
                .where(ApiTokenRow.user_id == user_id)
                .order_by(ApiTokenRow.created_at)
            ).scalars()
            views = [token_view(r, now) for r in rows]
        return views if include_inactive else [v for v in views if v.state == "active"]

    def revoke_token(self, actor: Actor, token_id: str, reason: str | None = None) -> TokenView:
        """The token's owner, an administrator or the operator may revoke it."""
        with self._audited(actor, IdentityAction.TOKEN_REVOKE, token_target(token_id)) as scope:
            row = None
            if store.is_plain(token_id, 64):
                row = scope.session.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"No API token {token_id}.", hint="see 'havre token list'")
            if actor.user_id != row.user_id:
                self._require_admin(actor, "revoke another person's token", operator_may=True)
            scope.details["user_id"] = row.user_id
            if row.revoked_at is not None:
                raise StateError(f"Token {token_id} is already revoked.")
            row.revoked_at = self.now()
            row.revoked_by = by_name(actor)
            row.revoke_reason = store.clean_text(reason) or "revoked"
            return token_view(row, self.now())
