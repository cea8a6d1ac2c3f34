"""``havre risk``: re-identification risk of a table (no hub needed), or of the extract a
project's permit would produce (the permit review, through ``hub.projects``).

The risk service (NumPy, SciPy, DuckDB) is imported when a risk command runs, so that every
other command of the CLI starts without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_mapping, print_table
from havre.core.config import load_settings
from havre.core.errors import UsageError


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
        Path | None, typer.Option("--input", help="Parquet or CSV file holding the extract.")
    ] = None,
    qi: Annotated[
        str | None, typer.Option("--qi", help="Quasi-identifier columns, comma-separated.")
    ] = None,
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
        float | None,
        typer.Option("--max-suppression", help="Share of records suggestions may suppress."),
    ] = None,
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
    project: Annotated[
        str | None,
        typer.Option("--project", help="Assess the extract this project's terms would produce."),
    ] = None,
    permit_draft: Annotated[
        Path | None,
        typer.Option(
            "--permit-draft", help="With --project: a draft of the terms (.json or .toml)."
        ),
    ] = None,
    token: TokenOption = None,
    justification: Annotated[
        str | None,
        typer.Option("--justification", help="With --project: why (written to the audit log)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Measure k, uniqueness, prosecutor/journalist/marketer risk and l-diversity of a table,
    or of the extract a project's permit (or a draft of it) would produce."""
    if project is not None:
        file_options = {
            "--input": input_file,
            "--qi": qi,
            "--sensitive": sensitive,
            "--kinds": kinds,
            "--max-suppression": max_suppression,
            "--sampling-fraction": sampling_fraction,
            "--population-size": population_size,
            "--population": population,
            "--threshold": threshold,
        }
        given = [name for name, value in file_options.items() if value is not None]
        if given:
            raise UsageError(
                f"{', '.join(given)} belong to the file form, not to --project",
                hint="the permit form takes --project, --permit-draft, --target-k or "
                "--target-risk, --token and --justification",
            )
        _assess_project(project, permit_draft, target_k, target_risk, token, justification, as_json)
        return
    if permit_draft is not None or justification is not None:
        raise UsageError(
            "--permit-draft and --justification go with --project",
            hint="havre risk assess --project P [--permit-draft FILE] --justification WHY",
        )
    if input_file is None or qi is None:
        raise UsageError(
            "Give a file and its quasi-identifiers (--input FILE --qi COL,...), or a project "
            "(--project P)",
            hint="havre risk assess --help",
        )
    _assess_file(
        input_file,
        qi,
        sensitive,
        kinds,
        target_k,
        target_risk,
        max_suppression or 0.0,
        sampling_fraction,
        population_size,
        population,
        threshold,
        as_json,
    )


def _assess_project(
    project: str,
    permit_draft: Path | None,
    target_k: int | None,
    target_risk: float | None,
    token: str | None,
    justification: str | None,
    as_json: bool,
) -> None:
    from havre.governance.projects import load_permit_draft

    draft = load_permit_draft(permit_draft) if permit_draft is not None else None
    with open_hub() as hub:
        actor = actor_for(hub, token, project=project, justification=justification)
        record = hub.projects.assess_risk(
            actor, project, draft=draft, target_k=target_k, target_risk=target_risk
        )
    data = record.to_dict()
    emit(data, as_json, lambda: show_record(data))


def _assess_file(
    input_file: Path,
    qi: str,
    sensitive: str | None,
    kinds: str | None,
    target_k: int | None,
    target_risk: float | None,
    max_suppression: float,
    sampling_fraction: float | None,
    population_size: int | None,
    population: Path | None,
    threshold: float | None,
    as_json: bool,
) -> None:
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
    from havre.lake.engine import open_engine

    declaration = declare(_names(qi), _names(sensitive), _kinds(kinds))
    target = (
        RiskTarget(k=target_k, average_risk=target_risk)
        if target_k is not None or target_risk is not None
        else None
    )
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="havre-risk-") as spill:
        # DuckDB spills into a folder of its own, gone with the run; Spark keeps its own
        engine = open_engine(
            settings
            if settings.engine == "spark"
            else settings.model_copy(update={"home": Path(spill)})
        )
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
    emit(data, as_json, lambda: show_assessment(data, data.get("suggestions")))


