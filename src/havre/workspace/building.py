"""Build, refresh and purge a project's workspace.

The extraction runs outside any governance transaction (it can take a minute; a transaction
held that long would stall every other writer of the audit log). It writes a staged version;
publishing is one audited transaction that checks the permit again, moves the folder into
place and registers it. A refusal or failure at any step is audited too.
"""

from __future__ import annotations

import shutil
from typing import Any

import pyarrow as pa

from havre.audit import HubAction, Target, audited
from havre.core.actor import Actor
from havre.core.clock import isoformat
from havre.core.errors import IntegrityError, PermissionDenied, StateError
from havre.core.ids import new_id
from havre.governance.projects import Permit, PermitStatus, workspace_key_name
from havre.keys import KeyPurpose
from havre.keys.parquet import ParquetCrypto
from havre.lake import LakeVersion
from havre.pseudo.scheme import SchemeId
from havre.workspace import registry
from havre.workspace.actions import WorkspaceAction
from havre.workspace.base import BUILDERS, WorkspaceBase, workspace_target
from havre.workspace.builder import BuildRequest, Staged, build_staged, objecting_persons
from havre.workspace.extract import empty_objectors
from havre.workspace.manifest import OptOutCheck, WorkspaceManifest
from havre.workspace.models import WorkspaceVersionRow
from havre.workspace.pseudonyms import ProjectSecrets, empty_mapping
from havre.workspace.registry import VersionState
from havre.workspace.results import BuildResult, PurgeResult, TableSummary

LINK_TABLE = "optout_link"
OPTOUT_SCHEMES = (SchemeId.OPTOUT_NIR, SchemeId.OPTOUT_OMOP)


