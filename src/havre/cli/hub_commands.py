"""``havre init`` and ``havre status``."""

from __future__ import annotations

import typer

from havre.cli.context import open_hub
from havre.cli.output import JsonFlag, console, emit, note, print_mapping
from havre.core.config import load_settings
from havre.hub import Hub


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("status")(status)


def init(as_json: JsonFlag = False) -> None:
    """Create a hub in $HAVRE_HOME (default ./havre-home). Running it again is harmless."""
    hub, report = Hub.init(load_settings())
    with hub:
        data = {
            "home": str(report.home.resolve()),
            "hub_id": report.hub_id,
            "created": report.created,
            "notes": report.notes,
            "status": hub.status().to_dict(),
        }

    def human() -> None:
        for line in report.notes:
            note(f"[yellow]{line}[/yellow]")
        verb = "Created" if report.created else "Already initialised:"
        console.print(f"{verb} hub [bold]{report.hub_id}[/bold] in {data['home']}")

    emit(data, as_json, human)


def status(as_json: JsonFlag = False) -> None:
    """Show the hub: home, database, schema revision, key store, engine."""
    with open_hub() as hub:
        data = hub.status().to_dict()
    emit(data, as_json, lambda: print_mapping(data, title="Havre hub"))
