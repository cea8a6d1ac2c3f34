"""What the projects room needs to know of the lake's catalog, as a small protocol.

The hub wires ``LakeCatalog`` over its lake; tests may hand any other ``CatalogView``. This
room does not import the lake or the ingest rooms: the lake's objects are described here by
the few attributes read from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from havre.governance.projects.permit import IdentifierKind

# table -> column -> potential identifier kind of the column (None: not one)
TableColumns = dict[str, dict[str, IdentifierKind | None]]


@dataclass(frozen=True)
class CatalogVersion:
    id: str
    dataset: str
    version: int


class CatalogView(Protocol):
    def versions(self, dataset: str) -> list[CatalogVersion]:
        """The published versions of a dataset, oldest first (empty: no such dataset)."""
        ...

    def columns(self, dataset: str, version: int) -> TableColumns:
        """The tables of a version, their columns and identifier tags."""
        ...


# -- the lake, as seen from here ---------------------------------------------------------------
class _VersionInfo(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def dataset(self) -> str: ...
    @property
    def version(self) -> int: ...


class _Column(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def identifier(self) -> Enum | None: ...


class _Table(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def columns(self) -> Sequence[_Column]: ...


class _Manifest(Protocol):
    @property
    def tables(self) -> Sequence[_Table]: ...


class _Opened(Protocol):
    @property
    def manifest(self) -> _Manifest: ...


class _Lake(Protocol):
    def versions(self, dataset: str | None = None) -> Sequence[_VersionInfo]: ...
    def open(self, dataset: str, version: int | None = None) -> _Opened: ...


class LakeCatalog:
    """``CatalogView`` over the lake: reads registry entries and manifests, never a record."""

    def __init__(self, lake: _Lake) -> None:
        self.lake = lake

    def versions(self, dataset: str) -> list[CatalogVersion]:
        infos = sorted(self.lake.versions(dataset), key=lambda i: i.version)
        return [CatalogVersion(i.id, i.dataset, i.version) for i in infos]

    def columns(self, dataset: str, version: int) -> TableColumns:
        manifest = self.lake.open(dataset, version).manifest
        return {
            table.name: {column.name: _kind(column.identifier) for column in table.columns}
            for table in manifest.tables
        }


def _kind(tag: Enum | None) -> IdentifierKind | None:
    return None if tag is None else IdentifierKind(str(tag.value))
