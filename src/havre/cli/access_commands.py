"""``havre role ...`` (grants, four-eyes approvals) and ``havre access ...`` (reviews,
inactivity, review campaigns)."""

from __future__ import annotations

from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_mapping, print_table
from havre.governance.identity import AccessReview, CampaignView, GrantView

role_app = typer.Typer(help="Roles: grant, approve (four eyes), reject, revoke.")
access_app = typer.Typer(help="Access reviews, inactive accounts, review campaigns.")
campaign_app = typer.Typer(help="Review campaigns: a project's lead attests who keeps access.")
access_app.add_typer(campaign_app, name="campaign")

GrantArg = Annotated[str, typer.Argument(help="Grant id (rgr_...).")]
CampaignArg = Annotated[str, typer.Argument(help="Campaign id (acr_...).")]
Project = Annotated[
    str | None, typer.Option("--project", help="The project (act as its lead, or filter).")
]
Reason = Annotated[str | None, typer.Option("--reason", help="Why.")]


def register(app: typer.Typer) -> None:
    app.add_typer(role_app, name="role")
    app.add_typer(access_app, name="access")


def _grant(view: GrantView) -> None:
    print_mapping(view.to_dict(), title=f"Grant {view.id}")


# -- role ----------------------------------------------------------------------------------------
@role_app.command("grant")
def grant(
    user: Annotated[str, typer.Argument(help="User id or e-mail.")],
    role: Annotated[str, typer.Option("--role", help="The role.")],
    project: Project = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Grant a role (admin and data_steward wait for a second administrator's approval)."""
    with open_hub() as hub:
        view = hub.identity.grant_role(actor_for(hub, token, project=project), user, role, project)
    emit(view.to_dict(), as_json, lambda: _grant(view))


@role_app.command("approve")
def approve(grant_id: GrantArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Approve a pending grant (an administrator other than the requester and the grantee)."""
    with open_hub() as hub:
        view = hub.identity.approve_grant(actor_for(hub, token), grant_id)
    emit(view.to_dict(), as_json, lambda: _grant(view))


@role_app.command("reject")
def reject(
    grant_id: GrantArg, reason: Reason = None, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Reject a pending grant."""
    with open_hub() as hub:
        view = hub.identity.reject_grant(actor_for(hub, token), grant_id, reason)
    emit(view.to_dict(), as_json, lambda: _grant(view))


@role_app.command("revoke")
def revoke(
    grant_id: GrantArg,
    reason: Reason = None,
    project: Project = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a role (an administrator; a project lead for researchers of their project)."""
    with open_hub() as hub:
        view = hub.identity.revoke_grant(actor_for(hub, token, project=project), grant_id, reason)
    emit(view.to_dict(), as_json, lambda: _grant(view))


@role_app.command("pending")
def pending(token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Grants waiting for a second administrator."""
    with open_hub() as hub:
        views = hub.identity.pending_grants(actor_for(hub, token))
    rows = [(g.id, g.user_id, g.role.value, g.project_id or "", g.requested_by_name) for g in views]
    emit(
        {"pending": [g.to_dict() for g in views]},
        as_json,
        lambda: print_table(["grant", "user", "role", "project", "requested by"], rows),
    )


# -- access --------------------------------------------------------------------------------------
def _review(review: AccessReview) -> None:
    print_table(
        ["user", "e-mail", "role", "project", "state", "mfa", "status", "last sign-in"],
        [
            (
                r.user_id,
                r.email,
                r.grant.role.value,
                r.grant.project_id or "(hub-wide)",
                r.grant.state,
                "yes" if r.mfa_confirmed else "no",
                r.status + (" locked" if r.locked else ""),
                r.last_login_at,
            )
            for r in review.rights
        ],
        title="Access review",
    )
    if review.tokens:
        print_table(
            ["token", "user", "name", "project", "scopes", "expires"],
            [
                (t.id, t.user_id, t.name, t.project_id or "", ",".join(t.scopes), t.expires_at)
                for t in review.tokens
            ],
            title="Live API tokens",
        )


@access_app.command("review")
def review(
    user: Annotated[str | None, typer.Option("--user", help="Every right of this person.")] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Everyone with a right on this project.")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Who holds which role: by person, by project, or everything."""
    with open_hub() as hub:
        result = hub.identity.access_review(
            actor_for(hub, token, project=project), user_ref=user, project_id=project
        )
    emit(result.to_dict(), as_json, lambda: _review(result))


@access_app.command("suspend-inactive")
def suspend_inactive(
    days: Annotated[
        int | None, typer.Option("--days", help="Days without sign-in (default: setting, 90).")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Suspend accounts with no successful sign-in for that long."""
    with open_hub() as hub:
        suspended = hub.identity.suspend_inactive(actor_for(hub, token), days)
    emit(
        {"suspended": suspended, "count": len(suspended)},
        as_json,
        lambda: console.print(f"Suspended {len(suspended)} inactive account(s)."),
    )


# -- campaigns -----------------------------------------------------------------------------------
def _campaign(view: CampaignView) -> None:
    print_mapping(
        {
            "campaign": view.id,
            "project": view.project_id,
            "state": view.state + (" (overdue)" if view.overdue else ""),
            "due": view.due_on,
            "opened by": view.opened_by_name,
            "pending items": view.pending,
        }
    )
    print_table(
        ["item", "user", "role", "decision", "decided by"],
        [(i.id, i.user_id, i.role, i.decision or "", i.decided_by or "") for i in view.items],
    )


@campaign_app.command("open")
def campaign_open(
    project: Annotated[str, typer.Option("--project", help="The project to review.")],
    due: Annotated[str, typer.Option("--due", help="Due date (YYYY-MM-DD).")],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a review of a project's roles, for its lead to attest."""
    from havre.cli.identity_commands import parse_date

    due_on = parse_date(due, "--due")
    assert due_on is not None
    with open_hub() as hub:
        view = hub.identity.open_campaign(actor_for(hub, token), project, due_on)
    emit(view.to_dict(), as_json, lambda: _campaign(view))


@campaign_app.command("attest")
def campaign_attest(
    campaign: CampaignArg,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Item to keep (repeatable).")
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", help="Item to remove; its role is revoked (repeatable)."),
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Attest items of a campaign as the project's lead."""
    with open_hub() as hub:
        project = hub.identity.campaign_project(campaign)
        view = hub.identity.attest_campaign(
            actor_for(hub, token, project=project), campaign, keep=keep or [], remove=remove or []
        )
    emit(view.to_dict(), as_json, lambda: _campaign(view))


@campaign_app.command("show")
def campaign_show(
    campaign: CampaignArg, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Show a campaign and its items."""
    with open_hub() as hub:
        project = hub.identity.campaign_project(campaign)
        view = hub.identity.show_campaign(actor_for(hub, token, project=project), campaign)
    emit(view.to_dict(), as_json, lambda: _campaign(view))


@campaign_app.command("list")
def campaign_list(
    project: Project = None, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """List campaigns (of one project with --project)."""
    with open_hub() as hub:
        views = hub.identity.list_campaigns(actor_for(hub, token, project=project), project)
    rows = [(v.id, v.project_id, v.state, v.due_on, v.pending, v.overdue) for v in views]
    emit(
        {"campaigns": [v.to_dict() for v in views]},
        as_json,
        lambda: print_table(["campaign", "project", "state", "due", "pending", "overdue"], rows),
    )
