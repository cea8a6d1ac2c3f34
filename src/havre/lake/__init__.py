"""The lake: versioned, immutable, encrypted Parquet datasets with manifests; query engines.

Names are loaded on first use, so importing the lake's table models (as the governance
store's migrations do) does not load the engines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from havre.lake.manifest import (
        ColumnInfo,
        Counts,
        IdentifierKind,
        Manifest,
        QualityResult,
        TableInfo,
    )
    from havre.lake.store import Lake
    from havre.lake.version import DataVersionInfo, LakeVersion

_WHERE = {
    "ColumnInfo": "havre.lake.manifest",
    "Counts": "havre.lake.manifest",
    "IdentifierKind": "havre.lake.manifest",
    "Manifest": "havre.lake.manifest",
    "QualityResult": "havre.lake.manifest",
    "TableInfo": "havre.lake.manifest",
    "Lake": "havre.lake.store",
    "DataVersionInfo": "havre.lake.version",
    "LakeVersion": "havre.lake.version",
}

__all__ = [
    "ColumnInfo",
    "Counts",
    "DataVersionInfo",
    "IdentifierKind",
    "Lake",
    "LakeVersion",
    "Manifest",
    "QualityResult",
    "TableInfo",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'havre.lake' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
