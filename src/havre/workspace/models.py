"""The registry of workspace versions. The data itself (tables, pseudonym mapping, manifest)
is encrypted under the project's key in ``$HAVRE_HOME/workspaces``; only facts about it are
here. A version exists when, and only when, its row exists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base

BIG = BigInteger().with_variant(Integer, "sqlite")


class WorkspaceVersionRow(Base):
    __tablename__ = "workspace_versions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(40), ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # current, superseded, purged
    permit_version: Mapped[int] = mapped_column(Integer)
    permit_sha256: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64))
    data_version: Mapped[int] = mapped_column(Integer)
    data_version_id: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(300))  # relative to the workspaces root
    manifest_sha256: Mapped[str] = mapped_column(String(64))  # of the encrypted manifest
    key_name: Mapped[str] = mapped_column(String(200))
    key_version: Mapped[int] = mapped_column(Integer)
    tables: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(BIG)
    persons: Mapped[int] = mapped_column(BIG)
    bytes: Mapped[int] = mapped_column(BIG)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(320))
    ended_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_workspace_versions_project_id"),
        Index("ix_workspace_versions_state", "project_id", "state"),
    )
