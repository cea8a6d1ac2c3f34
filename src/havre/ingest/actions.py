"""Audited actions of ingestion and of the quarantine."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class IngestAction(StrEnum):
    RUN = "ingest.run"
    QUARANTINE_LIST = "quarantine.list"
    QUARANTINE_SHOW = "quarantine.show"
