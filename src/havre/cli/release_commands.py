"""``havre release ...``: the airlock, from a request to the download of released files.

Thin: each command opens the hub, acts as the person behind ``--token`` (for the request's
project, so roles held on it count), and calls one method of ``hub.airlock``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_table
from havre.core.actor import Actor
from havre.core.errors import UsageError
from havre.disclosure.airlock import BudgetView, ReleaseSpec, ReleaseView, load_release_spec
from havre.disclosure.airlock.spec import with_privacy
from havre.hub import Hub

release_app = typer.Typer(
    help="The airlock: release requests, checks, two checkers, released files.",
    no_args_is_help=True,
)

FAIL_EXIT = 10  # an output fails its checks (the exit code of DisclosureError)

RequestArgument = Annotated[str, typer.Argument(help="Release request id (rel_...).")]
JustificationOption = Annotated[
    str | None,
    typer.Option("--justification", help="Why you need it (written to the audit log; required)."),
]
SpecOption = Annotated[
    Path,
    typer.Option("--output-spec", help="Output spec (JSON or TOML), see docs/airlock.md."),
]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why (kept with the step).")]
PrivacyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--dp-epsilon",
        help="Differentially private counts for a count output: NAME=EPSILON (repeatable).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        name, sep, rest = item.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise UsageError(f"{option} {item!r}: expected NAME=VALUE")
        pairs[name.strip()] = rest.strip()
    return pairs


def _load(path: Path, epsilons: list[str] | None) -> tuple[ReleaseSpec, dict[str, bytes]]:
    spec, files = load_release_spec(path)
    asked = _pairs(epsilons, "--dp-epsilon")
    if not asked:
        return spec, files
    try:
        values = {name: float(value) for name, value in asked.items()}
    except ValueError:
        raise UsageError("--dp-epsilon: expected NAME=EPSILON, EPSILON a number") from None
    return with_privacy(spec, values), files


def _show(view: ReleaseView, as_json: bool, *, exit_on_fail: bool = False) -> None:
    def human() -> None:
        console.print(
            f"[bold]{view.id}[/bold] project {view.project_id}: [bold]{view.state}[/bold] "
            f"(round {view.round})"
        )
        rows = []
        for output in view.outputs:
            summary = output.report.get("summary", {})
            rows.append(
                [
                    output.name,
                    output.kind,
                    output.version,
                    output.status,
                    f"{summary.get('fail', 0)}/{summary.get('cells', 0)}",
                    ", ".join(_rules(output.report)),
                ]
            )
        print_table(["output", "kind", "version", "status", "failing cells", "rules"], rows)
        for review in view.reviews:
            console.print(
                f"review (round {review.round}) by {review.checker_user_id}: {review.verdict}"
                + (f" - {review.comment}" if review.comment else "")
            )
        if view.reviews_hidden:
            console.print(f"{view.reviews_hidden} review(s) not shown yet (blind review)")
        for done in view.consolidations:
            console.print(
                f"round {done.round}: {done.outcome} by {done.by_user_id}"
                + ("" if done.agreed else f" (checkers disagreed: {done.resolution})")
            )
        console.print(f"next: {', '.join(view.allowed_next) or 'none'}")

    emit(view.to_dict(), as_json, human)
    if exit_on_fail and view.status_counts.get("fail"):
        raise typer.Exit(code=FAIL_EXIT)


def _rules(report: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for cell in report.get("cells", ()):
        if cell.get("status") != "pass":
            for name in cell.get("rules", ()):
                seen[name] = None
    return list(seen)


@contextlib.contextmanager
def on_request(token: str | None, request_id: str) -> Iterator[tuple[Hub, Actor]]:
    """The hub, and the person acting on a release request's project."""
    with open_hub() as hub:
        yield hub, actor_for(hub, token, project=hub.airlock.project_of(request_id))


