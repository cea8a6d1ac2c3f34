"""The rules of the house on imports: a room imports only rooms at its layer or below, and
the rooms' import graph has no circle (ARCHITECTURE.md, "Rules of the house")."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "havre"

LAYERS: dict[str, int] = {
    "core": 0,
    "keys": 1,
    "db": 1,
    "audit": 1,
    "governance": 2,
    "pseudo": 2,
    "lake": 2,
    "cdm": 2,
    "ingest": 3,
    "workspace": 3,
    "disclosure": 3,
    "synth": 3,
    "analytics": 4,
    "ml": 4,
    "hub": 5,
    "cli": 6,
    "web": 6,
    "ops": 6,
    "demo": 6,
    "scenarios": 6,
}
# synth writes source-shaped files and never calls the hub: only core and reference data
SYNTH_MAY_USE = {"core", "cdm", "synth"}


def _room_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py") if relative.parts else ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rooms: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "havre" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def _graph() -> dict[str, dict[str, list[str]]]:
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in SRC.rglob("*.py"):
        room = _room_of(path)
        if room in ("__init__", ""):
            continue
        for other in _imports(path):
            if other != room:
                graph[room][other].append(str(path.relative_to(SRC)))
    return graph


def test_rooms_import_only_their_layer_or_below() -> None:
    problems = []
    for room, uses in _graph().items():
        for other, files in uses.items():
            if other not in LAYERS or room not in LAYERS:
                problems.append(f"unknown room: {room} -> {other} ({files[0]})")
            elif LAYERS[other] > LAYERS[room]:
                problems.append(
                    f"{room} (layer {LAYERS[room]}) imports {other} "
                    f"(layer {LAYERS[other]}) in {files[0]}"
                )
    assert not problems, "\n".join(problems)


def test_synth_never_calls_the_hub() -> None:
    uses = set(_graph().get("synth", {}))
    assert uses <= SYNTH_MAY_USE, f"synth imports {sorted(uses - SYNTH_MAY_USE)}"


def test_no_circles_between_rooms() -> None:
    graph = {room: set(uses) for room, uses in _graph().items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*stack, nxt]):
                return True
        state[node] = 2
        return False

    for room in sorted(graph):
        if state.get(room) is None and visit(room, [room]):
            break
    assert not cycle, f"circle between rooms: {' -> '.join(cycle)}"
