"""Audited actions of the lake."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class LakeAction(StrEnum):
    CATALOG = "catalog.view"
