"""The ``havre`` command. Thin: each command opens the hub and calls one service."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Annotated

import click
import typer

import havre
from havre.cli.output import err_console, print_json
from havre.core.errors import HavreError

_app = typer.Typer(
    name="havre",
    help="Havre: a trusted research environment for health data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Each module has ``register(app)``; adding a command group is one line here, and its
# top-level names one line in COMMANDS (tests/unit/cli/test_lazy_commands.py checks both).
COMMAND_MODULES = (
    "havre.cli.hub_commands",
    "havre.cli.demo_commands",
    "havre.cli.risk_commands",
    "havre.cli.identity_commands",
    "havre.cli.audit_commands",
    "havre.cli.disclosure_commands",
    "havre.cli.synth_commands",
    "havre.cli.ingest_commands",
    "havre.cli.optout_commands",
    "havre.cli.catalog_commands",
    "havre.cli.project_commands",
    "havre.cli.register_commands",
    "havre.cli.workspace_commands",
    "havre.cli.release_commands",
)
# top-level command -> the module registering it: a command imports only its own module
# (the others would add a second or more to every start)
COMMANDS = {
    "init": "havre.cli.hub_commands",
    "status": "havre.cli.hub_commands",
    "demo": "havre.cli.demo_commands",
    "risk": "havre.cli.risk_commands",
    "user": "havre.cli.identity_commands",
    "login": "havre.cli.identity_commands",
    "logout": "havre.cli.identity_commands",
    "role": "havre.cli.identity_commands",
    "access": "havre.cli.identity_commands",
    "token": "havre.cli.identity_commands",
    "audit": "havre.cli.audit_commands",
    "disclosure": "havre.cli.disclosure_commands",
    "synth": "havre.cli.synth_commands",
    "ingest": "havre.cli.ingest_commands",
    "quarantine": "havre.cli.ingest_commands",
    "optout": "havre.cli.optout_commands",
    "catalog": "havre.cli.catalog_commands",
    "project": "havre.cli.project_commands",
    "permit": "havre.cli.project_commands",
    "register": "havre.cli.register_commands",
    "call": "havre.cli.register_commands",
    "workspace": "havre.cli.workspace_commands",
    "query": "havre.cli.workspace_commands",
    "release": "havre.cli.release_commands",
}
_registered: set[str] = set()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"havre {havre.__version__}")
        raise typer.Exit()


@_app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Havre: a trusted research environment for health data."""


def command_app(args: list[str] | None = None) -> typer.Typer:
    """The ``havre`` application holding the command ``args`` name, or every command (for
    help, an unknown name, or no arguments); none for ``--version`` alone."""
    first = next((a for a in args or [] if not a.startswith("-")), None)
    if first is None and "--version" in (args or []):
        return _app  # the command modules would take ~1 s to say the version
    module = COMMANDS.get(first) if first is not None else None
    for name in [module] if module is not None else COMMAND_MODULES:
        if name not in _registered:
            importlib.import_module(name).register(_app)
            _registered.add(name)
    return _app


def __getattr__(name: str) -> typer.Typer:
    # ``app``: the application with every command (tests, documentation checks)
    if name == "app":
        return command_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        result = command_app(args)(args=args, prog_name="havre", standalone_mode=False)
    except HavreError as error:
        _report(error, as_json)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(2 if isinstance(error, click.UsageError) else error.exit_code)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def run() -> None:
    """The console script ``havre``: ``main`` in a process of its own. What the command's
    imports made lives as long as the process, so it is frozen out of the garbage collector
    (``gc.freeze``) once the command is imported, and so is everything when it ends: the
    collections during the run no longer walk the modules, and the exit skips the last full
    collection, which walked every object of a run for nothing (~0.3 s a call). ``main`` does
    neither: the tests call it in their own long-lived process."""
    command_app(sys.argv[1:])
    gc.freeze()
    try:
        main()
    finally:
        gc.freeze()


def _report(error: HavreError, as_json: bool) -> None:
    if as_json:
        print_json(error.to_dict())
    err_console.print(f"[bold red]Error:[/bold red] {error.message}", markup=True)
    if error.hint:
        err_console.print(f"  hint: {error.hint}")


if __name__ == "__main__":
    run()
