"""``havre demo``: the main job on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from havre.cli.output import JsonFlag, console, emit, note, print_mapping
from havre.demo.story import DemoOptions, run


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
    data = {"home": str(result.home.resolve()), "steps": result.steps}

    def human() -> None:
        for step in result.steps:
            print_mapping(step.get("status", step), title=str(step["step"]))
        console.print(f"Demo hub in {data['home']}")

    emit(data, as_json, human)
