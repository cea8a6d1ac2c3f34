"""Opening the hub for a command."""

from __future__ import annotations

from havre.core.config import load_settings
from havre.hub import Hub


def open_hub() -> Hub:
    return Hub.open(load_settings())
