"""Calls for projects: a theme-led call with opening and closing dates that applications
answer (``"call": "<call id>"`` in the application). Public, like the register."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from havre.audit import Target
from havre.core.actor import Actor
from havre.core.errors import NotFoundError, PermissionDenied, UsageError
from havre.core.ids import new_id
from havre.governance.identity import Role, require_person
from havre.governance.projects import store
from havre.governance.projects.actions import CallAction
from havre.governance.projects.base import ProjectsBase
from havre.governance.projects.models import CallRow, ProjectRow
from havre.governance.projects.views import CallView


def call_target(call_id: str | None) -> Target:
    return Target("call", call_id)


class CallsMixin(ProjectsBase):
    def create_call(
        self,
        actor: Actor,
        *,
        title: str,
        themes: Sequence[str],
        opens_on: dt.date,
        closes_on: dt.date,
        description: str = "",
    ) -> CallView:
        """A new call for projects (administrators)."""
        with self._audited(actor, CallAction.CREATE, None, target=call_target(None)) as scope:
            user_id = require_person(actor, "open a call for projects")
            if not actor.has_role(Role.ADMIN):
                raise PermissionDenied(
                    "Only an administrator can open a call for projects.",
                    hint="ask an administrator of the hub",
                )
            clean_title = " ".join(title.split())
            clean_themes = sorted({" ".join(t.split()) for t in themes if t.strip()})
            problems = []
            if not 1 <= len(clean_title) <= 300:
                problems.append("title: 1 to 300 characters")
            if not clean_themes:
                problems.append("themes: at least one")
            if any(len(t) > 100 for t in clean_themes):
                problems.append("themes: at most 100 characters each")
            if closes_on < opens_on:
                problems.append(f"dates: closes on {closes_on}, before it opens on {opens_on}")
            if problems:
                raise UsageError("The call cannot be created: " + "; ".join(problems))
            row = CallRow(
                id=new_id("call"),
                title=clean_title,
                description=" ".join(description.split())[:8000],
                themes=store.json_list(clean_themes),
                opens_on=opens_on,
                closes_on=closes_on,
                created_by=user_id,
                created_at=self.now(),
            )
            scope.session.add(row)
            scope.target = call_target(row.id)
            scope.details = {
                "opens_on": opens_on,
                "closes_on": closes_on,
                "themes": len(clean_themes),
            }
            return CallView.of(row, self.now().date())

    def calls(self, *, open_only: bool = False) -> list[CallView]:
        today = self.now().date()
        with self.db.transaction() as session:
            rows = session.execute(select(CallRow).order_by(CallRow.opens_on, CallRow.id))
            views = [CallView.of(row, today) for row in rows.scalars()]
        return [v for v in views if v.open or not open_only]

    def call(self, call_id: str) -> CallView:
        """A call and the submitted applications answering it (they are public)."""
        with self.db.transaction() as session:
            row = session.get(CallRow, call_id.strip()[:40])
            if row is None:
                raise NotFoundError(
                    f"No call for projects {call_id}.", hint="see 'havre call list'"
                )
            answering = session.execute(
                select(ProjectRow.id)
                .where(ProjectRow.call_id == row.id, ProjectRow.submitted_at.is_not(None))
                .order_by(ProjectRow.submitted_at)
            ).scalars()
            return CallView.of(row, self.now().date(), tuple(answering))
