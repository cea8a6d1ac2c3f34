"""``havre workspace ...`` and ``havre query``: a project's workspace and its sandbox.

Thin: each command opens the hub, acts as the person behind ``--token`` for the project, and
calls one method of ``hub.workspaces``. Each ``havre query`` is a process of its own, so it
loads (decrypts) the workspace every time; the long-lived service behind the web keeps
loaded workspaces in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, note, print_mapping, print_table
from havre.core.errors import UsageError
from havre.workspace import BuildResult, QueryResult, WorkspaceStatus

workspace_app = typer.Typer(help="Project workspaces: build, refresh, status, purge.")

ProjectOption = Annotated[str, typer.Option("--project", help="Project id (prj_...).")]
JustificationOption = Annotated[
    str | None,
    typer.Option("--justification", help="Why you need it (written to the audit log; required)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(workspace_app, name="workspace")
    app.command("query")(query)


@workspace_app.command("build")
def build(
    project: ProjectOption,
    justification: JustificationOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Build the project's workspace from its active permit (a named person, a data steward
    or the operator)."""
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        result = hub.workspaces.build(actor, project)
    emit(result.to_dict(), as_json, lambda: _show_build(result))


@workspace_app.command("refresh")
def refresh(
    project: ProjectOption,
    justification: JustificationOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Rebuild the workspace from the permit in force (a newer data version, new objections);
    project pseudonyms stay the same."""
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        result = hub.workspaces.refresh(actor, project)
    emit(result.to_dict(), as_json, lambda: _show_build(result))


@workspace_app.command("status")
def status(project: ProjectOption, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Data version, tables, rows, persons and size of the project's workspace."""
    with open_hub() as hub:
        result = hub.workspaces.status(actor_for(hub, token, project=project), project)
    emit(result.to_dict(), as_json, lambda: _show_status(result))


@workspace_app.command("purge")
def purge(
    project: ProjectOption,
    justification: JustificationOption = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a closed project's workspace files (unreadable since its key was destroyed)."""
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        result = hub.workspaces.purge(actor, project)
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Workspace of {result.project_id}: {result.versions} version(s) purged."
        ),
    )


def query(
    project: ProjectOption,
    sql: Annotated[str | None, typer.Option("--sql", help="One SELECT statement.")] = None,
    sql_file: Annotated[
        Path | None, typer.Option("--sql-file", help="A file holding one SELECT statement.")
    ] = None,
    justification: JustificationOption = None,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="Fewer rows than the hub's cap.", min=1)
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run one SELECT in the project's sandbox (audited; aggregate-only permits return checked
    aggregates)."""
    if (sql is None) == (sql_file is None):
        raise UsageError("Give the query with --sql or --sql-file (one of them).")
    if sql_file is not None:
        try:
            sql = sql_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read {sql_file}: {exc.strerror}") from None
    assert sql is not None
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        try:
            result = hub.workspaces.query(actor, project, sql, max_rows=max_rows)
        finally:
            hub.workspaces.close()
    emit(result.to_dict(), as_json, lambda: _show_query(result))


def _show_build(result: BuildResult) -> None:
    what = "refreshed" if result.refreshed else "built"
    console.print(
        f"Workspace of {result.project_id} {what}: v{result.version} from "
        f"{result.dataset}@v{result.data_version} (permit v{result.permit_version}), "
        f"{result.persons} persons, {result.rows} rows, {result.bytes} bytes, "
        f"{result.seconds:.1f} s"
    )
    print_table(
        ("table", "rows", "columns"), [(t.name, t.rows, len(t.columns)) for t in result.tables]
    )
    if not result.optouts_checked:
        note("objections recorded after the ingest could not be re-checked (see status)")


def _show_status(result: WorkspaceStatus) -> None:
    if not result.built:
        console.print(f"Project {result.project_id} has no workspace yet.")
        return
    print_mapping(
        {
            "project": result.project_id,
            "version": result.version,
            "state": result.state,
            "readable": result.readable,
            "data version": f"{result.dataset}@v{result.data_version}",
            "permit version": result.permit_version,
            "access level": result.access_level,
            "dates": result.date_policy,
            "persons": result.persons,
            "rows": result.rows,
            "bytes": result.bytes,
            "built": f"{result.created_at} by {result.created_by}",
        },
        title="Workspace",
    )
    if result.tables:
        print_table(
            ("table", "rows", "columns"),
            [(t.name, t.rows, ", ".join(t.columns)) for t in result.tables],
        )


def _show_query(result: QueryResult) -> None:
    print_table(result.columns, result.rows())
    notes = [f"{result.table.num_rows} row(s)", f"{result.seconds:.3f} s"]
    if result.truncated:
        notes.append(f"truncated at {result.max_rows} rows")
    if result.suppressed_rows:
        notes.append(
            f"{result.suppressed_rows} row(s) withheld: fewer than {result.threshold} persons"
        )
    note("; ".join(notes))
