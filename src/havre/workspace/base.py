"""What every part of the workspace service shares: its stores, who may do what, and how a
refusal is written to the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from havre.audit import AuditLog, Target, audited
from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock
from havre.core.config import Settings
from havre.core.errors import HavreError, PermissionDenied
from havre.db import Database, changes
from havre.governance.identity import Role
from havre.governance.optouts import OptOutRegister
from havre.governance.projects import Permit, Permits, PermitStatus, workspace_key_name
from havre.keys import KeyState, KeyStore
from havre.lake import Lake
from havre.workspace.cache import WorkspaceCache
from havre.workspace.models import WorkspaceVersionRow
from havre.workspace.screen import Screener
from havre.workspace.store import WorkspaceFiles

# Hub staff who prepare extracts: they see no rows (a build returns counts only).
BUILDERS = (Role.DATA_STEWARD,)
# Who may read a workspace's status without being named in its permit.
OVERSEERS = (Role.DATA_STEWARD, Role.ADMIN, Role.AUDITOR)


def workspace_target(project_id: str) -> Target:
    return Target("workspace", project_id)


class WorkspaceBase:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        audit: AuditLog,
        keys: KeyStore,
        lake: Lake,
        permits: Permits,
        optouts: OptOutRegister,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.audit = audit
        self.keys = keys
        self.lake = lake
        self.permits = permits
        self.optouts = optouts
        self.clock: Clock = clock or SystemClock()
        self.files = WorkspaceFiles(settings.home / "workspaces", keys)
        self.cache = WorkspaceCache(
            settings.workspace_cache_size, settings.workspace_cache_idle_minutes * 60
        )
        self.screener = Screener()
        # project -> (current workspace version,), as read at one governance counter
        self._versions: changes.Kept[str, tuple[WorkspaceVersionRow | None]] = changes.Kept()

    def close(self) -> None:
        """Drop every loaded workspace (plaintext in memory) and the parser."""
        self.cache.clear()
        self.screener.close()

    # -- who may ----------------------------------------------------------------------------
    @staticmethod
    def _is_staff(actor: Actor, roles: tuple[Role, ...]) -> bool:
        return actor.is_operator or any(actor.has_role(r) for r in roles)

    def _permit_for_build(
        self, actor: Actor, project_id: str, session: Session | None = None
    ) -> Permit:
        """The permit a build follows: the one in force, active now. Named persons go through
        the permit's own check; the operator and data stewards prepare extracts for them."""
        if not self._is_staff(actor, BUILDERS):
            return self.permits.require_access(actor, project_id, session=session)
        if actor.project_id not in (None, project_id):
            raise PermissionDenied(
                f"This request acts for project {actor.project_id}, not {project_id}."
            )
        permit = self.permits.current(project_id, session=session)
        if permit is None:
            self.permits.history(project_id, session=session)  # NotFoundError if unknown
            raise PermissionDenied(
                f"Project {project_id} has no permit in force: no workspace can be built.",
                hint="a workspace is built under an activated permit",
            )
        if permit.status is not PermitStatus.ACTIVE:
            raise PermissionDenied(
                f"The permit of project {project_id} (v{permit.version}) is {permit.status}: "
                "no workspace can be built.",
                hint="a data steward or an administrator can reinstate a suspended permit",
            )
        return permit

    def _require_overseer_or_named(
        self, actor: Actor, project_id: str, session: Session
    ) -> Permit | None:
        if self._is_staff(actor, OVERSEERS):
            history = self.permits.history(project_id, session=session)
            return history[-1] if history else None
        return self.permits.require_access(actor, project_id, session=session)

    def _key_readable(self, project_id: str) -> bool:
        name = workspace_key_name(project_id)
        if not self.keys.exists(name):
            return False
        info = self.keys.info(name)
        return any(v.state is not KeyState.DESTROYED for v in info.versions)

    # -- audit of refusals -------------------------------------------------------------------
    def _record_failure(
        self,
        actor: Actor,
        action: str,
        project_id: str,
        details: dict[str, Any],
        error: BaseException,
    ) -> None:
        """Write the ``denied``/``error`` entry of an action that failed before its own
        audited transaction (long work runs outside one, see docs/workspace.md)."""
        try:
            with audited(
                self.db,
                self.audit,
                actor,
                action,
                workspace_target(project_id),
                project_id=project_id,
            ) as scope:
                scope.details = details
                raise error
        except HavreError as raised:
            if raised is not error:
                raise
        except Exception as raised:
            if raised is not error:
                raise

    def _require_justification(self, actor: Actor, action: str, project_id: str) -> None:
        """Refuse (and audit) a data action without a justification before any work."""
        if not (actor.justification and actor.justification.strip()):
            with audited(
                self.db,
                self.audit,
                actor,
                action,
                workspace_target(project_id),
                justification_required=True,
                project_id=project_id,
            ):
                pass  # pragma: no cover - audited refuses before entering