@release_app.command("request")
def request(
    project: Annotated[str, typer.Option("--project", help="Project id (prj_...).")],
    output_spec: SpecOption,
    justification: JustificationOption = None,
    context: Annotated[
        str | None, typer.Option("--context", help="What the outputs are for (default: spec's).")
    ] = None,
    dp_epsilon: PrivacyOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask to take outputs out: they are computed in the workspace and checked at once."""
    spec, files = _load(output_spec, dp_epsilon)
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        view = hub.airlock.request(actor, project, spec, attachments=files, context=context)
    _show(view, as_json, exit_on_fail=True)


@release_app.command("check")
def check(
    request_id: RequestArgument,
    output_spec: Annotated[
        Path | None,
        typer.Option("--output-spec", help="A reworked output spec (after a return)."),
    ] = None,
    justification: JustificationOption = None,
    dp_epsilon: PrivacyOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Compute and check the outputs again (new versions), with a reworked spec if given."""
    if dp_epsilon and output_spec is None:
        raise UsageError("--dp-epsilon goes with --output-spec (the reworked outputs)")
    loaded = _load(output_spec, dp_epsilon) if output_spec is not None else None
    with open_hub() as hub:
        project = hub.airlock.project_of(request_id)
        actor = actor_for(hub, token, project=project, justification=justification)
        if loaded is None:
            view = hub.airlock.check(actor, request_id)
        else:
            view = hub.airlock.check(actor, request_id, loaded[0], attachments=loaded[1])
    _show(view, as_json, exit_on_fail=True)


@release_app.command("submit")
def submit(
    request_id: RequestArgument, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Send the checked request to the checkers (refused while an output fails)."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.submit(actor, request_id)
    _show(view, as_json)


@release_app.command("review")
def review(
    request_id: RequestArgument,
    verdict: Annotated[
        str, typer.Option("--verdict", help="approve, return or reject (every output).")
    ],
    outputs: Annotated[
        list[str] | None,
        typer.Option("--output", help="Another verdict for one output: NAME=VERDICT."),
    ] = None,
    notes: Annotated[
        list[str] | None, typer.Option("--note", help="A comment on one output: NAME=TEXT.")
    ] = None,
    comment: CommentOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A checker's blind review of every output of the submitted request."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.review(
            actor,
            request_id,
            verdict,
            outputs=_pairs(outputs, "--output"),
            notes=_pairs(notes, "--note"),
            comment=comment,
        )
    _show(view, as_json)


@release_app.command("consolidate")
def consolidate(
    request_id: RequestArgument,
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome", help="approved, returned or rejected (required on disagreement)."
        ),
    ] = None,
    resolution: Annotated[
        str | None,
        typer.Option("--resolution", help="How a disagreement was settled (required then)."),
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record the outcome of the two reviews (a third checker decides when they disagree)."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.consolidate(actor, request_id, outcome, resolution)
    _show(view, as_json)


@release_app.command("approve")
def approve(
    request_id: RequestArgument,
    comment: CommentOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Consolidate the reviews as approved."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.approve(actor, request_id, comment)
    _show(view, as_json)


@release_app.command("return")
def return_request(
    request_id: RequestArgument,
    comment: CommentOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Consolidate the reviews as returned: back to the requester for changes."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.return_request(actor, request_id, comment)
    _show(view, as_json)


@release_app.command("reject")
def reject(
    request_id: RequestArgument,
    comment: CommentOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Consolidate the reviews as rejected (final)."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.reject(actor, request_id, comment)
    _show(view, as_json)


@release_app.command("release")
def release(
    request_id: RequestArgument, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Write the approved outputs and their provenance manifest."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.release(actor, request_id)
    _show(view, as_json)


@release_app.command("withdraw")
def withdraw(
    request_id: RequestArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why the request is withdrawn.")],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The requester takes the request back before release."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.withdraw(actor, request_id, reason)
    _show(view, as_json)


@release_app.command("download")
def download(
    request_id: RequestArgument,
    out: Annotated[Path, typer.Option("--out", help="Folder to copy the released files into.")],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy a released request's files and manifest (each checked first)."""
    with on_request(token, request_id) as (hub, actor):
        result = hub.airlock.download(actor, request_id, out)
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"{len(result.files)} file(s), {result.bytes} bytes, copied to {result.out}"
        ),
    )


@release_app.command("inspect")
def inspect(
    request_id: RequestArgument,
    output: Annotated[str, typer.Option("--output", help="The output to inspect.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the candidate into.")],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Checkers: write an output's query, file and attachment into a folder (audited)."""
    with on_request(token, request_id) as (hub, actor):
        seen = hub.airlock.inspect(actor, request_id, output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (
        (f"{seen.name}.sql", seen.sql.encode("utf-8") if seen.sql is not None else None),
        (f"{seen.name}.csv", seen.content),
        (seen.attachment_name, seen.attachment),
    ):
        if name is not None and data is not None:
            (out / name).write_bytes(data)
            written.append(name)
    emit(
        {"request_id": request_id, "output": seen.name, "kind": seen.kind, "files": written},
        as_json,
        lambda: console.print(f"{', '.join(written)} written to {out}"),
    )


@release_app.command("show")
def show(request_id: RequestArgument, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """The request: outputs with their check reports, reviews you may see, next steps."""
    with on_request(token, request_id) as (hub, actor):
        view = hub.airlock.show(actor, request_id)
    _show(view, as_json)


@release_app.command("list")
def list_requests(
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Release requests: all of them for checkers and hub staff, your projects' for others."""
    with open_hub() as hub:
        found = hub.airlock.list_requests(actor_for(hub, token, project=project), project, state)
    emit(
        [r.to_dict() for r in found],
        as_json,
        lambda: print_table(
            ["request", "project", "state", "round", "outputs", "created"],
            [[r.id, r.project_id, r.state, r.round, r.outputs, r.created_at] for r in found],
        ),
    )


@release_app.command("budget")
def budget(
    project: Annotated[str, typer.Option("--project", help="Project id (prj_...).")],
    set_total: Annotated[
        float | None, typer.Option("--set", help="Data stewards: the project's total epsilon.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why it changes.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A project's differential privacy budget: total, spent, remaining, what spent it."""
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project)
        if set_total is None:
            view: BudgetView = hub.airlock.budget(actor, project)
        else:
            view = hub.airlock.set_budget(actor, project, set_total, reason or "")
    emit(
        view.to_dict(),
        as_json,
        lambda: console.print(
            f"{view.project_id}: {view.spent_epsilon:g} of {view.total_epsilon:g} spent, "
            f"{view.remaining_epsilon:g} left ({len(view.entries)} output(s))"
        ),
    )
