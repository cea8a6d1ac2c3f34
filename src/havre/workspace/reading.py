"""The status of a project's workspace: what it holds, under which permit, whether it can
still be read."""

from __future__ import annotations

from havre.audit import audited
from havre.core.actor import Actor
from havre.core.errors import HavreError
from havre.workspace import registry
from havre.workspace.actions import WorkspaceAction
from havre.workspace.base import WorkspaceBase, workspace_target
from havre.workspace.registry import VersionState
from havre.workspace.results import TableSummary, WorkspaceStatus


class ReadingMixin(WorkspaceBase):
    def status(self, actor: Actor, project_id: str) -> WorkspaceStatus:
        """Data version, tables, rows, persons, size. For the persons the permit names, and
        for data stewards, administrators, auditors and the operator."""
        with audited(
            self.db,
            self.audit,
            actor,
            WorkspaceAction.STATUS,
            workspace_target(project_id),
            project_id=project_id,
        ) as scope:
            self._require_overseer_or_named(actor, project_id, scope.session)
            rows = registry.versions(scope.session, project_id)
            history = tuple(
                {
                    "version": r.version,
                    "state": r.state,
                    "permit_version": r.permit_version,
                    "data_version": r.data_version,
                    "created_at": r.created_at,
                    "ended_at": r.ended_at,
                }
                for r in rows
            )
            row = next((r for r in reversed(rows) if r.state == VersionState.CURRENT), None)
            row = row or (rows[-1] if rows else None)
            if row is None:
                scope.details = {"built": False}
                return WorkspaceStatus(project_id=project_id, built=False)
            readable = row.state == VersionState.CURRENT and self._key_readable(project_id)
            manifest = None
            if readable:
                try:
                    manifest = self.files.read_manifest(
                        row.path, row.manifest_sha256, f"{project_id}@v{row.version}"
                    )
                except HavreError:
                    readable = False
            scope.details = {"version": row.version, "state": row.state, "readable": readable}
            tables: tuple[TableSummary, ...] = ()
            if manifest is not None:
                tables = tuple(
                    TableSummary(t.name, t.rows, tuple(c.name for c in t.columns))
                    for t in manifest.tables
                )
            return WorkspaceStatus(
                project_id=project_id,
                built=True,
                version=row.version,
                state=row.state,
                readable=readable,
                dataset=row.dataset,
                data_version=row.data_version,
                permit_version=row.permit_version,
                access_level=manifest.permit.access_level if manifest else None,
                date_policy=manifest.permit.date_mode if manifest else None,
                tables=tables,
                rows=row.rows,
                persons=row.persons,
                bytes=row.bytes,
                created_at=row.created_at,
                created_by=row.created_by,
                optouts=manifest.optouts.model_dump() if manifest else {},
                withheld=manifest.withheld if manifest else (),
                history=history,
            )
