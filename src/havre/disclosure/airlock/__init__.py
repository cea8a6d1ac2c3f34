"""The airlock: release requests, automatic disclosure checks, two independent checkers, and
released outputs with their provenance (docs/airlock.md).

Names are loaded on first use, so importing the room's table models does not load the
engines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from havre.disclosure.airlock.actions import PrivacyAction, ReleaseAction
    from havre.disclosure.airlock.service import Airlock
    from havre.disclosure.airlock.spec import ReleaseSpec, load_release_spec, parse_release_spec
    from havre.disclosure.airlock.states import ReleaseState
    from havre.disclosure.airlock.views import (
        BudgetView,
        DownloadResult,
        Inspection,
        ReleaseSummary,
        ReleaseView,
    )

_WHERE = {
    "Airlock": "havre.disclosure.airlock.service",
    "BudgetView": "havre.disclosure.airlock.views",
    "DownloadResult": "havre.disclosure.airlock.views",
    "Inspection": "havre.disclosure.airlock.views",
    "PrivacyAction": "havre.disclosure.airlock.actions",
    "ReleaseAction": "havre.disclosure.airlock.actions",
    "ReleaseSpec": "havre.disclosure.airlock.spec",
    "ReleaseState": "havre.disclosure.airlock.states",
    "ReleaseSummary": "havre.disclosure.airlock.views",
    "ReleaseView": "havre.disclosure.airlock.views",
    "load_release_spec": "havre.disclosure.airlock.spec",
    "parse_release_spec": "havre.disclosure.airlock.spec",
}

__all__ = [
    "Airlock",
    "BudgetView",
    "DownloadResult",
    "Inspection",
    "PrivacyAction",
    "ReleaseAction",
    "ReleaseSpec",
    "ReleaseState",
    "ReleaseSummary",
    "ReleaseView",
    "load_release_spec",
    "parse_release_spec",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'havre.disclosure.airlock' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
