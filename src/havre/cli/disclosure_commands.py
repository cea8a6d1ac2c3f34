"""``havre disclosure ...``: statistical disclosure checks on a file (no hub needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from havre.cli.output import JsonFlag, console, emit, print_table
from havre.core.errors import UsageError

disclosure_app = typer.Typer(
    help="Statistical disclosure control: check tables before they leave.",
    no_args_is_help=True,
)

FAIL_EXIT = 10  # the exit code of DisclosureError: the output cannot leave as it is
PRETTY_CELLS = 2_000


def register(app: typer.Typer) -> None:
    app.add_typer(disclosure_app, name="disclosure")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _levels(values: list[str]) -> dict[str, list[str]]:
    levels: dict[str, list[str]] = {}
    for item in values:
        name, sep, rest = item.partition("=")
        if not sep or not name.strip() or not _split(rest):
            raise UsageError(f"--levels {item!r}: expected DIM=LEVEL1,LEVEL2,...")
        levels[name.strip()] = _split(rest)
    return levels


def _policy(policy_file: Path | None, datasets: list[str], project: str | None) -> Any:
    from havre.disclosure.policy import DEFAULT_DOCUMENT, load_policy_document

    document = load_policy_document(policy_file) if policy_file else DEFAULT_DOCUMENT
    return document.resolve(datasets, project)


def _earlier(path: Path | None) -> tuple[Any, ...]:
    from pydantic import TypeAdapter, ValidationError

    from havre.disclosure.releases import ReleaseRecord

    if path is None:
        return ()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    records = raw if isinstance(raw, list) else [raw]
    try:
        return tuple(TypeAdapter(list[ReleaseRecord]).validate_python(records))
    except ValidationError as exc:
        raise UsageError(
            f"{path} does not hold release records: {exc.errors()[0]['msg']}"
        ) from None


@disclosure_app.command("check")
def check(
    input_path: Annotated[
        Path, typer.Option("--input", help="CSV file, one row per person or per record.")
    ],
    persons: Annotated[str, typer.Option("--persons", help="Column naming the person.")],
    dims: Annotated[str, typer.Option("--dims", help="Dimension columns, comma-separated.")],
    kind: Annotated[
        str, typer.Option("--kind", help="count, sum, mean, median, min or max.")
    ] = "count",
    value: Annotated[
        str | None, typer.Option("--value", help="Value column (magnitude tables).")
    ] = None,
    levels: Annotated[
        list[str] | None,
        typer.Option("--levels", help="Declared levels: DIM=A,B,C (repeatable)."),
    ] = None,
    structural_zeros: Annotated[
        list[str] | None,
        typer.Option(
            "--structural-zero", help="A cell that is empty by definition: V1,V2 (repeatable)."
        ),
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Policy document (TOML or JSON).")
    ] = None,
    datasets: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="Dataset the output derives from (repeatable)."),
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    threshold: Annotated[
        int | None, typer.Option("--threshold", min=1, help="Override the threshold.")
    ] = None,
    margins: Annotated[
        bool | None,
        typer.Option("--margins/--no-margins", help="Release totals (default: the policy's)."),
    ] = None,
    suppress: Annotated[
        bool, typer.Option("--suppress", help="Output the protected table (secondary suppression).")
    ] = False,
    round_base: Annotated[
        int | None, typer.Option("--round", help="Controlled rounding to base 5 or 10.")
    ] = None,
    earlier: Annotated[
        Path | None,
        typer.Option("--earlier", help="JSON release records of earlier outputs (differencing)."),
    ] = None,
    population_base: Annotated[
        str, typer.Option("--population-base", help="What the input's population is drawn from.")
    ] = "file",
    record_release: Annotated[
        Path | None,
        typer.Option("--record-release", help="Write this output's release record (JSON) here."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the disclosure rules on a table computed from a person-level CSV file."""
    import numpy as np

    from havre.core.hashing import sha256_file
    from havre.core.ids import new_id
    from havre.disclosure.aggregate import TableSpec, aggregate
    from havre.disclosure.cells import TableKind
    from havre.disclosure.check import check_table
    from havre.disclosure.context import CheckContext
    from havre.disclosure.csvinput import open_person_csv
    from havre.disclosure.releases import PopulationRef, release_record

    try:
        table_kind = TableKind(kind)
    except ValueError:
        raise UsageError(
            f"--kind {kind!r} is not a table kind",
            hint=f"use one of {', '.join(k.value for k in TableKind)}",
        ) from None
    dim_list = _split(dims)
    policy = _policy(policy_file, datasets or [], project)
    if threshold is not None:
        policy = policy.with_params(threshold=threshold)
    if margins is not None:
        policy = policy.with_params(margins=margins)
    spec = TableSpec(
        persons=persons,
        dims=tuple(dim_list),
        kind=table_kind,
        value=value,
        levels=_levels(levels or []),
        structural_zeros=[_split(z) for z in structural_zeros or []],
        margins=policy.params.margins,
        top_n=max(2, policy.params.nk_n),
    )
    releases = _earlier(earlier)
    reader = open_person_csv(input_path, [persons, *dim_list], [value] if value else [])
    table = aggregate(reader, spec)
    grand_total = int(table.persons.ravel()[-1])
    population = PopulationRef.from_definition(
        population_base, {"file": input_path.name, "sha256": sha256_file(input_path)}, grand_total
    )
    context = CheckContext(population=population, earlier_releases=releases)
    result = check_table(table, policy, context, suppress=suppress, rounding_base=round_base)
    report = result.report
    if record_release is not None:
        released = ~np.isnan(result.released)
        record = release_record(
            table,
            released,
            population,
            new_id("rel"),
            project_id=project,
            values=result.released,
            rounding_base=round_base,
        )
        record_release.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    data = report.to_dict()
    data["input"] = str(input_path)
    data["persons_column"] = persons

    def human() -> None:
        rows = [
            [
                *("Total" if v is None else v for v in c.cell),
                c.status.value,
                ", ".join(c.rules),
                "" if c.value is None else _number(c.value),
            ]
            for c in report.cells
        ]
        print_table([*dim_list, "status", "rules", "value"], rows, title=f"{kind} table")
        summary = report.summary()
        console.print(
            f"status [bold]{report.status.value}[/bold]: {summary['pass']} pass, "
            f"{summary['fail']} fail, {summary['review']} review; policy {policy.name}"
        )
        if report.mitigation and report.mitigation.suppression:
            m = report.mitigation
            console.print(
                f"suppressed {m.primary_suppressed} failing + {m.secondary_suppressed} "
                f"complementary cells; protection proven: {m.protected}"
            )
        for line in report.notes:
            console.print(f"note: {line}")

    if as_json and len(report.cells) > PRETTY_CELLS:
        # Large reports go out on one line: the indenting encoder is pure Python and slow.
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        emit(data, as_json, human)
    if report.status.value == "fail":
        raise typer.Exit(code=FAIL_EXIT)


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


@disclosure_app.command("rules")
def rules(as_json: JsonFlag = False) -> None:
    """List the registered disclosure rules."""
    from havre.disclosure.registry import registered_rules

    found = registered_rules()
    data = [
        {
            "name": r.name,
            "applies_to": [t.__name__ for t in r.applies_to],
            "description": r.description,
        }
        for r in found.values()
    ]
    emit(
        data,
        as_json,
        lambda: print_table(
            ["rule", "applies to", "description"],
            [[d["name"], ", ".join(d["applies_to"]), d["description"]] for d in data],
        ),
    )


@disclosure_app.command("policy")
def policy(
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Policy document (TOML or JSON).")
    ] = None,
    datasets: Annotated[
        list[str] | None, typer.Option("--dataset", help="Dataset (repeatable).")
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the policy that applies to an output of these datasets and this project."""
    resolved = _policy(policy_file, datasets or [], project)
    emit(resolved.describe(), as_json)
