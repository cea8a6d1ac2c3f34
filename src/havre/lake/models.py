"""The lake registry: which data versions exist. A version is visible only once it is here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base

BIG = BigInteger().with_variant(Integer, "sqlite")


class DataVersionRow(Base):
    __tablename__ = "lake_versions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))  # relative to the lake root
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    delivery_sha256: Mapped[str] = mapped_column(String(64))
    source_kind: Mapped[str] = mapped_column(String(32))
    source_name: Mapped[str] = mapped_column(String(64))
    pseudonym_scheme: Mapped[str] = mapped_column(String(200))
    key_name: Mapped[str] = mapped_column(String(200))
    key_version: Mapped[int] = mapped_column(Integer)
    records_read: Mapped[int] = mapped_column(BIG)
    records_loaded: Mapped[int] = mapped_column(BIG)
    records_quarantined: Mapped[int] = mapped_column(BIG)
    records_opted_out: Mapped[int] = mapped_column(BIG)
    records_duplicates: Mapped[int] = mapped_column(BIG)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(320))

    __table_args__ = (
        UniqueConstraint("dataset", "version", name="uq_lake_versions_dataset_version"),
        Index("ix_lake_versions_delivery", "dataset", "delivery_sha256"),
    )
