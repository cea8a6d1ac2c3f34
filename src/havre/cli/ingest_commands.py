"""``havre ingest`` and ``havre quarantine list|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, err_console, print_table
from havre.ingest.result import IngestResult

quarantine_app = typer.Typer(help="What ingestion rejected, record by record (data stewards).")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.add_typer(quarantine_app, name="quarantine")


def ingest(
    path: Annotated[Path, typer.Argument(help="The delivery's folder.")],
    source: Annotated[str, typer.Option("--source", help="snds, fhir or omop.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset to add a version to.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The source's name (needed for omop: it scopes pseudonyms)."),
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest one delivery: check every record, quarantine the bad ones, leave out objectors,
    pseudonymize, map to OMOP and write a new encrypted data version."""
    with open_hub() as hub:
        actor = actor_for(hub, token)
        if as_json or not err_console.is_terminal:
            result = hub.ingest.ingest(actor, path, source, dataset=dataset, source_name=name)
        else:
            result = _with_progress(hub, actor, path, source, dataset, name)
    emit(result.to_dict(), as_json, lambda: _show(result))


def _with_progress(
    hub: Any, actor: Any, path: Path, source: str, dataset: str | None, name: str | None
) -> IngestResult:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        result: IngestResult = hub.ingest.ingest(
            actor, path, source, dataset=dataset, source_name=name, progress=progress
        )
    return result


def _show(result: IngestResult) -> None:
    # a delivery already ingested read no record: its note says so, and no rate is shown
    rate = f", {result.records_per_second:,.0f} records/s" if result.created else ""
    console.print(
        f"{'Created' if result.created else 'Already ingested as'} "
        f"[bold]{result.dataset}@v{result.version}[/bold] "
        f"({result.source_kind} '{result.source_name}', {result.seconds:.1f} s{rate})"
    )
    rows = [
        (name, c.read, c.loaded, c.quarantined, c.opted_out, c.duplicates)
        for name, c in sorted(result.reconciliation.tables.items())
    ]
    t = result.reconciliation.total
    rows.append(("TOTAL", t.read, t.loaded, t.quarantined, t.opted_out, t.duplicates))
    print_table(
        ("table", "read", "loaded", "quarantined", "opted_out", "duplicates"),
        rows,
        title="Reconciliation: read = loaded + quarantined + opted_out + duplicates",
    )
    if result.quarantine_by_reason:
        print_table(
            ("reason", "records"),
            sorted(result.quarantine_by_reason.items()),
            title="Quarantined (havre quarantine show)",
        )
    if result.unsupported:
        console.print(
            "Unsupported FHIR resource types (quarantined): "
            + ", ".join(f"{k} {v}" for k, v in sorted(result.unsupported.items()))
        )
    if result.timings:
        print_table(
            ("step", "seconds"),
            [(step, f"{seconds:.1f}") for step, seconds in result.timings],
            title="Where the time went (wall seconds per step)",
        )
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")


@quarantine_app.command("list")
def quarantine_list(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Rejected records per data version, by reason."""
    with open_hub() as hub:
        summaries = hub.ingest.quarantine.summaries(actor_for(hub, token), dataset)
    data = [s.to_dict() for s in summaries]

    def human() -> None:
        print_table(
            ("dataset", "version", "source", "created_at", "records", "by reason"),
            [
                (
                    s.dataset,
                    s.version,
                    s.source,
                    s.created_at,
                    s.records,
                    ", ".join(f"{k} {v}" for k, v in sorted(s.by_reason.items())),
                )
                for s in summaries
            ],
            title="Quarantine",
        )

    emit(data, as_json, human)


@quarantine_app.command("show")
def quarantine_show(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: Annotated[int | None, typer.Option("--version", help="Default: latest.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="Only this source table.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Records to show.")] = 100,
    offset: Annotated[int, typer.Option("--offset", help="Records to skip.")] = 0,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The rejected records of a data version: file, line, field, reason (and the value,
    unless the field is a direct identifier)."""
    with open_hub() as hub:
        page = hub.ingest.quarantine.records(
            actor_for(hub, token),
            dataset,
            version,
            reason=reason,
            table=table,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        print_table(
            ("table", "file", "line", "reason", "field", "value"),
            [
                (
                    r["source_table"],
                    r["source_file"],
                    r["line_no"],
                    r["reason"],
                    r["field"],
                    r["value"],
                )
                for r in page.records
            ],
            title=f"Quarantine of {page.dataset}@v{page.version}: {page.total} record(s), "
            f"from {page.offset + 1}",
        )

    emit(page.to_dict(), as_json, human)
