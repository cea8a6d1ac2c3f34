"""Shared by the Spark parity tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SPEC = Path(__file__).parents[2] / "spec"


def spec_module(relative: str) -> ModuleType:
    """A spec test module, loaded by path (the spec suite is shared, not copied)."""
    path = SPEC / relative
    loaded = importlib.util.spec_from_file_location(f"havre_spec_{path.stem}", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module  # dataclasses look their module up there
    loaded.loader.exec_module(module)
    return module
