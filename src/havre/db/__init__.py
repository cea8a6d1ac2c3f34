"""Governance store plumbing: SQLAlchemy engine and sessions, Alembic migrations."""

from havre.core.errors import DatabaseUnavailable
from havre.db.base import Base, UTCDateTime
from havre.db.database import Database

__all__ = ["Base", "Database", "DatabaseUnavailable", "UTCDateTime"]
