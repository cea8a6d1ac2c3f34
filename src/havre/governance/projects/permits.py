"""Enforcement: what every other part asks before touching a project's data.

``require_access`` is called on every access (workspace build, query, release), not only by
a scheduled job: a permit past its ``expires_at`` is refused the moment the clock passes it.
It raises ``PermissionDenied``; the caller runs it inside its own ``audited`` block so the
refusal is written to the audit log with the caller's action. Pass the caller's session when
it has one open (SQLite lets one writer hold the database; a second transaction would wait).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from havre.core.actor import Actor
from havre.core.clock import Clock, SystemClock, as_utc
from havre.core.errors import NotFoundError, PermissionDenied
from havre.db import Database, changes
from havre.governance.identity import require_person
from havre.governance.projects import store
from havre.governance.projects.permit import Permit, PermitStatus
from havre.governance.projects.workflow import ProjectStatus


class Permits:
    """Permits as the enforcing parts read them."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._kept: changes.Kept[str, tuple[str, Permit | None]] = changes.Kept()

    def _in_force(
        self, project_id: str, session: Session | None, counter: int | None
    ) -> tuple[str, Permit | None]:
        """The project's status and its permit in force (status as stored, before the
        clock's expiry is applied)."""
        if counter is not None:
            kept = self._kept.get(counter, project_id)
            if kept is not None:
                return kept
        with store.reading(self.db, session) as reader:
            project = store.get_project(reader, project_id)
            row = store.in_force_permit(store.permit_rows(reader, project_id))
            found = (project.status, None if row is None else store.load_permit(row))
        if counter is not None:
            self._kept.put(counter, project_id, found)
        return found

    def current(self, project_id: str, *, session: Session | None = None) -> Permit | None:
        """The version in force (active, suspended or expired), with its status at now."""
        with store.reading(self.db, session) as reader:
            row = store.in_force_permit(store.permit_rows(reader, project_id))
            return None if row is None else store.load_permit(row).at(self.clock.now())

    def get(
        self, project_id: str, version: int | None = None, *, session: Session | None = None
    ) -> Permit:
        """One version; by default the one in force, else the latest issued."""
        with store.reading(self.db, session) as reader:
            store.get_project(reader, project_id)
            rows = store.permit_rows(reader, project_id)
            if version is None:
                row = store.in_force_permit(rows) or (rows[-1] if rows else None)
            else:
                row = next((r for r in rows if r.version == version), None)
            if row is None:
                what = "no permit" if version is None else f"no permit version {version}"
                raise NotFoundError(
                    f"Project {project_id} has {what}.",
                    hint="a permit is issued after the authorisation (havre project issue)",
                )
            return store.load_permit(row).at(self.clock.now())

    def history(self, project_id: str, *, session: Session | None = None) -> list[Permit]:
        now = self.clock.now()
        with store.reading(self.db, session) as reader:
            store.get_project(reader, project_id)
            return [store.load_permit(r).at(now) for r in store.permit_rows(reader, project_id)]

    def require_access(
        self,
        actor: Actor,
        project_id: str,
        now: dt.datetime | None = None,
        *,
        session: Session | None = None,
        counter: int | None = None,
    ) -> Permit:
        """The permit under which ``actor`` may use the project's data now, or a refusal.

        ``counter``: the governance change counter, read before this call (in ``session``'s
        transaction or earlier); the project's status and permit in force are then taken from
        what was read at that counter, if anything was (``havre.db.changes``)."""
        user_id = _caller(actor, project_id)
        status, stored = self._in_force(project_id, session, counter)
        return self._allowed(actor, user_id, project_id, status, stored, now)

    def kept_access(self, actor: Actor, project_id: str, counter: int) -> Permit | None:
        """``require_access`` from what was read at ``counter`` alone, reading nothing: None
        when nothing was (the caller then asks ``require_access``)."""
        user_id = _caller(actor, project_id)
        kept = self._kept.get(counter, project_id)
        if kept is None:
            return None
        return self._allowed(actor, user_id, project_id, kept[0], kept[1], None)

    def _allowed(
        self,
        actor: Actor,
        user_id: str,
        project_id: str,
        status: str,
        stored: Permit | None,
        now: dt.datetime | None,
    ) -> Permit:
        when = as_utc(now) if now is not None else self.clock.now()
        if status == ProjectStatus.CLOSED:
            raise PermissionDenied(
                f"Project {project_id} is closed: its data can no longer be used.",
                hint="a closed project's workspace key was destroyed",
            )
        if stored is None:
            raise PermissionDenied(
                f"Project {project_id} has no permit in force (it is {status}).",
                hint="data is used only under an activated permit",
            )
        permit = stored.at(when)  # expiry: against the clock, at every access
        if permit.status is PermitStatus.EXPIRED:
            raise PermissionDenied(
                f"The permit of project {project_id} (v{permit.version}) expired on "
                f"{permit.expires_at.date()}: access stopped then.",
                hint="the project lead can apply for an extension (havre project amend)",
            )
        if permit.status is not PermitStatus.ACTIVE:
            raise PermissionDenied(
                f"The permit of project {project_id} (v{permit.version}) is {permit.status}.",
                hint="a data steward or an administrator can reinstate it",
            )
        if not permit.names(user_id):
            raise PermissionDenied(
                f"{actor.name} is not a named person of the permit of project {project_id} "
                f"(v{permit.version}).",
                hint="only the persons the permit names may use its data; an amendment adds one",
            )
        return permit


def _caller(actor: Actor, project_id: str) -> str:
    """The person acting, for this project (before anything is read)."""
    user_id = require_person(actor, "use a project's data")
    if actor.project_id not in (None, project_id):
        raise PermissionDenied(
            f"This request acts for project {actor.project_id}, not {project_id}.",
            hint=f"act for project {project_id} (--project {project_id})",
        )
    return user_id