class BuildingMixin(WorkspaceBase):
    def build(self, actor: Actor, project_id: str) -> BuildResult:
        """Build the first workspace of a project whose permit is active."""
        return self._build(actor, project_id, WorkspaceAction.BUILD)

    def refresh(self, actor: Actor, project_id: str) -> BuildResult:
        """Rebuild from the permit in force (after a permit refresh to a newer data version,
        or to remove persons who objected since): a new version, the old one removed."""
        return self._build(actor, project_id, WorkspaceAction.REFRESH)

    def _build(self, actor: Actor, project_id: str, action: WorkspaceAction) -> BuildResult:
        self._require_justification(actor, action, project_id)
        details: dict[str, Any] = {}
        staged: Staged | None = None
        publishing = False  # from then on the publishing transaction audits its own outcome
        try:
            permit = self._permit_for_build(actor, project_id)
            details.update(permit_version=permit.version, data_version=permit.data_version)
            with self.files.locked(project_id):
                with self.db.transaction() as session:
                    rows = registry.versions(session, project_id)
                current = next((r for r in rows if r.state == VersionState.CURRENT), None)
                if action is WorkspaceAction.BUILD and current is not None:
                    raise StateError(
                        f"Project {project_id} already has a workspace (v{current.version}).",
                        hint="refresh it instead: havre workspace refresh",
                    )
                if action is WorkspaceAction.REFRESH and current is None:
                    raise StateError(
                        f"Project {project_id} has no workspace to refresh.",
                        hint="build it first: havre workspace build",
                    )
                self.files.clean_leftovers(project_id, {r.version for r in rows})
                version = 1 + max((r.version for r in rows), default=0)
                key_name = workspace_key_name(project_id)
                key_created = not self.keys.exists(key_name)
                self.keys.ensure(key_name, KeyPurpose.WORKSPACE)
                request, source = self._request(actor, permit, version, key_name, current)
                staged = build_staged(
                    self.settings,
                    self.files,
                    source,
                    request,
                    self.files.staging(project_id, version),
                )
                details.update(_summary(staged.manifest))
                publishing = True
                row = self._publish(actor, action, permit, staged, key_name, key_created, details)
        except Exception as error:
            if staged is not None and staged.folder.exists():
                shutil.rmtree(staged.folder, ignore_errors=True)
            if not publishing:
                self._record_failure(actor, action, project_id, details, error)
            raise
        if current is not None:
            self.files.remove(current.path)
        self.cache.evict(project_id)
        manifest = staged.manifest
        return BuildResult(
            project_id=project_id,
            version=row.version,
            refreshed=action is WorkspaceAction.REFRESH,
            permit_version=permit.version,
            dataset=permit.dataset,
            data_version=permit.data_version,
            tables=tuple(
                TableSummary(t.name, t.rows, tuple(c.name for c in t.columns))
                for t in manifest.tables
            ),
            rows=manifest.rows,
            persons=manifest.persons,
            new_persons=staged.new_persons,
            bytes=manifest.total_bytes,
            objectors_removed=manifest.optouts.objectors_in_version,
            optouts_checked=manifest.optouts.checked,
            seconds=staged.seconds,
            superseded=current.version if current is not None else None,
        )

    def _request(
        self,
        actor: Actor,
        permit: Permit,
        version: int,
        key_name: str,
        current: WorkspaceVersionRow | None,
    ) -> tuple[BuildRequest, LakeVersion]:
        source = self.lake.open(permit.dataset, permit.data_version)
        if source.info.id != permit.data_version_id:
            raise IntegrityError(
                f"{source.info.label} is not the data version the permit names "
                f"({permit.data_version_id}).",
                hint="the lake registry changed under the permit; report it to a data steward",
            )
        previous = empty_mapping()
        key_version: int | None = None
        shift_days = self.settings.workspace_shift_days
        if current is not None:
            manifest = self.files.read_manifest(
                current.path, current.manifest_sha256, f"{permit.project_id}@v{current.version}"
            )
            key_version, shift_days = manifest.pseudonym_key_version, manifest.shift_days
            crypto = ParquetCrypto(self.keys)
            try:
                previous = self.files.open_file(
                    current.path, manifest.pseudonyms, crypto, f"{permit.project_id}"
                ).read()
            finally:
                crypto.clear_cache()
        key, used = self.keys.data_key(key_name, key_version)
        secrets = ProjectSecrets.derive(key, used, shift_days)
        objectors, check = self._objectors(source)
        request = BuildRequest(
            permit=permit,
            version=version,
            key_name=key_name,
            secrets=secrets,
            previous=previous,
            objectors=objectors,
            optouts=check,
            created_at=isoformat(self.clock.now()),
            created_by=actor.name,
        )
        return request, source

    def _objectors(self, source: LakeVersion) -> tuple[pa.Table, OptOutCheck]:
        """Persons of the data version who object now (the register may have changed since
        the ingest left out the objectors it knew)."""
        registers = []
        for scheme in OPTOUT_SCHEMES:
            active = self.optouts.active_subjects(scheme)
            registers.append(
                active.append_column(
                    "scheme", pa.array([scheme.value] * active.num_rows, pa.string())
                )
            )
        register = pa.concat_tables(registers)
        if LINK_TABLE not in source.tables:
            return empty_objectors(), OptOutCheck(
                checked=False,
                register_entries=register.num_rows,
                objectors_in_version=0,
                note=f"{source.info.label} carries no link to the opt-out register "
                f"({LINK_TABLE}); only the objectors known at its ingest were left out",
            )
        link = source.read(LINK_TABLE, ["person_id", "scheme", "key_version", "subject_key"])
        link = link.cast(
            pa.schema(
                [
                    ("person_id", pa.int64()),
                    ("scheme", pa.string()),
                    ("key_version", pa.int32()),
                    ("subject_key", pa.string()),
                ]
            )
        )
        objectors = objecting_persons(link, register)
        return objectors, OptOutCheck(
            checked=True, register_entries=register.num_rows, objectors_in_version=0
        )

    def _publish(
        self,
        actor: Actor,
        action: WorkspaceAction,
        permit: Permit,
        staged: Staged,
        key_name: str,
        key_created: bool,
        details: dict[str, Any],
    ) -> WorkspaceVersionRow:
        project_id = permit.project_id
        manifest = staged.manifest
        relative: str | None = None
        try:
            with audited(
                self.db,
                self.audit,
                actor,
                action,
                workspace_target(project_id),
                justification_required=True,
                project_id=project_id,
            ) as scope:
                scope.details = details
                fresh = self._permit_for_build(actor, project_id, scope.session)
                if fresh.sha256 != permit.sha256:
                    raise StateError(
                        f"The permit of project {project_id} changed during the build.",
                        hint="run the build again: it follows the permit in force",
                    )
                now = self.clock.now()
                for old in registry.versions(scope.session, project_id):
                    if old.state == VersionState.CURRENT:
                        old.state, old.ended_at = VersionState.SUPERSEDED.value, now
                        details["superseded"] = old.version
                relative = self.files.publish(staged.folder, project_id, manifest.version)
                row = WorkspaceVersionRow(
                    id=new_id("wsv"),
                    project_id=project_id,
                    version=manifest.version,
                    state=VersionState.CURRENT.value,
                    permit_version=permit.version,
                    permit_sha256=permit.sha256,
                    dataset=permit.dataset,
                    data_version=permit.data_version,
                    data_version_id=permit.data_version_id,
                    path=relative,
                    manifest_sha256=staged.manifest_sha256,
                    key_name=key_name,
                    key_version=manifest.pseudonym_key_version,
                    tables=len(manifest.tables),
                    rows=manifest.rows,
                    persons=manifest.persons,
                    bytes=manifest.total_bytes,
                    created_at=now,
                    created_by=actor.name,
                    ended_at=None,
                )
                scope.session.add(row)
                if key_created:
                    self.audit.append(
                        scope.session,
                        actor,
                        HubAction.KEY_CREATE,
                        Target("key", key_name),
                        details={"purpose": KeyPurpose.WORKSPACE.value},
                        project_id=project_id,
                    )
            return row
        except BaseException:
            if relative is not None:
                self.files.remove(relative)
            raise

    def purge(self, actor: Actor, project_id: str) -> PurgeResult:
        """Remove the files of a closed project's workspace (its key is already destroyed:
        they were unreadable; now they are gone too)."""
        with audited(
            self.db,
            self.audit,
            actor,
            WorkspaceAction.PURGE,
            workspace_target(project_id),
            justification_required=True,
            project_id=project_id,
        ) as scope:
            if not self._is_staff(actor, BUILDERS):
                raise PermissionDenied(
                    "Only a data steward or the hub's operator can purge a workspace."
                )
            history = self.permits.history(project_id, session=scope.session)
            if not any(p.status is PermitStatus.CLOSED for p in history):
                raise StateError(
                    f"Project {project_id} is not closed: its workspace is still in use.",
                    hint="a workspace is purged after the project's closure",
                )
            now = self.clock.now()
            purged = 0
            removed = 0
            for row in registry.versions(scope.session, project_id):
                if row.state != VersionState.PURGED:
                    purged += 1
                    removed += row.bytes if row.state == VersionState.CURRENT else 0
                    row.state, row.ended_at = VersionState.PURGED.value, row.ended_at or now
            scope.details = {"versions": purged, "key_readable": self._key_readable(project_id)}
        self.cache.evict(project_id)
        self.files.purge(project_id)
        return PurgeResult(project_id, purged, removed)


def _summary(manifest: WorkspaceManifest) -> dict[str, Any]:
    return {
        "version": manifest.version,
        "dataset": manifest.data.dataset,
        "tables": [t.name for t in manifest.tables],
        "rows": manifest.rows,
        "persons": manifest.persons,
        "bytes": manifest.total_bytes,
        "date_mode": manifest.permit.date_mode,
        "optouts_checked": manifest.optouts.checked,
        "objectors_removed": manifest.optouts.objectors_in_version,
    }
