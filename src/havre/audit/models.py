"""Audit tables. Entries, checkpoints and archive records are append-only: triggers refuse
UPDATE and DELETE (migration 0002); the one exception is deleting entries that a signed
archive record marked as removed (see ``havre.audit.archive``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[dt.datetime]
    actor_user_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(320))
    actor_roles: Mapped[str] = mapped_column(Text)  # canonical JSON list
    token_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128))
    justification: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON object
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    # the exact text the hash covers, written at append (migration 0008); NULL for entries
    # appended before it. Verification hashes it and checks it still equals the columns.
    canonical: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_entries_ts", "ts"),
        Index("ix_audit_entries_actor", "actor_user_id"),
        Index("ix_audit_entries_project", "project_id"),
        Index("ix_audit_entries_action", "action"),
    )


class AuditHeadRow(Base):
    """One row: the last sequence number and hash. Locked to serialize appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed statement: the log had ``tree_size`` entries with this Merkle root at this time.

    ``frontier`` (the compact range at ``tree_size``) is not signed; it lets the next checkpoint
    extend this one without reading every entry, and is checked against the signed root first.
    """

    __tablename__ = "audit_checkpoints"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    origin: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str] = mapped_column(String(128))
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(128))
    frontier: Mapped[str] = mapped_column(Text)  # canonical JSON list of hex node hashes

    __table_args__ = (Index("ix_audit_checkpoints_tree_size", "tree_size"),)


class AuditArchiveRow(Base):
    """A signed record of a range of entries written to an archive file (and maybe removed)."""

    __tablename__ = "audit_archives"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    entry_count: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    last_hash: Mapped[str] = mapped_column(String(64))
    root_hash: Mapped[str] = mapped_column(String(64))  # Merkle root at last_seq
    frontier: Mapped[str] = mapped_column(Text)  # canonical JSON list, signed
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    removed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]
    origin: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str] = mapped_column(String(128))
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(128))
