"""The opt-out register: who objected to the use of their data, stored pseudonymized.

Names are loaded on first use: the governance store imports the register's table model
without loading the engines the register's import uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from havre.governance.optouts.actions import OptOutAction
    from havre.governance.optouts.service import (
        ChangeResult,
        ImportResult,
        OptOutEntry,
        OptOutRegister,
    )

_WHERE = {
    "OptOutAction": "havre.governance.optouts.actions",
    "ChangeResult": "havre.governance.optouts.service",
    "ImportResult": "havre.governance.optouts.service",
    "OptOutEntry": "havre.governance.optouts.service",
    "OptOutRegister": "havre.governance.optouts.service",
}

__all__ = ["ChangeResult", "ImportResult", "OptOutAction", "OptOutEntry", "OptOutRegister"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'havre.governance.optouts' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
