"""Projects, their application revisions, review steps, permits and calls for projects.

Documents (applications, permit terms) are stored as canonical JSON text with their SHA-256,
so what was reviewed and what was granted can be proved byte for byte.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base

ID = 40
USER = 32  # users.id
USERS_ID = "users.id"


class CallRow(Base):
    __tablename__ = "project_calls"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    themes: Mapped[str] = mapped_column(Text)  # canonical JSON list
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    created_at: Mapped[dt.datetime]


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32))
    lead_user_id: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    call_id: Mapped[str | None] = mapped_column(String(ID), ForeignKey("project_calls.id"))
    created_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]  # first submission: in the register from then on
    closed_at: Mapped[dt.datetime | None]
    workspace_key: Mapped[str | None] = mapped_column(String(20))  # what closure did to it
    results_due_on: Mapped[dt.date | None] = mapped_column(Date)
    results_summary: Mapped[str | None] = mapped_column(Text)
    results_links: Mapped[str | None] = mapped_column(Text)  # canonical JSON list
    results_recorded_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_projects_status", "status"),)


class RevisionRow(Base):
    """One version of the application: the first, then each amendment."""

    __tablename__ = "project_revisions"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # initial | amendment
    status: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    # what was last submitted: the register shows it, not a draft being reworked
    submitted_document: Mapped[str | None] = mapped_column(Text)
    submitted_sha256: Mapped[str | None] = mapped_column(String(64))
    withheld: Mapped[str] = mapped_column(Text)  # identifiers the decision did not grant (JSON)
    # the latest re-identification risk assessment of these terms (canonical JSON, see risk.py)
    risk_assessment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]

    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_project_revisions_number"),)


class StepRow(Base):
    """The review history: every step taken on a project, with its comment and references."""

    __tablename__ = "project_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    revision: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[str | None] = mapped_column(String(USER), ForeignKey(USERS_ID))
    actor_name: Mapped[str] = mapped_column(String(320))
    at: Mapped[dt.datetime]
    comment: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_project_steps_project", "project_id"),)


class PermitRow(Base):
    __tablename__ = "permits"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    terms: Mapped[str] = mapped_column(Text)
    terms_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime]
    issued_by: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    expires_at: Mapped[dt.datetime]
    activated_at: Mapped[dt.datetime | None]
    activated_by: Mapped[str | None] = mapped_column(String(USER), ForeignKey(USERS_ID))
    ended_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_permits_version"),
        Index("ix_permits_status", "status"),
    )
