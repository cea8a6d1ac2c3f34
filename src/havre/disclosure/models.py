"""The airlock's tables: release requests, their outputs, the checkers' reviews and their
consolidation, what each project released (for differencing) and its privacy budget ledger.

Candidate outputs themselves (the protected table, an attached figure or model file, the
output's query, its population) are files encrypted under the project's workspace key in
``$HAVRE_HOME/airlock``; only facts about them are here. Reports are kept as canonical JSON:
they never hold a withheld value. Output specifications are stored without their SQL text (a
researcher may type values into a query); the text is in the encrypted candidate folder.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base

ID = 40
USER = 32  # users.id
USERS_ID = "users.id"
REQUESTS_ID = "release_requests.id"
BIG = BigInteger().with_variant(Integer, "sqlite")


class ReleaseRequestRow(Base):
    __tablename__ = "release_requests"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    requester_user_id: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    state: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)  # submissions so far; reviews belong to one
    context: Mapped[str] = mapped_column(Text)
    justification: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    checked_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]
    reviewed_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(USER), ForeignKey(USERS_ID))
    released_at: Mapped[dt.datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(USER), ForeignKey(USERS_ID))
    release_path: Mapped[str | None] = mapped_column(String(300))  # relative to releases/
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[dt.datetime | None]
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_release_requests_project", "project_id", "state"),
        Index("ix_release_requests_state", "state"),
    )


class ReleaseOutputRow(Base):
    """One version of one output of a request (a rework or a new check adds a version)."""

    __tablename__ = "release_outputs"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(ID), ForeignKey(REQUESTS_ID))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))  # count, sum, ..., figure, model
    spec: Mapped[str] = mapped_column(Text)  # canonical JSON, without the SQL text
    spec_sha256: Mapped[str] = mapped_column(String(64))  # of the full spec, SQL included
    sql_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pass, fail, review
    report: Mapped[str] = mapped_column(Text)  # canonical JSON; no withheld value
    dataset: Mapped[str | None] = mapped_column(String(64))
    data_version: Mapped[int | None] = mapped_column(Integer)
    data_version_id: Mapped[str | None] = mapped_column(String(ID))
    workspace_version: Mapped[int | None] = mapped_column(Integer)
    permit_version: Mapped[int] = mapped_column(Integer)
    permit_sha256: Mapped[str] = mapped_column(String(64))
    population_hash: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str | None] = mapped_column(String(64))  # the file as released
    content_bytes: Mapped[int | None] = mapped_column(BIG)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    attachment_bytes: Mapped[int | None] = mapped_column(BIG)
    dp_epsilon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("request_id", "name", "version", name="uq_release_outputs_request_id"),
        Index("ix_release_outputs_current", "request_id", "current"),
    )


class ReleaseReviewRow(Base):
    """One checker's blind review of one round of a request."""

    __tablename__ = "release_reviews"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(ID), ForeignKey(REQUESTS_ID))
    round: Mapped[int] = mapped_column(Integer)
    checker_user_id: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    verdict: Mapped[str] = mapped_column(String(16))  # approve, return, reject
    verdicts: Mapped[str] = mapped_column(Text)  # canonical JSON: output -> verdict, comment
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint(
            "request_id", "round", "checker_user_id", name="uq_release_reviews_request_id"
        ),
    )


class ReleaseConsolidationRow(Base):
    """The joint outcome of a round's two reviews."""

    __tablename__ = "release_consolidations"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(ID), ForeignKey(REQUESTS_ID))
    round: Mapped[int] = mapped_column(Integer)
    by_user_id: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    outcome: Mapped[str] = mapped_column(String(16))  # approved, returned, rejected
    agreed: Mapped[bool] = mapped_column(Boolean)
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("request_id", "round", name="uq_release_consolidations_request_id"),
    )


class ReleasedRecordRow(Base):
    """What a released table told the world, kept inside the hub for differencing: its
    dimensions, its population (a hash of the set of persons, its size) and its released
    cells with their person counts (``havre.disclosure.releases.ReleaseRecord``)."""

    __tablename__ = "released_records"

    output_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("release_outputs.id"), primary_key=True
    )
    request_id: Mapped[str] = mapped_column(String(ID), ForeignKey(REQUESTS_ID))
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))
    dims: Mapped[str] = mapped_column(Text)  # canonical JSON list
    population_base: Mapped[str] = mapped_column(String(200))
    population_hash: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)  # ReleaseRecord as JSON
    released_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_released_records_project", "project_id"),)


class PrivacyBudgetRow(Base):
    """A project's total privacy budget, when a data steward set one (else the setting)."""

    __tablename__ = "privacy_budgets"

    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"), primary_key=True)
    total_epsilon: Mapped[float] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    set_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)


class PrivacySpendRow(Base):
    """The privacy ledger: epsilon spent by each differentially private output."""

    __tablename__ = "privacy_ledger"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID), ForeignKey("projects.id"))
    request_id: Mapped[str] = mapped_column(String(ID), ForeignKey(REQUESTS_ID))
    output_id: Mapped[str] = mapped_column(String(ID), ForeignKey("release_outputs.id"))
    epsilon: Mapped[float] = mapped_column(Float)
    total_epsilon: Mapped[float] = mapped_column(Float)  # the budget when it was spent
    description: Mapped[str] = mapped_column(String(200))
    spent_by: Mapped[str] = mapped_column(String(USER), ForeignKey(USERS_ID))
    spent_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_privacy_ledger_project", "project_id"),)
