"""Disclosure policy: an ordered tuple of rules and their parameters.

A hub keeps one policy document (TOML or JSON) with a base policy, per-dataset entries
(matched by glob pattern on dataset names, e.g. ``pmsi*``) and per-project entries. The
policy of an output is the base, tightened by every dataset it derives from (the strictest
value of each parameter wins), then the project entry (a steward's explicit decision for
that project, which may loosen or tighten).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from havre.core.config import Settings
from havre.core.errors import ConfigError, UsageError

DEFAULT_RULES: tuple[str, ...] = (
    "threshold",
    "zero",
    "nk",
    "p_percent",
    "extremes",
    "dof",
    "survival",
    "histogram",
    "differencing",
    "secondary",
)


class PolicyParams(BaseModel):
    """Parameters every rule reads. Defaults follow the usual output-checking guidance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int = Field(default=10, ge=1, description="Minimum persons per released cell.")
    nk_n: int = Field(default=2, ge=1, description="Dominance: number of largest contributors.")
    nk_k: float = Field(
        default=0.90, gt=0, le=1, description="Dominance: share of the total they may not reach."
    )
    p_percent: float = Field(
        default=0.10, gt=0, lt=1, description="p% rule: precision an intruder may not reach."
    )
    min_dof: int = Field(default=10, ge=1, description="Minimum residual degrees of freedom.")
    zeros_disclosive: bool = Field(
        default=True, description="Empty cells fail unless declared structural."
    )
    allow_min_max: bool = Field(
        default=False, description="Release minima/maxima without a checker's review."
    )
    margins: bool = Field(default=True, description="Totals per dimension are released.")
    survival_min_events: int | None = Field(
        default=None, ge=1, description="Events needed per survival step (default: threshold)."
    )
    histogram_mode: Literal["merge", "suppress"] = Field(
        default="merge", description="What to do with histogram bins below the threshold."
    )
    value_protection: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Magnitude cells: relative protection required on each side "
        "(default: p_percent).",
    )

    @property
    def survival_events(self) -> int:
        return self.survival_min_events or self.threshold

    @property
    def magnitude_protection(self) -> float:
        return self.value_protection or self.p_percent


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


# How two values of a parameter combine when several datasets apply: the stricter wins.
_STRICTER: dict[str, Callable[[Any, Any], Any]] = {
    "threshold": _max,
    "nk_n": _max,
    "nk_k": _min,
    "p_percent": _max,
    "min_dof": _max,
    "zeros_disclosive": lambda a, b: a or b,
    "allow_min_max": lambda a, b: a and b,
    "margins": lambda a, b: a and b,
    "survival_min_events": _max,
    "histogram_mode": lambda a, b: "suppress" if "suppress" in (a, b) else "merge",
    "value_protection": _max,
}
assert set(_STRICTER) == set(PolicyParams.model_fields)


def stricter(base: PolicyParams, override: Mapping[str, Any]) -> PolicyParams:
    values = base.model_dump()
    for name, value in override.items():
        values[name] = _STRICTER[name](values[name], value)
    return PolicyParams(**values)


