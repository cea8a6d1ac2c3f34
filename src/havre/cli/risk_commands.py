"""``havre risk``: re-identification risk of a table, and how to lower it. Needs no hub.

The risk service (NumPy, SciPy, DuckDB) is imported when a risk command runs, so that every
other command of the CLI starts without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from havre.cli.output import JsonFlag, console, emit, print_mapping, print_table
from havre.core.config import load_settings
from havre.core.errors import UsageError

if TYPE_CHECKING:
    from havre.disclosure.risk import RiskAssessment, RiskTarget, SuggestionReport


def register(app: typer.Typer) -> None:
    risk = typer.Typer(
        help="Re-identification risk of an extract: measure it, and how to lower it.",
        no_args_is_help=True,
    )
    risk.command("assess")(assess)
    risk.command("kinds")(kinds)
    app.add_typer(risk, name="risk")


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _kinds(text: str | None) -> dict[str, str]:
    out = {}
    for item in _names(text):
        column, sep, kind = item.partition("=")
        if not sep or not column.strip() or not kind.strip():
            raise UsageError(
                f"Cannot read the kind {item!r}", hint="write --kinds column=kind,column=kind"
            )
        out[column.strip()] = kind.strip()
    return out


def assess(
    input_file: Annotated[
        Path, typer.Option("--input", help="Parquet or CSV file holding the extract.")
    ],
    qi: Annotated[str, typer.Option("--qi", help="Quasi-identifier columns, comma-separated.")],
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Sensitive columns (l-diversity).")
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            "--kinds", help="Column kinds: col=birth_month,col=commune,... (havre risk kinds)."
        ),
    ] = None,
    target_k: Annotated[
        int | None, typer.Option("--target-k", help="Suggest how to reach k-anonymity k.")
    ] = None,
    target_risk: Annotated[
        float | None,
        typer.Option("--target-risk", help="Suggest how to reach this average prosecutor risk."),
    ] = None,
    max_suppression: Annotated[
        float,
        typer.Option("--max-suppression", help="Share of records suggestions may suppress."),
    ] = 0.0,
    sampling_fraction: Annotated[
        float | None,
        typer.Option("--sampling-fraction", help="Share of the population the extract holds."),
    ] = None,
    population_size: Annotated[
        int | None, typer.Option("--population-size", help="Size of the population sampled.")
    ] = None,
    population: Annotated[
        Path | None,
        typer.Option("--population", help="Parquet or CSV file of the whole population."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", help="A record is at risk above this probability (default 0.2)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Measure k, uniqueness, prosecutor/journalist/marketer risk and l-diversity of a table."""
    from havre.disclosure.risk import (
        DEFAULT_THRESHOLD,
        Population,
        RiskAnalysis,
        RiskTarget,
        declare,
        open_file,
        suggest,
    )
    from havre.disclosure.risk import register as register_relation
    from havre.lake.engine import DuckDBEngine

    declaration = declare(_names(qi), _names(sensitive), _kinds(kinds))
    target = (
        RiskTarget(k=target_k, average_risk=target_risk)
        if target_k is not None or target_risk is not None
        else None
    )
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="havre-risk-") as spill:
        engine = DuckDBEngine(settings.model_copy(update={"home": Path(spill)}))
        try:
            relation = register_relation(engine, open_file(input_file, declaration.columns))
            population_info = Population(
                sampling_fraction=sampling_fraction,
                size=population_size,
                relation=(
                    register_relation(engine, open_file(population, declaration.columns)).name
                    if population is not None
                    else None
                ),
            )
            with RiskAnalysis(
                relation,
                declaration,
                population_info,
                DEFAULT_THRESHOLD if threshold is None else threshold,
            ) as analysis:
                assessment = analysis.assess()
                report = suggest(analysis, target, max_suppression) if target else None
        finally:
            engine.close()
    data: dict[str, Any] = {"input": str(input_file), **assessment.to_dict()}
    if report is not None:
        data["suggestions"] = report.to_dict()
    emit(data, as_json, lambda: _show(assessment, report))


def _show(assessment: RiskAssessment, report: SuggestionReport | None) -> None:
    uniqueness = assessment.population_uniqueness
    summary: dict[str, Any] = {
        "records": f"{assessment.records:,}",
        "quasi-identifiers": ", ".join(f"{c.column} ({c.kind.value})" for c in assessment.columns),
        "k": assessment.k,
        "classes": f"{assessment.histogram.classes:,}",
        "sample uniqueness": f"{assessment.unique_share:.2%}",
        "population uniqueness": f"{uniqueness.share:.2%} ({uniqueness.model})",
        "prosecutor risk": _risk(assessment.prosecutor.to_dict()),
        f"journalist risk ({assessment.journalist_basis})": _risk(assessment.journalist.to_dict()),
        "marketer risk": f"{assessment.marketer:.4f}",
    }
    for diversity in assessment.diversity:
        summary[f"l-diversity of {diversity.attribute}"] = (
            f"distinct {diversity.distinct_l}, entropy {diversity.entropy_l:.2f}, "
            f"{diversity.homogeneous_records:,} records in single-value classes"
        )
    print_mapping(summary, title="Re-identification risk")
    print_table(
        ("class size", "classes", "records"),
        [
            (
                _size_range(b["min_size"], b["max_size"]),
                f"{b['classes']:,}",
                f"{b['records']:,}",
            )
            for b in assessment.histogram.bins()
            if b["classes"]
        ],
        title="Equivalence classes",
    )
    if report is None:
        return
    rows = []
    for step in report.steps:
        what = (
            f"{step.column}: {step.from_level} -> {step.to_level}"
            if step.action == "generalize"
            else f"suppress {step.assessment.suppressed_records:,} records"
        )
        a = step.assessment
        rows.append(
            (
                what,
                a.k,
                f"{a.prosecutor.average:.4f}",
                f"{a.prosecutor.records_at_risk:.2%}",
                f"{a.unique_share:.2%}",
                f"{step.loss.total:.3f}",
                f"{step.records_to_suppress:,}",
            )
        )
    if rows:
        print_table(
            ("step", "k", "avg risk", "at risk", "uniques", "loss", "to suppress"),
            rows,
            title=f"Suggestions (target {_target(report.target)})",
        )
    console.print(f"Target {_target(report.target)}: {report.message}")


def _size_range(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _risk(values: dict[str, float]) -> str:
    return (
        f"highest {values['highest']:.4f}, average {values['average']:.4f}, "
        f"at risk {values['records_at_risk']:.2%}"
    )


def _target(target: RiskTarget) -> str:
    parts = []
    if target.k is not None:
        parts.append(f"k >= {target.k}")
    if target.average_risk is not None:
        parts.append(f"average risk <= {target.average_risk}")
    return " and ".join(parts)


def kinds(as_json: JsonFlag = False) -> None:
    """List the column kinds and the generalization levels of each."""
    from havre.disclosure.risk import ColumnKind, hierarchy

    data = {kind.value: [level.name for level in hierarchy(kind).levels] for kind in ColumnKind}

    def human() -> None:
        print_table(
            ("kind", "levels (finest first)"),
            [(kind, " -> ".join(levels)) for kind, levels in data.items()],
        )

    emit(data, as_json, human)
