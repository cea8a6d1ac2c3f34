"""``havre project ...`` and ``havre permit ...``: the application, its review, the permit.

Thin: each command reads its arguments, opens the hub, acts as the person behind ``--token``
(with their roles on the project) and calls one method of ``hub.projects``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_mapping, print_table
from havre.core.errors import UsageError
from havre.governance.projects import (
    Decision,
    IdentifierKind,
    Opinion,
    Permit,
    ProjectView,
    load_application_file,
)
from havre.hub import Hub

project_app = typer.Typer(help="Research projects: application, review, permit, closure.")
permit_app = typer.Typer(help="Permits: what a project may use, as every part enforces it.")

ProjectArg = Annotated[str, typer.Argument(help="Project id (prj_...).")]
FileOption = Annotated[
    Path, typer.Option("--file", help="The application document (.json or .toml).")
]
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why (written to the audit log as the justification).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
    app.add_typer(permit_app, name="permit")


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} expects a date YYYY-MM-DD, got '{value}'.") from None


def _done(hub: Hub, token: str | None, project_id: str, as_json: bool, what: str) -> None:
    """After a step: the project's state and what can be done next."""
    view = hub.projects.show(actor_for(hub, token, project=project_id), project_id)
    review = (
        view.open_review
        if view.open_review and view.open_review.value != view.status.value
        else None
    )
    data = {
        "project_id": view.id,
        "status": view.status.value,
        "open_review": view.open_review.value if view.open_review else None,
        "allowed_next": [s.value for s in view.allowed_next],
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"{what}: project {view.id} is {view.status.value}"
            + (f" (amendment {review.value})" if review else "")
            + f"; next: {', '.join(s.value for s in view.allowed_next) or 'nothing'}"
        ),
    )


