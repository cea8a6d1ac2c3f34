"""The lake: versioned, immutable, encrypted datasets and their registry.

Other rooms (workspace extraction, risk assessment, catalog) read the lake only through this
service: ``versions``, ``open`` → ``LakeVersion`` (tables as decrypting Arrow datasets, the
manifest, the identifier tags of columns).
"""

from __future__ import annotations

import re
import shutil

from sqlalchemy import select

from havre.audit import AuditLog, Target, audited
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock
from havre.core.config import Settings
from havre.core.errors import NotFoundError, UsageError
from havre.db import Database
from havre.keys import KeyStore
from havre.keys.parquet import ParquetCrypto
from havre.lake.actions import LakeAction
from havre.lake.catalog import CatalogEntry
from havre.lake.manifest import Counts
from havre.lake.models import DataVersionRow
from havre.lake.staging import VersionBuilder, version_folder
from havre.lake.version import DataVersionInfo, LakeVersion, read_manifest

DATASET_NAME = re.compile(r"[a-z][a-z0-9_-]{0,47}")


def check_dataset_name(name: str) -> str:
    if not DATASET_NAME.fullmatch(name):
        raise UsageError(
            f"Invalid dataset name '{name}'.",
            hint="lower-case letters, digits, '-' and '_', starting with a letter (48 at most)",
        )
    return name


class Lake:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: KeyStore,
        clock: Clock | None = None,
        *,
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.keys = keys
        self.clock: Clock = clock or SystemClock()
        self.audit = audit or AuditLog(self.clock)
        self.root = settings.home / "lake"
        self.crypto = ParquetCrypto(keys)

    # -- the registry -----------------------------------------------------------------------
    def datasets(self) -> list[str]:
        with self.db.transaction() as session:
            names = session.execute(select(DataVersionRow.dataset).distinct()).scalars()
            return sorted(names)

    def versions(self, dataset: str | None = None) -> list[DataVersionInfo]:
        query = select(DataVersionRow).order_by(DataVersionRow.dataset, DataVersionRow.version)
        if dataset is not None:
            query = query.where(DataVersionRow.dataset == dataset)
        with self.db.transaction() as session:
            return [self.info_of(row) for row in session.execute(query).scalars()]

    def info(self, dataset: str, version: int | None = None) -> DataVersionInfo:
        """A version's registry entry; the latest when ``version`` is None."""
        query = select(DataVersionRow).where(DataVersionRow.dataset == dataset)
        if version is None:
            query = query.order_by(DataVersionRow.version.desc()).limit(1)
        else:
            query = query.where(DataVersionRow.version == version)
        with self.db.transaction() as session:
            row = session.execute(query).scalars().first()
            if row is None:
                what = f"dataset '{dataset}'" if version is None else f"{dataset}@v{version}"
                raise NotFoundError(
                    f"No data version for {what} in the lake.",
                    hint="'havre catalog' lists the datasets and their versions",
                )
            return self.info_of(row)

    def find_delivery(self, dataset: str, delivery_sha256: str) -> DataVersionInfo | None:
        """The version an identical delivery already made, if any."""
        with self.db.transaction() as session:
            row = (
                session.execute(
                    select(DataVersionRow)
                    .where(
                        DataVersionRow.dataset == dataset,
                        DataVersionRow.delivery_sha256 == delivery_sha256,
                    )
                    .order_by(DataVersionRow.version)
                )
                .scalars()
                .first()
            )
            return None if row is None else self.info_of(row)

    def next_version(self, dataset: str) -> int:
        versions = [v.version for v in self.versions(dataset)]
        return 1 + max(versions, default=0)

    # -- reading ----------------------------------------------------------------------------
    def open(self, dataset: str, version: int | None = None) -> LakeVersion:
        """Open a version (the latest by default); its manifest is checked against the registry."""
        info = self.info(dataset, version)
        path = self.root / info.path
        manifest = read_manifest(path, info.manifest_sha256, info.label)
        return LakeVersion(info, manifest, path, self.crypto)

    def catalog(
        self,
        actor: Actor,
        dataset: str | None = None,
        version: int | None = None,
        *,
        all_versions: bool = False,
    ) -> list[CatalogEntry]:
        """The catalog: the latest version of each dataset (or all versions, or one)."""
        target = Target("catalog", dataset)
        with audited(self.db, self.audit, actor, LakeAction.CATALOG, target) as scope:
            infos = self.versions(dataset)
            if dataset is not None and not infos:
                raise NotFoundError(
                    f"No dataset '{dataset}' in the lake.",
                    hint="'havre catalog' lists the datasets",
                )
            latest = {info.dataset: info.version for info in infos}
            if version is not None:
                infos = [i for i in infos if i.version == version]
                if not infos:
                    raise NotFoundError(f"No version {version} of dataset '{dataset}'.")
            elif not all_versions:
                infos = [i for i in infos if i.version == latest[i.dataset]]
            entries = []
            for info in infos:
                opened = self.open(info.dataset, info.version)
                manifest = opened.manifest
                entries.append(
                    CatalogEntry(
                        dataset=info.dataset,
                        version=info.version,
                        latest=info.version == latest[info.dataset],
                        created_at=info.created_at,
                        description=manifest.description,
                        source_kind=info.source_kind,
                        source_name=info.source_name,
                        counts=info.counts,
                        coverage_start=manifest.coverage.start,
                        coverage_end=manifest.coverage.end,
                        pseudonym_scheme=info.pseudonym_scheme,
                        manifest=manifest,
                    )
                )
            scope.details = {"versions": len(entries)}
            return entries

    # -- writing ----------------------------------------------------------------------------
    def begin(self, dataset: str) -> VersionBuilder:
        """Start the next version of a dataset (use as a context manager; it holds a lock)."""
        check_dataset_name(dataset)
        return VersionBuilder(self, dataset, self.next_version(dataset))

    def clean_leftovers(self, dataset: str) -> list[str]:
        """Remove what crashed runs left: staging folders, unregistered version folders.

        Called with the dataset's lock held, so no running ingest is disturbed.
        """
        directory = self.root / dataset
        registered = {version_folder(v.version) for v in self.versions(dataset)}
        removed = []
        staging = directory / ".staging"
        if staging.exists():
            for leftover in staging.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(f".staging/{leftover.name}")
        for candidate in directory.glob("v[0-9][0-9][0-9][0-9]"):
            if candidate.name not in registered:
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate.name)
        return removed

    @staticmethod
    def info_of(row: DataVersionRow) -> DataVersionInfo:
        return DataVersionInfo(
            id=row.id,
            dataset=row.dataset,
            version=row.version,
            path=row.path,
            manifest_sha256=row.manifest_sha256,
            delivery_sha256=row.delivery_sha256,
            source_kind=row.source_kind,
            source_name=row.source_name,
            pseudonym_scheme=row.pseudonym_scheme,
            key_name=row.key_name,
            key_version=row.key_version,
            counts=Counts(
                read=row.records_read,
                loaded=row.records_loaded,
                quarantined=row.records_quarantined,
                opted_out=row.records_opted_out,
                duplicates=row.records_duplicates,
            ),
            created_at=row.created_at,
            created_by=row.created_by,
        )
