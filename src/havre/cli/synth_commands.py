"""``havre synth``: write a synthetic delivery (SNDS claims, FHIR and OMOP exports, opt-outs)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from havre.cli.output import JsonFlag, console, emit, err_console, print_table
from havre.core.errors import UsageError
from havre.synth.options import (
    DEFAULT_END,
    DEFAULT_FORMATS,
    DEFAULT_START,
    SCALES,
    SynthOptions,
    parse_formats,
)


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"{option} {text!r} is not a date", hint="write it YYYY-MM-DD") from error


def synth(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to create (must not exist or be empty).")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same arguments, same bytes.")],
    persons: Annotated[int | None, typer.Option("--persons", help="Number of persons.")] = None,
    scale: Annotated[
        str | None, typer.Option("--scale", help="Preset: small (1k), medium (100k), large (1M).")
    ] = None,
    start: Annotated[str, typer.Option("--start", help="First day covered.")] = str(DEFAULT_START),
    end: Annotated[str, typer.Option("--end", help="Last day covered.")] = str(DEFAULT_END),
    formats: Annotated[
        str,
        typer.Option("--formats", help="Comma-separated: snds, fhir, omop (CSV, always)."),
    ] = ",".join(DEFAULT_FORMATS),
    optout_rate: Annotated[
        float, typer.Option("--optout-rate", help="Share of persons who objected.")
    ] = 0.01,
    dirty_rate: Annotated[
        float, typer.Option("--dirty-rate", help="Share of records with a defect.")
    ] = 0.0,
    file_format: Annotated[
        str, typer.Option("--file-format", help="csv (as SNDS extracts) or parquet.")
    ] = "csv",
    force: Annotated[
        bool, typer.Option("--force", help="Replace a previous synthetic delivery in --out.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes (0: automatic). Never changes the output.")
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Write a synthetic delivery: SNDS-shaped claims, a hospital FHIR export, on request its
    OMOP CDM export, opt-out registers, and synth-manifest.json with the ground truth."""
    if persons is not None and scale is not None:
        raise UsageError("give --persons or --scale, not both")
    if persons is None and scale is None:
        raise UsageError("give --persons N or --scale small|medium|large")
    if scale is not None and scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}", hint=f"use one of {', '.join(SCALES)}")
    options = SynthOptions(
        persons=persons if persons is not None else SCALES[scale or "small"],
        seed=seed,
        out=out,
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        formats=parse_formats(formats),
        optout_rate=optout_rate,
        dirty_rate=dirty_rate,
        file_format=file_format,
        force=force,
        workers=workers,
    )
    # Loaded here: the generator pulls in Arrow and DuckDB, which other commands may not need.
    from havre.synth.delivery import Progress as SynthProgress
    from havre.synth.delivery import generate

    began = time.perf_counter()
    if err_console.is_terminal:
        with Progress(
            TextColumn("synthetic persons"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("synth", total=options.persons, rows=0)

            def advance(step: SynthProgress) -> None:
                bar.update(task, completed=step.persons_done, rows=step.rows_written)

            manifest = generate(options, advance)
    else:
        manifest = generate(options)
    seconds = time.perf_counter() - began
    summary = manifest.summary()
    summary["seconds"] = round(seconds, 2)

    def human() -> None:
        print_table(
            ("file", "rows"),
            sorted(summary["files"].items()),
            title=f"Synthetic delivery in {summary['out']}",
        )
        console.print(
            f"{summary['persons']:,} persons, {summary['rows']:,} rows, "
            f"{summary['defects']:,} defective records, in {seconds:.1f} s "
            f"({summary['persons'] / max(seconds, 1e-9):,.0f} persons/s). "
            f"Ground truth: {summary['manifest']}"
        )

    emit(summary, as_json, human)
