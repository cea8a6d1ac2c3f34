"""The ``havre`` command. Thin: each command opens the hub and calls one service."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import click
import typer

import havre
from havre.cli.output import err_console, print_json
from havre.core.errors import HavreError

app = typer.Typer(
    name="havre",
    help="Havre: a trusted research environment for health data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Each module has ``register(app)``; adding a command group is one line here.
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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"havre {havre.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Havre: a trusted research environment for health data."""


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        result = app(args=args, prog_name="havre", standalone_mode=False)
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


def _report(error: HavreError, as_json: bool) -> None:
    if as_json:
        print_json(error.to_dict())
    err_console.print(f"[bold red]Error:[/bold red] {error.message}", markup=True)
    if error.hint:
        err_console.print(f"  hint: {error.hint}")


if __name__ == "__main__":
    main()
