"""A command loads only its own module; the table of names says which module that is."""

from __future__ import annotations

import importlib
import subprocess
import sys

import typer
import typer.main

from havre.cli.main import COMMAND_MODULES, COMMANDS


def _top_level_names(module: str) -> set[str]:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, so that one command is not collapsed into the application."""

    importlib.import_module(module).register(app)
    group = typer.main.get_group(app)
    return set(group.commands)


def test_every_top_level_command_names_the_module_that_registers_it() -> None:
    registered = {name: module for module in COMMAND_MODULES for name in _top_level_names(module)}
    assert registered == COMMANDS


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys; from havre.cli.main import command_app; command_app(['query', '--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('havre.cli.') "
        "and m.endswith('_commands')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['havre.cli.workspace_commands']"


def test_the_version_imports_no_command() -> None:
    probe = (
        "import sys; from havre.cli.main import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as exit:\n    assert exit.code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('havre.cli.') "
        "and m.endswith('_commands')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    version, commands = out.strip().splitlines()
    assert version.startswith("havre ")
    assert commands == "[]"


def test_help_lists_every_command() -> None:
    from havre.cli.main import app

    assert set(typer.main.get_group(app).commands) == set(COMMANDS)


def test_the_console_script_runs_main_with_its_objects_frozen_out_of_the_collector() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "havre"]
    assert script.value == "havre.cli.main:run"
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_freeze_count(), len(gc.get_objects())))\n"
        "from havre.cli.main import run\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "--version"], capture_output=True, text=True, check=True
    )
    version, counts = done.stdout.strip().splitlines()
    frozen, tracked = map(int, counts.split())
    assert version.startswith("havre ")
    # what is left for the exit's last collection: next to nothing of what the run made
    assert frozen > 10_000
    assert tracked < 100
    # the exit code is main's
    wrong = subprocess.run([sys.executable, "-c", probe, "--no-such-option"], capture_output=True)
    assert wrong.returncode == 2
