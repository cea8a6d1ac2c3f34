"""The ingestion services of a test hub, built from its parts."""

from __future__ import annotations

from dataclasses import dataclass

from havre.governance.optouts import OptOutRegister
from havre.hub import Hub
from havre.ingest.pipeline import Ingestion
from havre.lake import Lake
from havre.pseudo import Pseudonymizer


@dataclass
class Services:
    lake: Lake
    optouts: OptOutRegister
    ingestion: Ingestion


def services(hub: Hub) -> Services:
    pseudo = Pseudonymizer(hub.keys)
    lake = Lake(hub.settings, hub.db, hub.keys, hub.clock)
    optouts = OptOutRegister(hub.db, hub.audit, pseudo, hub.settings, hub.clock)
    ingestion = Ingestion(hub.settings, hub.db, hub.audit, lake, optouts, pseudo, hub.clock)
    return Services(lake, optouts, ingestion)