class Policy(BaseModel):
    """What an output is checked against: the rules, in order, and their parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "havre-default"
    rules: tuple[str, ...] = DEFAULT_RULES
    params: PolicyParams = PolicyParams()

    def with_params(self, **changes: Any) -> Policy:
        values = {**self.params.model_dump(), **changes}
        return self.model_copy(update={"params": PolicyParams(**values)})

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rules": list(self.rules),
            "parameters": self.params.model_dump(),
        }


class ProjectEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[str, ...] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class PolicyDocument(BaseModel):
    """The hub's policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "havre-default"
    rules: tuple[str, ...] = DEFAULT_RULES
    parameters: PolicyParams = PolicyParams()
    datasets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    projects: dict[str, ProjectEntry] = Field(default_factory=dict)

    def resolve(self, datasets: Sequence[str] = (), project: str | None = None) -> Policy:
        params = self.parameters
        names = [self.name]
        for pattern, override in self.datasets.items():
            if any(fnmatch.fnmatchcase(d.lower(), pattern.lower()) for d in datasets):
                params = stricter(params, override)
                names.append(f"dataset:{pattern}")
        rules = self.rules
        entry = self.projects.get(project) if project else None
        if entry is not None:
            params = PolicyParams(**{**params.model_dump(), **entry.parameters})
            rules = entry.rules or rules
            names.append(f"project:{project}")
        return Policy(name="+".join(names), rules=rules, params=params)

    def validate_entries(self) -> None:
        """Fail early on a misspelt parameter or a value out of range in any entry."""
        for where, override in [
            *((f"datasets.{k}", v) for k, v in self.datasets.items()),
            *((f"projects.{k}", v.parameters) for k, v in self.projects.items()),
        ]:
            try:
                PolicyParams(**{**self.parameters.model_dump(), **override})
            except ValidationError as exc:
                raise UsageError(f"Policy entry {where} is invalid: {_problems(exc)}") from None


DEFAULT_DOCUMENT = PolicyDocument(datasets={"pmsi*": {"threshold": 11}})
"""Built-in policy: the usual defaults; outputs derived from PMSI (hospital stays) need 11."""


def hub_policy_document(threshold: int = 10, path: Path | None = None) -> PolicyDocument:
    """A hub's policy: its document when it has one, else the built-in document with the
    hub's base threshold (the ``disclosure_threshold`` setting)."""
    if path is not None and path.is_file():
        return load_policy_document(path)
    base = DEFAULT_DOCUMENT.parameters.model_copy(update={"threshold": threshold})
    return DEFAULT_DOCUMENT.model_copy(update={"parameters": PolicyParams(**base.model_dump())})


def settings_policy_document(settings: Settings) -> PolicyDocument:
    """The hub's policy as its settings name it (``disclosure_policy_file``,
    ``disclosure_threshold``): what the airlock and the workspaces' aggregate-only checks
    apply. A policy file that is named but missing is an error, never a silent fallback."""
    path, _ = _policy_file(settings)
    return hub_policy_document(settings.disclosure_threshold, path)


def aggregate_threshold(settings: Settings, dataset: str, project: str) -> int:
    """The threshold of an aggregate-only workspace query: the policy's for ``dataset`` and
    ``project`` (the airlock's), never below the hub's base threshold. Read once while the
    policy file keeps its modification time and size: it is asked at every query."""
    path, stamp = _policy_file(settings)
    return _threshold(settings.disclosure_threshold, dataset, project, path, stamp)


@functools.lru_cache(maxsize=256)
def _threshold(
    base: int, dataset: str, project: str, path: Path | None, stamp: tuple[int, int] | None
) -> int:
    policy = hub_policy_document(base, path).resolve([dataset], project)
    return max(base, policy.params.threshold)


def _policy_file(settings: Settings) -> tuple[Path | None, tuple[int, int] | None]:
    """The named policy file and its (modification time, size); a file named but missing is
    a ``ConfigError``."""
    path = settings.disclosure_policy_file
    if path is None:
        return None, None
    try:
        found = path.stat()
    except OSError:
        found = None
    if found is None or not stat.S_ISREG(found.st_mode):
        raise ConfigError(
            f"The disclosure policy file {path} does not exist.",
            hint="fix HAVRE_DISCLOSURE_POLICY_FILE (see docs/disclosure.md for the format)",
        )
    return path, (found.st_mtime_ns, found.st_size)


def load_policy_document(path: Path) -> PolicyDocument:
    """Read a policy document (``.toml`` or ``.json``); unknown rules or keys are refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the policy file {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"The policy file {path} is not valid: {exc}") from None
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(
            f"The policy file {path} is not valid: {_problems(exc)}",
            hint="see docs/disclosure.md for the policy format",
        ) from None
    document.validate_entries()
    from havre.disclosure.registry import get_rule

    for name in {*document.rules, *(r for e in document.projects.values() for r in e.rules or ())}:
        get_rule(name)
    return document


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()
    )
