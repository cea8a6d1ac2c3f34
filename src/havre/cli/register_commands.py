"""``havre register export`` (the public register of projects) and ``havre call ...`` (calls
for projects). Both are public: no token is needed to read them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_mapping, print_table
from havre.cli.project_commands import parse_date
from havre.core.errors import UsageError
from havre.governance.projects import CallView, RegisterFormat

register_app = typer.Typer(help="The public register of projects.")
call_app = typer.Typer(help="Calls for projects: themes and dates that applications answer.")


def register(app: typer.Typer) -> None:
    app.add_typer(register_app, name="register")
    app.add_typer(call_app, name="call")


@register_app.command("export")
def export(
    fmt: Annotated[RegisterFormat, typer.Option("--format", help="csv or json.")] = (
        RegisterFormat.JSON
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output).")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every project from its submission on: purpose, responsible bodies, data, legal basis,
    decisions and dates, status, declared interests, results. No patient, no count."""
    with open_hub() as hub:
        text = hub.projects.export_register(actor_for(hub, token), fmt)
    if out is None:
        sys.stdout.write(text)
        return
    temporary = out.with_name(f".{out.name}.part")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"Cannot write the register to {out}: {exc}") from None
    emit(
        {"format": fmt.value, "out": str(out), "bytes": len(text.encode("utf-8"))},
        as_json,
        lambda: console.print(f"Register written to {out} ({fmt.value})"),
    )


@call_app.command("create")
def call_create(
    title: Annotated[str, typer.Option("--title")],
    theme: Annotated[list[str], typer.Option("--theme", help="A theme (repeatable).")],
    opens: Annotated[str, typer.Option("--opens", help="First day of applications.")],
    closes: Annotated[str, typer.Option("--closes", help="Last day of applications.")],
    description: Annotated[str, typer.Option("--description")] = "",
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a call for projects (administrators)."""
    with open_hub() as hub:
        call = hub.projects.create_call(
            actor_for(hub, token),
            title=title,
            themes=theme,
            opens_on=parse_date(opens, "--opens"),
            closes_on=parse_date(closes, "--closes"),
            description=description,
        )
    emit(call.to_dict(), as_json, lambda: _show_call(call))


@call_app.command("list")
def call_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only calls open today.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The calls for projects."""
    with open_hub() as hub:
        calls = hub.projects.calls(open_only=open_only)
    emit(
        [c.to_dict() for c in calls],
        as_json,
        lambda: print_table(
            ("call", "title", "themes", "opens", "closes", "open"),
            [
                (c.id, c.title[:50], ", ".join(c.themes), c.opens_on, c.closes_on, c.open)
                for c in calls
            ],
        ),
    )


@call_app.command("show")
def call_show(
    call: Annotated[str, typer.Argument(help="Call id (call_...).")], as_json: JsonFlag = False
) -> None:
    """A call and the submitted applications answering it."""
    with open_hub() as hub:
        found = hub.projects.call(call)
    emit(found.to_dict(), as_json, lambda: _show_call(found))


def _show_call(call: CallView) -> None:
    print_mapping(
        {
            "call": call.id,
            "title": call.title,
            "themes": ", ".join(call.themes),
            "applications": f"{call.opens_on} .. {call.closes_on}"
            + (" (open)" if call.open else ""),
            "answered by": ", ".join(call.applications) or None,
        },
        title=call.title,
    )
