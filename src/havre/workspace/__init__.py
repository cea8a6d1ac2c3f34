"""Project workspaces: minimized extracts under project pseudonyms and per-project keys, and
the sandbox where researchers query them.

Names are loaded on first use, so importing the room's table models (as the governance
store's migrations do) does not load the engines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from havre.workspace.actions import WorkspaceAction
    from havre.workspace.outputs import OutputRows
    from havre.workspace.results import BuildResult, PurgeResult, QueryResult, WorkspaceStatus
    from havre.workspace.service import WorkspaceService

_WHERE = {
    "WorkspaceAction": "havre.workspace.actions",
    "BuildResult": "havre.workspace.results",
    "OutputRows": "havre.workspace.outputs",
    "PurgeResult": "havre.workspace.results",
    "QueryResult": "havre.workspace.results",
    "WorkspaceStatus": "havre.workspace.results",
    "WorkspaceService": "havre.workspace.service",
}

__all__ = [
    "BuildResult",
    "OutputRows",
    "PurgeResult",
    "QueryResult",
    "WorkspaceAction",
    "WorkspaceService",
    "WorkspaceStatus",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'havre.workspace' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
