"""Every command that prints results accepts ``--json`` (issue: the CLI is for scripts too)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer

from havre.cli.main import app

# Commands whose output already is a machine-readable document of their own format.
NATIVE_FORMAT = {
    "audit export": "JSON lines, one entry each",
}


def leaf_commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path)


def test_every_command_accepts_json() -> None:
    root = typer.main.get_command(app)
    without = []
    commands = list(leaf_commands(root))
    assert len(commands) > 50
    for name in commands:
        command = root
        for part in name.split():
            assert isinstance(command, click.Group)
            command = command.commands[part]
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if "--json" not in options and name not in NATIVE_FORMAT:
            without.append(name)
    assert without == []
    assert set(NATIVE_FORMAT) <= set(commands)
