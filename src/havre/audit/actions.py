"""The typed list of audited actions.

Each room declares its actions as a ``StrEnum`` and registers it here with ``@register``;
the audit log accepts only registered actions, and ``havre audit actions`` lists them all.
Values are dotted: ``<room or object>.<verb>``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=type[StrEnum])

_REGISTRY: dict[str, StrEnum] = {}


def register(enum_cls: E) -> E:
    for member in enum_cls:
        existing = _REGISTRY.get(member.value)
        if existing is not None and existing is not member:
            raise ValueError(f"audit action {member.value!r} registered twice")
        _REGISTRY[member.value] = member
    return enum_cls


def is_registered(action: str) -> bool:
    return action in _REGISTRY


def all_actions() -> list[str]:
    return sorted(_REGISTRY)


@register
class HubAction(StrEnum):
    INIT = "hub.init"
    OPEN = "hub.open"
    KEY_CREATE = "key.create"
    KEY_ROTATE = "key.rotate"
    KEY_DESTROY = "key.destroy"
    SETTINGS_CHANGE = "hub.settings_change"


@register
class AuditAction(StrEnum):
    CHECKPOINT = "audit.checkpoint"
    ARCHIVE = "audit.archive"
    SEARCH = "audit.search"
    EXPORT = "audit.export"
    PROOF = "audit.proof"
