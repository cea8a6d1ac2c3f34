"""``havre optout import|add|remove|list``: the register of objections (right to object)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, print_table
from havre.core.errors import UsageError
from havre.pseudo.scheme import SchemeId

optout_app = typer.Typer(help="The opt-out register, stored pseudonymized (data stewards).")


def register(app: typer.Typer) -> None:
    app.add_typer(optout_app, name="optout")


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r} is not a date", hint="write it YYYY-MM-DD") from None


@optout_app.command("import")
def optout_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="The register file: NIR;DATE_OPPOSITION, or for an OMOP source's persons "
            "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION."
        ),
    ],
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a register of objections (all or nothing; only keyed hashes are kept)."""
    with open_hub() as hub:
        result = hub.optouts.import_file(actor_for(hub, token), file)
    data = result.to_dict()
    emit(
        data,
        as_json,
        lambda: console.print(
            f"{result.lines} line(s): {result.added} added, {result.reactivated} reactivated, "
            f"{result.already_present} already present, "
            f"{result.duplicates_in_file} repeated in the file "
            f"({'OMOP person ids' if result.scheme == SchemeId.OPTOUT_OMOP.value else 'NIRs'})"
        ),
    )


@optout_app.command("add")
def optout_add(
    nir: Annotated[
        str | None, typer.Argument(help="The person's NIR (15 characters, key included).")
    ] = None,
    date: Annotated[str | None, typer.Option("--date", help="Date of the objection.")] = None,
    source_name: Annotated[
        str | None, typer.Option("--omop-source", help="For an OMOP source's person: its name.")
    ] = None,
    person_id: Annotated[
        str | None, typer.Option("--person-id", help="For an OMOP source's person: its id.")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record one person's objection."""
    with open_hub() as hub:
        actor = actor_for(hub, token)
        if nir is not None:
            result = hub.optouts.add(actor, nir, _date(date))
        elif source_name and person_id:
            result = hub.optouts.add_omop(actor, source_name, person_id, _date(date))
        else:
            raise UsageError("give a NIR, or --omop-source NAME --person-id ID")
    emit(
        result.to_dict(),
        as_json,
        lambda: console.print(
            f"Objection {result.entry_id}: {'recorded' if result.changed else 'already recorded'}"
        ),
    )


@optout_app.command("remove")
def optout_remove(
    nir: Annotated[str | None, typer.Argument(help="The person's NIR.")] = None,
    source_name: Annotated[str | None, typer.Option("--omop-source")] = None,
    person_id: Annotated[str | None, typer.Option("--person-id")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw an objection (the person consents again); the entry is kept, marked."""
    with open_hub() as hub:
        actor = actor_for(hub, token)
        if nir is not None:
            result = hub.optouts.remove(actor, nir)
        elif source_name and person_id:
            result = hub.optouts.remove_omop(actor, source_name, person_id)
        else:
            raise UsageError("give a NIR, or --omop-source NAME --person-id ID")
    emit(result.to_dict(), as_json, lambda: console.print(f"Objection {result.entry_id} withdrawn"))


@optout_app.command("list")
def optout_list(
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Show withdrawn objections too.")
    ] = False,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The register: one line per objection, identified by a prefix of its keyed hash."""
    with open_hub() as hub:
        entries = hub.optouts.entries(actor_for(hub, token), include_withdrawn=withdrawn)
    emit(
        [e.to_dict() for e in entries],
        as_json,
        lambda: print_table(
            ("id", "scheme", "key", "objected_on", "source", "active"),
            [
                (e.id, e.scheme, e.subject_key_prefix, e.objected_on, e.source, e.active)
                for e in entries
            ],
            title=f"Opt-out register: {len(entries)} objection(s)",
        ),
    )