def show_record(record: dict[str, Any]) -> None:
    """A project's assessment as the reviewer reads it."""
    report = record["report"]
    terms = report["terms"]
    population = report["population"]
    print_mapping(
        {
            "project": record["project_id"],
            "revision": record["revision"],
            "draft": "yes" if record["draft"] else "no",
            "stored for the review": "yes" if record["stored"] else "no",
            "data": f"{terms['dataset']} v{terms['data_version']}",
            "identifiers": ", ".join(terms["identifiers"]) or "none",
            "dates": f"{terms['date_policy']} ({terms['date_mode']})",
            "persons": f"{report['persons']:,} of {population['persons']:,} in the data version",
            "report sha256": record["figures"]["report_sha256"],
        },
        title="Risk of the extract the permit would produce",
    )
    for line in report["notes"]:
        console.print(f"note: {line}")
    if report["assessment"] is not None:
        show_assessment(report["assessment"], report["suggestions"])


def show_assessment(a: dict[str, Any], suggestions: dict[str, Any] | None) -> None:
    uniqueness = a["population_uniqueness"]
    journalist = a["journalist_risk"]
    summary: dict[str, Any] = {
        "records": f"{a['records']:,}",
        "quasi-identifiers": ", ".join(
            f"{q['column']} ({q['kind']})" for q in a["quasi_identifiers"]
        ),
        "k": a["k"],
        "classes": f"{a['class_count']:,}",
        "sample uniqueness": f"{a['unique_share']:.2%}",
        "population uniqueness": f"{uniqueness['share']:.2%} ({uniqueness['model']})",
        "prosecutor risk": _risk(a["prosecutor_risk"]),
        f"journalist risk ({journalist['basis']})": _risk(journalist),
        "marketer risk": f"{a['marketer_risk']:.4f}",
    }
    for attribute, diversity in (a.get("sensitive") or {}).items():
        summary[f"l-diversity of {attribute}"] = (
            f"distinct {diversity['distinct_l']}, entropy {diversity['entropy_l']:.2f}, "
            f"{diversity['homogeneous_records']:,} records in single-value classes"
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
            for b in a["classes"]
            if b["classes"]
        ],
        title="Equivalence classes",
    )
    if suggestions is None:
        return
    target = _target(suggestions["target"])
    steps = suggestions["steps"]
    with_permit = any("permit_change" in step for step in steps)
    rows = []
    for step in steps:
        what = (
            f"{step['column']}: {step['from_level']} -> {step['to_level']}"
            if step["action"] == "generalize"
            else f"suppress {step['suppressed_records']:,} records"
        )
        row = [
            what,
            step["k"],
            f"{step['prosecutor_risk']['average']:.4f}",
            f"{step['prosecutor_risk']['records_at_risk']:.2%}",
            f"{step['unique_share']:.2%}",
            f"{step['loss']['total']:.3f}",
            f"{step['records_to_suppress']:,}",
        ]
        if with_permit:
            change = step.get("permit_change") or {}
            row.append(", ".join(f"{k} {v}" for k, v in change.items()) or "-")
        rows.append(row)
    if rows:
        columns = ["step", "k", "avg risk", "at risk", "uniques", "loss", "to suppress"]
        print_table(
            (*columns, "permit term") if with_permit else columns,
            rows,
            title=f"Suggestions (target {target})",
        )
    console.print(f"Target {target}: {suggestions['message']}")


def _size_range(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _risk(values: dict[str, float]) -> str:
    return (
        f"highest {values['highest']:.4f}, average {values['average']:.4f}, "
        f"at risk {values['records_at_risk']:.2%}"
    )


def _target(target: dict[str, Any]) -> str:
    parts = []
    if target.get("k") is not None:
        parts.append(f"k >= {target['k']}")
    if target.get("average_risk") is not None:
        parts.append(f"average risk <= {target['average_risk']}")
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
