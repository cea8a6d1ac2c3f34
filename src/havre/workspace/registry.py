"""Reading and writing the registry of workspace versions (table ``workspace_versions``)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.workspace.models import WorkspaceVersionRow


class VersionState(StrEnum):
    CURRENT = "current"  # the one queries run on
    SUPERSEDED = "superseded"  # replaced by a refresh; its files are removed
    PURGED = "purged"  # the project was closed and its files removed


def versions(session: Session, project_id: str) -> list[WorkspaceVersionRow]:
    query = (
        select(WorkspaceVersionRow)
        .where(WorkspaceVersionRow.project_id == project_id)
        .order_by(WorkspaceVersionRow.version)
    )
    return list(session.execute(query).scalars())


def current(session: Session, project_id: str) -> WorkspaceVersionRow | None:
    query = select(WorkspaceVersionRow).where(
        WorkspaceVersionRow.project_id == project_id,
        WorkspaceVersionRow.state == VersionState.CURRENT.value,
    )
    return session.execute(query).scalars().first()
