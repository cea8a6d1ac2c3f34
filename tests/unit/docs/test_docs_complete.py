"""Docs cannot drift: every CLI command and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer.main

from havre.cli.main import app
from havre.core.config import Settings

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, path))
        else:
            names.append(path)
    return names


def test_every_cli_command_is_in_cli_md() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    missing = [c for c in _commands(root, "havre") if f"`{c}" not in text]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_every_setting_is_in_settings_md() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [
        name for name in Settings.model_fields if not re.search(rf"`HAVRE_{name.upper()}`", text)
    ]
    assert not missing, f"settings missing from docs/settings.md: {missing}"
