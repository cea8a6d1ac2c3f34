"""The demo story, step by step. Each step uses the hub's services exactly as a user would.

A run always starts a fresh demo hub in its folder. The folder must be absent, empty, or a
previous demo's (it holds ``demo.json``): the demo never deletes anything else. Without
``--keep`` the hub is removed at the end and only the report stays; with it, the hub stays and
``demo-credentials.json`` lets a tester act as each person.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from havre.core.config import load_settings
from havre.core.errors import UsageError
from havre.demo import (
    credentials,
    deliveries,
    projects,
    queries,
    releases,
    report,
    trail,
    workspaces,
)
from havre.demo.cast import Cast
from havre.hub import Hub

Progress = Callable[[str], None]
MARKER = "demo.json"
REPORT = "report"
DELIVERIES = "deliveries"


@dataclass
class DemoOptions:
    home: Path = Path("havre-demo")
    persons: int = 20_000
    seed: int = 42
    keep: bool = False


@dataclass
class DemoResult:
    home: Path
    hub_id: str = ""
    seconds: float = 0.0
    report: Path | None = None
    credentials: Path | None = None
    kept: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)

    def step(self, key: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["step"] == key)


def run(options: DemoOptions, progress: Progress) -> DemoResult:
    started = time.perf_counter()
    home = options.home
    _prepare(home)
    result = DemoResult(home=home, kept=options.keep)

    def record(key: str, title: str, since: float, facts: Any) -> None:
        seconds = round(time.perf_counter() - since, 3)
        result.steps.append(
            {"step": key, "title": title, "seconds": seconds, "facts": _plain(facts)}
        )

    progress(f"Creating a fresh demo hub in {home} (SQLite, DuckDB, local key store)")
    since = time.perf_counter()
    hub, created = Hub.init(load_settings(home=home, database_url=None))
    result.hub_id = created.hub_id
    with hub:
        record("hub", "The hub", since, {"hub_id": created.hub_id, **hub.status().to_dict()})

        progress("Seating the people: accounts with TOTP, four-eyes roles, sign-ins")
        since = time.perf_counter()
        cast = Cast(hub.identity)
        cast.seat()
        record("people", "The people", since, {"members": _members(cast)})

        progress(f"1. Generating {options.persons:,} synthetic persons as their sources send them")
        since = time.perf_counter()
        population = deliveries.generate_population(
            home / DELIVERIES, options.persons, options.seed
        )
        record("population", "The synthetic population", since, population)
        progress(f"   {population.rows:,} rows in {population.files} files")

        progress("2. Ingesting the opt-out register, the claims and the FHIR export")
        since = time.perf_counter()
        intake = deliveries.ingest(hub, cast, home / DELIVERIES)
        record("ingest", "Ingestion", since, intake)
        for source in intake.sources:
            total = source.total
            progress(
                f"   {source.source}: {total.get('read', 0):,} read, "
                f"{total.get('loaded', 0):,} loaded, {total.get('quarantined', 0):,} "
                f"quarantined, {total.get('opted_out', 0):,} opted out"
            )

        progress("3. Two projects through review to a permit (with the risk the reviewer saw)")
        since = time.perf_counter()
        stories = [projects.walk(hub, cast, plan) for plan in projects.PLANS]
        record("projects", "Projects and permits", since, {"projects": stories})
        for story in stories:
            progress(f"   {story.project_id} {story.access_level}: {story.title}")

        progress("4. Building both workspaces; checking that their person ids do not link")
        since = time.perf_counter()
        built = workspaces.build(hub, cast, stories)
        record("workspaces", "Workspaces", since, built)
        if built.linkage is not None:
            progress(
                f"   {built.linkage.ids_in_both:,} ids in both, {built.linkage.same_person} "
                f"the same person (chance: {built.linkage.expected_by_chance})"
            )

        progress("5. Governed queries; two forbidden ones are refused and audited")
        since = time.perf_counter()
        outcomes = queries.run_queries(hub, cast, stories)
        record("queries", "Governed queries", since, {"queries": outcomes})
        for outcome in outcomes:
            verdict = f"refused: {outcome.error}" if outcome.refused else "ran"
            progress(f"   {outcome.key}: {verdict}")

        progress("6. Release requests through the airlock, two blind checkers each")
        since = time.perf_counter()
        tables = releases.release_all(hub, cast, stories, home / REPORT / "released")
        record("releases", "Releases", since, {"tables": tables})
        for table in tables:
            progress(
                f"   {table.name}: {table.primary_suppressed} cell(s) withheld by a rule, "
                f"{table.secondary_suppressed} to protect them"
            )

        progress("7. The auditor signs a checkpoint and verifies the audit log")
        since = time.perf_counter()
        audit = trail.verify_and_checkpoint(hub, cast)
        record("audit", "Audit", since, audit)
        progress(f"   {audit.verification['message']} ({audit.entries:,} entries)")

        if options.keep:
            progress("Writing the credentials of the kept hub (API tokens valid for a day)")
            result.credentials = credentials.write(home, hub, cast, stories)

    progress("8. Writing the report")
    since = time.perf_counter()
    folder = home / REPORT
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "audit-public-key.json", audit.public_keys)
    _write_json(folder / "audit-checkpoint.json", audit.checkpoint)
    result.report = folder / "index.html"
    record(
        "report",
        "The report",
        since,
        {"folder": str(folder.resolve()), "html": "index.html", "json": "report.json"},
    )
    if not options.keep:
        _remove_hub(home)
    result.seconds = time.perf_counter() - started
    report.write(folder, _document(options, result))
    return result


def _document(options: DemoOptions, result: DemoResult) -> dict[str, Any]:
    return {
        "format": report.FORMAT,
        "hub_id": result.hub_id,
        "home": str(result.home.resolve()),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "persons": options.persons,
        "seed": options.seed,
        "kept": options.keep,
        "seconds": round(result.seconds, 1),
        "steps": result.steps,
    }


def _plain(value: Any) -> Any:
    """Dataclasses (nested in lists and dicts too) as plain dicts, for JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _members(cast: Cast) -> list[dict[str, Any]]:
    return [
        {
            "key": m.key,
            "name": m.character.name,
            "email": m.character.email,
            "organisation": m.character.organisation,
            "part": m.character.part,
            "roles": [r.value for r in m.character.roles],
        }
        for m in cast.members.values()
    ]


def _prepare(home: Path) -> None:
    """A fresh folder: absent, empty, or a previous demo's (emptied)."""
    if home.exists():
        if not home.is_dir():
            raise UsageError(f"{home} is a file, not a folder for the demo hub.")
        if any(home.iterdir()):
            if not (home / MARKER).is_file():
                raise UsageError(
                    f"{home} exists and is not a demo hub (no {MARKER}): nothing was deleted.",
                    hint="choose another --home, or an empty folder",
                )
            for child in home.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    home.mkdir(parents=True, exist_ok=True)
    _write_json(
        home / MARKER,
        {"format": "havre-demo/1", "started_at": dt.datetime.now(dt.UTC).isoformat()},
    )


def _remove_hub(home: Path) -> None:
    """Everything but the report and the marker: the hub, its keys, the deliveries."""
    for child in home.iterdir():
        if child.name in (REPORT, MARKER):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
