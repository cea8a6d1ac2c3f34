"""The demo story, step by step. Each step uses the hub's services exactly as a user would."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from havre.core.config import load_settings
from havre.hub import Hub

Progress = Callable[[str], None]


@dataclass
class DemoOptions:
    home: Path = Path("havre-demo")
    persons: int = 20_000
    seed: int = 42
    keep: bool = False


@dataclass
class DemoResult:
    home: Path
    steps: list[dict[str, Any]] = field(default_factory=list)


def run(options: DemoOptions, progress: Progress) -> DemoResult:
    if options.home.exists() and not options.keep:
        shutil.rmtree(options.home)
    result = DemoResult(home=options.home)
    progress("Creating the hub (SQLite, DuckDB, local key store)")
    hub, report = Hub.init(load_settings(home=options.home, database_url=None))
    with hub:
        status = hub.status().to_dict()
        result.steps.append({"step": "init", "hub_id": report.hub_id, "status": status})
    return result