# -- the applicant -----------------------------------------------------------------------------
@project_app.command("create")
def create(file: FileOption, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Create a project from an application document; you become its lead."""
    app = load_application_file(file)
    with open_hub() as hub:
        project_id = hub.projects.create(actor_for(hub, token), app)
        _done(hub, token, project_id, as_json, "Created")


@project_app.command("update")
def update(
    project: ProjectArg, file: FileOption, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Replace the draft (the application, or an amendment being prepared)."""
    app = load_application_file(file)
    with open_hub() as hub:
        hub.projects.update(actor_for(hub, token, project=project), project, app)
        _done(hub, token, project, as_json, "Updated")


@project_app.command("submit")
def submit(project: ProjectArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Submit the draft: every missing field is reported at once."""
    with open_hub() as hub:
        hub.projects.submit(actor_for(hub, token, project=project), project)
        _done(hub, token, project, as_json, "Submitted")


@project_app.command("withdraw")
def withdraw(
    project: ProjectArg, reason: ReasonOption, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Withdraw the application (or the amendment) before it is decided."""
    with open_hub() as hub:
        hub.projects.withdraw(actor_for(hub, token, project=project), project, reason)
        _done(hub, token, project, as_json, "Withdrawn")


@project_app.command("amend")
def amend(
    project: ProjectArg,
    file: Annotated[
        Path | None, typer.Option("--file", help="The amended application (default: a copy).")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Start an amendment: it goes through review again; the permit in force stays."""
    app = load_application_file(file) if file else None
    with open_hub() as hub:
        hub.projects.amend(actor_for(hub, token, project=project), project, app)
        _done(hub, token, project, as_json, "Amendment started")


# -- the reviewers -----------------------------------------------------------------------------
@project_app.command("completeness")
def completeness(
    project: ProjectArg,
    complete: Annotated[
        bool,
        typer.Option("--complete/--incomplete", help="Complete (to review) or back to draft."),
    ],
    comment: Annotated[
        str | None, typer.Option("--comment", help="What is missing (required if incomplete).")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the application's completeness (data steward)."""
    with open_hub() as hub:
        hub.projects.check_completeness(
            actor_for(hub, token, project=project), project, complete, comment
        )
        _done(hub, token, project, as_json, "Checked")


@project_app.command("review")
def review(
    project: ProjectArg,
    opinion: Annotated[
        Opinion, typer.Option("--opinion", help="favourable, unfavourable or changes_requested.")
    ],
    text: Annotated[str, typer.Option("--text", help="The opinion's text.")],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Give the ethics opinion (reviewer outside the project's team)."""
    with open_hub() as hub:
        hub.projects.give_opinion(actor_for(hub, token, project=project), project, opinion, text)
        _done(hub, token, project, as_json, "Opinion recorded")


@project_app.command("decide")
def decide(
    project: ProjectArg,
    decision: Annotated[Decision, typer.Option("--decision", help="authorised or refused.")],
    reference: Annotated[
        str,
        typer.Option(
            "--reference",
            help="CNIL decision number, conformity declaration reference, or listing text.",
        ),
    ],
    date: Annotated[str, typer.Option("--date", help="Date of the decision (YYYY-MM-DD).")],
    withhold: Annotated[
        list[IdentifierKind] | None,
        typer.Option("--withhold", help="A requested potential identifier not granted."),
    ] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record the authorisation or refusal (data steward or admin)."""
    with open_hub() as hub:
        hub.projects.decide(
            actor_for(hub, token, project=project),
            project,
            decision,
            reference=reference,
            decided_on=parse_date(date, "--date"),
            withhold=withhold or (),
            comment=comment,
        )
        _done(hub, token, project, as_json, "Decision recorded")


# -- the permit's life -------------------------------------------------------------------------
@project_app.command("issue")
def issue(project: ProjectArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Issue the permit of the authorised revision (data steward); activation comes next."""
    with open_hub() as hub:
        permit = hub.projects.issue(actor_for(hub, token, project=project), project)
    emit(permit.to_dict(), as_json, lambda: show_permit(permit))


@project_app.command("activate")
def activate(project: ProjectArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Put the issued permit in force (data steward or admin, not its issuer)."""
    with open_hub() as hub:
        permit = hub.projects.activate(actor_for(hub, token, project=project), project)
    emit(permit.to_dict(), as_json, lambda: show_permit(permit))


@project_app.command("refresh")
def refresh(project: ProjectArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Move a 'latest_at_issue' permit to the newest data version (data steward)."""
    with open_hub() as hub:
        permit = hub.projects.refresh(actor_for(hub, token, project=project), project)
    emit(permit.to_dict(), as_json, lambda: show_permit(permit))


@project_app.command("suspend")
def suspend(
    project: ProjectArg, reason: ReasonOption, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Stop all access to the project's data at once (data steward or admin)."""
    with open_hub() as hub:
        hub.projects.suspend(actor_for(hub, token, project=project), project, reason)
        _done(hub, token, project, as_json, "Suspended")


@project_app.command("reinstate")
def reinstate(
    project: ProjectArg, reason: ReasonOption, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Lift a suspension (data steward or admin)."""
    with open_hub() as hub:
        hub.projects.reinstate(actor_for(hub, token, project=project), project, reason)
        _done(hub, token, project, as_json, "Reinstated")


@project_app.command("expire-due")
def expire_due(token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Record the permits whose time has passed (access stopped then already)."""
    with open_hub() as hub:
        marked = hub.projects.expire_due(actor_for(hub, token))
    emit({"expired": marked}, as_json, lambda: console.print(f"{len(marked)} permit(s) marked"))


@project_app.command("close")
def close(
    project: ProjectArg, reason: ReasonOption, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Close the project: permits end, the workspace key is destroyed (lead or admin)."""
    with open_hub() as hub:
        outcome = hub.projects.close(actor_for(hub, token, project=project), project, reason)
    emit(
        {"project_id": project, "status": "closed", "workspace_key": outcome},
        as_json,
        lambda: console.print(f"Project {project} closed; workspace key: {outcome}"),
    )


@project_app.command("results")
def results(
    project: ProjectArg,
    summary: Annotated[str, typer.Option("--summary", help="Plain-language results.")],
    link: Annotated[
        list[str] | None, typer.Option("--link", help="Publication URL or DOI (repeatable).")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish a closed project's results in the register (lead or admin)."""
    with open_hub() as hub:
        hub.projects.record_results(
            actor_for(hub, token, project=project), project, summary=summary, links=link or ()
        )
        _done(hub, token, project, as_json, "Results recorded")


# -- reading -----------------------------------------------------------------------------------
@project_app.command("show")
def show(project: ProjectArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """A project's record: revisions, review history, permit in force, next steps."""
    with open_hub() as hub:
        view = hub.projects.show(actor_for(hub, token, project=project), project)
    emit(view.to_dict(), as_json, lambda: _show_project(view))


@project_app.command("list")
def list_projects(
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Your projects (every project for data stewards, reviewers, admins, auditors)."""
    with open_hub() as hub:
        found = hub.projects.list_projects(actor_for(hub, token), status)
    emit(
        [p.to_dict() for p in found],
        as_json,
        lambda: print_table(
            ("project", "title", "status", "under review", "permit", "expires"),
            [
                (
                    p.id,
                    p.title[:60],
                    p.status.value,
                    p.open_review.value if p.open_review else "",
                    f"v{p.permit_version}" if p.permit_version else "",
                    p.expires_at.date() if p.expires_at else "",
                )
                for p in found
            ],
        ),
    )


@permit_app.command("show")
def permit_show(
    project: ProjectArg,
    version: Annotated[int | None, typer.Option("--version", help="Default: in force.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A permit version as every part enforces it, with its hash."""
    with open_hub() as hub:
        permit = hub.projects.permit(actor_for(hub, token, project=project), project, version)
    emit(permit.to_dict(), as_json, lambda: show_permit(permit))


def show_permit(permit: Permit) -> None:
    filters = permit.row_filter
    print_mapping(
        {
            "project": permit.project_id,
            "version": permit.version,
            "status": permit.status.value,
            "issued": permit.issued_at,
            "expires": permit.expires_at,
            "named persons": ", ".join(permit.named_persons),
            "data": f"{permit.dataset} v{permit.data_version} ({permit.data_version_policy})",
            "period": f"{filters.period.start} .. {filters.period.end}",
            "population": filters.population.model_dump(exclude_defaults=True) or "everyone",
            "identifiers": ", ".join(permit.potential_identifiers_granted) or "none",
            "dates": permit.date_policy.value,
            "access": permit.access_level.value,
            "sha256": permit.sha256,
        },
        title=f"Permit of {permit.project_id}",
    )
    print_table(("table", "columns"), [(t.name, ", ".join(t.columns)) for t in permit.tables])


def _show_project(view: ProjectView) -> None:
    app = view.current.document
    print_mapping(
        {
            "project": view.id,
            "title": view.title,
            "status": view.status.value,
            "under review": view.open_review.value if view.open_review else None,
            "lead": view.lead_user_id,
            "team": ", ".join(app.team_ids()) or None,
            "dataset": app.data.dataset,
            "permit": f"v{view.permit.version} until {view.permit.expires_at.date()}"
            if view.permit
            else None,
            "next": ", ".join(s.value for s in view.allowed_next) or None,
            "results due": view.results.due_on,
            "risk": _risk_line(view),
        },
        title=view.title,
    )
    if view.steps:
        print_table(
            ("when", "revision", "step", "outcome", "by", "comment / reference"),
            [
                (
                    s.at.strftime("%Y-%m-%d %H:%M"),
                    s.revision,
                    s.step,
                    s.outcome,
                    s.actor_name,
                    (s.reference or s.comment or "")[:60],
                )
                for s in view.steps
            ],
        )


def _risk_line(view: ProjectView) -> str | None:
    """The re-identification risk the reviewer sees (havre risk assess --project for more)."""
    if view.risk is None:
        return None
    f = view.risk.figures
    if f.k_anonymity is None:
        return f"no person in the extract (revision {view.risk.revision})"
    return (
        f"k {f.k_anonymity}, average prosecutor risk {f.prosecutor_risk:.3f}, "
        f"sample uniqueness {f.sample_uniqueness:.1%} (revision {view.risk.revision}, "
        f"{view.risk.assessed_at:%Y-%m-%d})"
    )
