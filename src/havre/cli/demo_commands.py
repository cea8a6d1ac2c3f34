"""``havre demo``: the main job on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from havre.cli.output import JsonFlag, console, emit, note
from havre.demo.story import DemoOptions, run
from havre.demo.summary import summarize


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    home: Annotated[Path, typer.Option(help="Folder of the demo hub.")] = Path("havre-demo"),
    persons: Annotated[int, typer.Option(min=100, help="Size of the synthetic population.")] = (
        20_000
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 42,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo hub and write its credentials.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run the story of a governed project on a fresh demo hub."""
    result = run(
        DemoOptions(home=home, persons=persons, seed=seed, keep=keep),
        progress=lambda message: note(f"[bold cyan]»[/bold cyan] {message}"),
    )
    data = summarize(result)
    emit(data, as_json, lambda: _human(data))


def _human(data: dict[str, Any]) -> None:
    def line(text: str) -> None:
        console.print(text, markup=False, soft_wrap=True)

    population = data["population"]
    line("")
    line(f"Havre demo: hub {data['hub_id']}, {data['seconds']:.0f} s")
    line(
        f"  1. {population['persons']:,} synthetic persons, {population['rows']:,} rows, "
        f"{population['dirty_records']} dirty records planted"
    )
    ingest = data["ingest"]
    for source in ("snds", "fhir"):
        counts = ingest.get(source, {})
        line(
            f"  2. {source}: {counts.get('read', 0):,} read = {counts.get('loaded', 0):,} loaded "
            f"+ {counts.get('quarantined', 0):,} quarantined + {counts.get('opted_out', 0):,} "
            f"opted out + {counts.get('duplicates', 0):,} duplicates"
        )
        reasons = sorted(
            counts.get("quarantine_by_reason", {}).items(), key=lambda item: -int(item[1])
        )
        if reasons:
            shown = ", ".join(f"{reason} {count:,}" for reason, count in reasons[:4])
            line(f"     quarantined by reason: {shown}")
    line(f"     {ingest['optouts']} objection(s) in the opt-out register")
    line(f"  3. {data['people']} people with TOTP sign-in; two projects with a permit in force:")
    for project in data["projects"]:
        review, permit = project["review_journalist_risk"], project["permit_journalist_risk"]
        line(
            f"     {project['id']} ({project['access_level']}) {project['title']} — journalist "
            f"risk at review {_risk(review)}, in the permit {_risk(permit)}"
        )
    linkage = data["linkage"]
    line(
        f"  4. person ids in both workspaces: {linkage['ids_in_both']}, of which the same "
        f"person: {linkage['same_person']} (chance level {linkage['expected_by_chance']})"
    )
    for query in data["queries"]:
        if query["refused"]:
            line(
                f"  5. {query['key']}: REFUSED ({query['error']}), "
                f"audit entry #{query['audited_seq']}"
            )
        else:
            line(f"  5. {query['key']}: {query['rows']} row(s), {query['withheld_rows']} withheld")
    for table in data["releases"]:
        line(
            f"  6. released {table['name']} after blind reviews by "
            f"{' and '.join(table['reviewers'])}: "
            f"{table['primary_suppressed']} cell(s) withheld by a rule, "
            f"{table['secondary_suppressed']} more to protect them"
        )
        if table["why"]:
            line(f"     why: {'; '.join(table['why'])}")
    audit = data["audit"]
    verdict = "intact" if audit["ok"] else "DAMAGED"
    line(
        f"  7. audit log {verdict}: {audit['entries']:,} entries, checkpoint "
        f"#{audit['checkpoint']} over {audit['tree_size']:,} (root {audit['root_hash'][:16]}...), "
        f"{audit['refusals']} refusal(s) recorded"
    )
    line(f"  8. report: {data['report']}")
    if data["credentials"]:
        line(f"Kept hub: HAVRE_HOME={data['home']}; people and tokens in {data['credentials']}")
    else:
        line("The demo hub was removed (run with --keep to keep it and act as its people).")


def _risk(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "n/a"
