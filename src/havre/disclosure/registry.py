"""How rules are found: built-in rules and a hub's own use the same decorator.

    from havre.disclosure.registry import rule

    @rule("rare_diagnosis", applies_to=(CellTable,), description="...")
    def check(output, params, context) -> list[CellFlag]: ...

then name ``rare_diagnosis`` in the policy's ``rules``. A rule returns the cells it fails or
sends to review; it never changes the output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from havre.core.errors import UsageError
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import PolicyParams
from havre.disclosure.report import CellFlag

RuleCheck = Callable[[Any, PolicyParams, CheckContext], list[CellFlag]]
F = TypeVar("F", bound=RuleCheck)

_BUILTIN_MODULES = (
    "threshold",
    "zero",
    "dominance",
    "p_percent",
    "extremes",
    "dof",
    "survival",
    "histogram",
    "differencing",
    "secondary",
)


@dataclass(frozen=True)
class Rule:
    name: str
    check: RuleCheck
    applies_to: tuple[type, ...]
    description: str

    def applies(self, output: object) -> bool:
        return isinstance(output, self.applies_to)


_RULES: dict[str, Rule] = {}
_loaded = False


def rule(name: str, *, applies_to: tuple[type, ...], description: str) -> Callable[[F], F]:
    """Register ``check`` under ``name``. Registering a second rule with a name is an error."""

    def decorate(check: F) -> F:
        existing = _RULES.get(name)
        if existing is not None and existing.check is not check:
            raise ValueError(f"disclosure rule {name!r} is already registered")
        _RULES[name] = Rule(name, check, applies_to, description)
        return check

    return decorate


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(f"havre.disclosure.rules.{module}")
        _loaded = True


def get_rule(name: str) -> Rule:
    _load_builtins()
    try:
        return _RULES[name]
    except KeyError:
        raise UsageError(
            f"Unknown disclosure rule {name!r}",
            hint=f"registered rules: {', '.join(sorted(_RULES))}",
        ) from None


def registered_rules() -> dict[str, Rule]:
    _load_builtins()
    return dict(_RULES)
