"""The Hub: opens a home and hands out the services. The faces (CLI, web) are thin over it."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import havre
from havre.audit import AuditLog, HubAction, Target, audited
from havre.audit.trail import AuditTrail, audit_checkpointer
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock, isoformat
from havre.core.config import Settings, load_settings
from havre.core.errors import NotInitializedError
from havre.core.ids import new_id
from havre.db import Database
from havre.db.migrate import HEAD_REVISION, current_revision, upgrade
from havre.db.models import HubInfo
from havre.governance.identity import IdentityService
from havre.keys import KeyPurpose, KeyStore, open_key_store

if TYPE_CHECKING:  # the data services load engines: imported when first used
    from havre.disclosure.airlock import Airlock
    from havre.governance.optouts import OptOutRegister
    from havre.governance.projects import ProjectService
    from havre.ingest.pipeline import Ingestion
    from havre.lake import Lake
    from havre.workspace import WorkspaceService

MARKER = "hub.json"
AUDIT_SIGNING_KEY = "audit/signing"
HUB_PSEUDONYM_KEY = "pseudo/hub"


@dataclass
class InitReport:
    home: Path
    hub_id: str
    created: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class HubStatus:
    hub_id: str
    version: str
    home: str
    database_url: str
    schema_revision: str | None
    schema_head: str | None
    key_store: dict[str, Any]
    engine: str
    spark_master: str | None  # where Spark runs, when it is the engine
    audit_entries: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Hub:
    """One hub: its settings, governance database, key store and audit log."""

    def __init__(
        self, settings: Settings, database: Database, keys: KeyStore, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.db = database
        self.keys = keys
        self.clock: Clock = clock or SystemClock()
        self.audit = AuditLog(self.clock, checkpointer=audit_checkpointer(keys, settings))

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def init(
        cls, settings: Settings | None = None, *, clock: Clock | None = None
    ) -> tuple[Hub, InitReport]:
        """Create a hub (or find the one already there: running it twice is harmless)."""
        settings = settings or load_settings()
        home = settings.home
        home.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):
            os.chmod(home, 0o700)
        keys, notes = open_key_store(settings, create=True)
        database = Database(settings.resolved_database_url)
        database.check_connection()
        upgrade(database)
        hub = cls(settings, database, keys, clock)
        keys.ensure(AUDIT_SIGNING_KEY, KeyPurpose.AUDIT_SIGNING)
        keys.ensure(HUB_PSEUDONYM_KEY, KeyPurpose.PSEUDONYMIZATION)
        created = False
        with database.transaction() as session:
            existing = session.get(HubInfo, "hub_id")
            hub_id = existing.value if existing else new_id("hub")
        if existing is None:
            actor = Actor.operator("hub initialisation")
            with audited(database, hub.audit, actor, HubAction.INIT, Target.hub()) as scope:
                scope.session.add(HubInfo(key="hub_id", value=hub_id))
                scope.session.add(HubInfo(key="created_at", value=isoformat(hub.clock.now())))
                scope.session.add(HubInfo(key="created_with", value=havre.__version__))
                scope.target = Target("hub", hub_id)
                scope.details = {"version": havre.__version__, "key_store": keys.backend_name}
            created = True
        (home / MARKER).write_text(
            f'{{"hub_id": "{hub_id}", "version": "{havre.__version__}"}}\n', encoding="utf-8"
        )
        return hub, InitReport(home=home, hub_id=hub_id, created=created, notes=notes)

    @classmethod
    def open(cls, settings: Settings | None = None, *, clock: Clock | None = None) -> Hub:
        settings = settings or load_settings()
        if not (settings.home / MARKER).exists():
            raise NotInitializedError(
                f"No hub at {settings.home.resolve()}.",
                hint="run 'havre init' first, or set HAVRE_HOME to the hub's folder",
            )
        keys, _ = open_key_store(settings, create=False)
        database = Database(settings.resolved_database_url)
        database.check_connection()
        found, needed = current_revision(database), HEAD_REVISION
        if found != needed:
            database.dispose()
            raise NotInitializedError(
                f"The hub's database at {settings.home.resolve()} is at schema revision "
                f"{found or 'none'}; this Havre ({havre.__version__}) needs {needed}.",
                hint="run 'havre init' to upgrade it (harmless on an up-to-date hub)",
            )
        return cls(settings, database, keys, clock)

    def close(self) -> None:
        self.db.background.close()  # audit entries still being written (they may sign)
        # loaded workspaces hold plaintext rows in memory: drop them before the keys
        if "workspaces" in self.__dict__:
            self.workspaces.close()
        self.keys.close()
        self.db.dispose()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- facts -----------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.settings.home

    @cached_property
    def hub_id(self) -> str:
        with self.db.transaction() as session:
            row = session.get(HubInfo, "hub_id")
            if row is None:
                raise NotInitializedError("The hub's database has no hub id; run 'havre init'.")
            return row.value

    def info(self) -> dict[str, str]:
        with self.db.transaction() as session:
            return {row.key: row.value for row in session.execute(select(HubInfo)).scalars()}

    def status(self) -> HubStatus:
        with self.db.transaction() as session:
            audit_entries = self.audit.size(session)
        return HubStatus(
            hub_id=self.hub_id,
            version=havre.__version__,
            home=str(self.home.resolve()),
            database_url=self.db.masked_url,
            schema_revision=current_revision(self.db),
            schema_head=HEAD_REVISION,
            key_store=self.keys.describe(),
            engine=self.settings.engine,
            spark_master=self.settings.spark_master if self.settings.engine == "spark" else None,
            audit_entries=audit_entries,
        )

    @cached_property
    def identity(self) -> IdentityService:
        """Accounts, sign-in, tokens, roles and access reviews."""
        return IdentityService(self.db, self.audit, self.keys, self.settings, self.clock)

    @cached_property
    def audit_trail(self) -> AuditTrail:
        """Checkpoints, verification, proofs, search, export and archives of the audit log."""
        return AuditTrail(self.db, self.audit, self.keys, self.settings)

    @cached_property
    def lake(self) -> Lake:
        """The lake: data versions, their manifests, tables decrypted on the fly, the catalog."""
        from havre.lake import Lake

        return Lake(self.settings, self.db, self.keys, self.clock, audit=self.audit)

    @cached_property
    def optouts(self) -> OptOutRegister:
        """The opt-out register (right to object), stored pseudonymized."""
        from havre.governance.optouts import OptOutRegister
        from havre.pseudo import Pseudonymizer

        pseudonymizer = Pseudonymizer(self.keys)
        return OptOutRegister(self.db, self.audit, pseudonymizer, self.settings, self.clock)

    @cached_property
    def ingest(self) -> Ingestion:
        """Ingestion of deliveries (SNDS, FHIR, OMOP) into new data versions; the quarantine."""
        from havre.ingest.pipeline import Ingestion
        from havre.pseudo import Pseudonymizer

        pseudonymizer = Pseudonymizer(self.keys)
        return Ingestion(
            self.settings, self.db, self.audit, self.lake, self.optouts, pseudonymizer, self.clock
        )

    @cached_property
    def projects(self) -> ProjectService:
        """Projects from application to closure, their permits (``projects.permits``, what
        every data access checks), calls for projects and the public register; the review
        measures the re-identification risk of the extract a permit would produce."""
        from havre.governance.projects import LakeCatalog, ProjectService
        from havre.workspace.preview import RiskPreview

        catalog = LakeCatalog(self.lake)
        risk = RiskPreview(self.settings, self.lake)
        return ProjectService(
            self.db, self.audit, self.keys, self.identity, catalog, self.clock, risk=risk
        )

    @cached_property
    def workspaces(self) -> WorkspaceService:
        """Project workspaces: build and refresh from the permit, status, sandboxed queries
        (loaded workspaces are cached: call ``hub.workspaces.close()`` to drop them)."""
        from havre.workspace import WorkspaceService

        return WorkspaceService(
            self.settings,
            self.db,
            self.audit,
            self.keys,
            self.lake,
            self.projects.permits,
            self.optouts,
            self.clock,
        )

    @cached_property
    def airlock(self) -> Airlock:
        """Release requests: outputs computed in the workspace and checked automatically, two
        independent checkers, released files with their provenance, the privacy budget."""
        from havre.disclosure.airlock import Airlock

        return Airlock(
            self.settings,
            self.db,
            self.audit,
            self.keys,
            self.projects.permits,
            self.identity,
            self.workspaces,
            self.clock,
        )
