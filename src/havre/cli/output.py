"""How the CLI prints: Rich for people, ``--json`` for scripts (one JSON document on stdout)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from havre.core.canonical import to_jsonable

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON, or call ``human`` to render it for a person."""
    if as_json:
        print_json(data)
    elif human is not None:
        human()
    else:
        print_mapping(data)


def print_mapping(data: Any, title: str | None = None) -> None:
    if not isinstance(data, dict):
        console.print(data)
        return
    table = Table(show_header=False, title=title, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(to_jsonable(value), ensure_ascii=False)
        table.add_row(str(key), "" if value is None else str(value))
    console.print(table)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def note(message: str) -> None:
    err_console.print(message)
