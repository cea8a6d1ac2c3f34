"""All tables of the governance store, gathered for Alembic. Each room defines its own
tables in its ``models`` module; importing them here registers them on one metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from havre.db.base import Base


class HubInfo(Base):
    """Facts about the hub itself (its id, when it was created, the pseudonym scheme...)."""

    __tablename__ = "hub_info"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(4000))


class GovernanceChangeRow(Base):
    """One row (id 1): a counter that triggers raise on every change to the governance tables
    a query reads (migration 0009, ``havre.db.changes``)."""

    __tablename__ = "governance_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


def _register_room_models() -> None:
    import importlib

    for module in (
        "havre.audit.models",
        "havre.governance.identity.models",
        "havre.governance.projects.models",
        "havre.governance.optouts.models",
        "havre.lake.models",
        "havre.workspace.models",
        "havre.disclosure.models",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # a room without tables (yet) has no models module
            if exc.name is None or not module.startswith(exc.name):
                raise


_register_room_models()
metadata = Base.metadata
