"""``havre token create|list|revoke``: API tokens for scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_table
from havre.governance.identity import TokenView

token_app = typer.Typer(help="API tokens: random, scoped, expiring, revocable.")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")


def _rows(tokens: list[TokenView]) -> list[tuple[object, ...]]:
    return [
        (t.id, t.name, t.project_id or "", ",".join(t.scopes), t.expires_at, t.state)
        for t in tokens
    ]


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    project: Annotated[
        str | None, typer.Option("--project", help="Restrict the token to this project.")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A role the token may use (repeatable; default: all)."),
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Lifetime in days.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API token from a signed-in session. Prints the token once."""
    with open_hub() as hub:
        new = hub.identity.create_token(
            actor_for(hub, token),
            name=name,
            project_id=project,
            scopes=scope or ["all"],
            days=days,
        )

    def human() -> None:
        console.print(f"API token {new.info.id} (shown once; only its digest is kept):")
        console.print(new.token)

    emit(new.to_dict(), as_json, human)


@token_app.command("list")
def list_tokens(
    user: Annotated[
        str | None, typer.Option("--user", help="Someone else's tokens (admin, auditor).")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include expired and revoked tokens.")
    ] = False,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List API tokens (never the tokens themselves)."""
    with open_hub() as hub:
        tokens = hub.identity.list_tokens(actor_for(hub, token), user, include_inactive=show_all)
    emit(
        {"tokens": [t.to_dict() for t in tokens]},
        as_json,
        lambda: print_table(["id", "name", "project", "scopes", "expires", "state"], _rows(tokens)),
    )


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (tok_...).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API token (its owner, an administrator, the operator)."""
    with open_hub() as hub:
        view = hub.identity.revoke_token(actor_for(hub, token), token_id, reason)
    emit(view.to_dict(), as_json, lambda: console.print(f"Revoked {view.id}."))
