"""The opt-out register. It holds keyed hashes of identities, never a NIR."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base


class OptOutRow(Base):
    __tablename__ = "optouts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64))  # HMAC hex (see havre.pseudo.scheme)
    scheme: Mapped[str] = mapped_column(String(64))
    key_version: Mapped[int] = mapped_column(Integer)
    objected_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime]
    recorded_by: Mapped[str] = mapped_column(String(320))
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(320))

    __table_args__ = (
        UniqueConstraint("scheme", "key_version", "subject_key", name="uq_optouts_subject"),
        Index("ix_optouts_active", "withdrawn_at"),
    )
