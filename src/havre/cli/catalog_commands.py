"""``havre catalog``: datasets, versions, tables, data dictionary, coverage and quality."""

from __future__ import annotations

from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_table
from havre.lake.catalog import CatalogEntry


def register(app: typer.Typer) -> None:
    app.command("catalog")(catalog)


def catalog(
    dataset: Annotated[
        str | None, typer.Argument(help="One dataset: its dictionary and quality report.")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Default: latest.")] = None,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Every version, not only the latest.")
    ] = False,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """What the lake holds. With a dataset: its data dictionary (column descriptions and
    potential identifiers) and its data quality report."""
    with open_hub() as hub:
        entries = hub.lake.catalog(
            actor_for(hub, token), dataset, version, all_versions=all_versions
        )
    details = dataset is not None
    emit([e.to_dict(details=details) for e in entries], as_json, lambda: _show(entries, details))


def _show(entries: list[CatalogEntry], details: bool) -> None:
    print_table(
        ("dataset", "version", "source", "created", "persons", "records", "coverage", "quality"),
        [
            (
                e.dataset + ("" if e.latest else " (old)"),
                e.version,
                f"{e.source_kind}:{e.source_name}",
                e.created_at.date().isoformat(),
                e.manifest.table("person").rows,
                e.counts.loaded,
                f"{e.coverage_start or '?'} .. {e.coverage_end or '?'}",
                f"{e.quality.passed}/{e.quality.checks} passed",
            )
            for e in entries
        ],
        title="Havre catalog",
    )
    if not details:
        return
    for entry in entries:
        for table in entry.manifest.tables:
            print_table(
                ("column", "type", "potential identifier", "description"),
                [(c.name, c.type, c.identifier or "", c.description[:90]) for c in table.columns],
                title=f"{table.name} — {table.rows} rows — {table.description[:80]}",
            )
        failures = entry.quality.failures
        console.print(
            f"Quality of {entry.dataset}@v{entry.version}: {entry.quality.passed} of "
            f"{entry.quality.checks} checks passed"
        )
        if failures:
            print_table(
                ("category", "check", "table", "column", "violating", "of", "%", "threshold"),
                [
                    (
                        f.category,
                        f.check,
                        f.table,
                        f.column or "",
                        f.violating,
                        f.total,
                        f"{f.violating_pct:.2f}",
                        f"{f.threshold_pct:g}",
                    )
                    for f in failures
                ],
                title="Checks that failed",
            )
