"""Re-identification risk in the review, as this room sees it: the assessor it is handed (a
small protocol: the workspace room builds the would-be extract, a layer above), the record of
an assessment, and the permit drafts reviewers try.

The assessor receives a draft ``Permit`` (the terms an application requests, less what the
decision withheld) and returns ``RiskFigures`` with a report made of aggregates only. The
report's SHA-256 goes into the figures, and the figures into the permit at issue.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field, ValidationError, field_validator

from havre.core.canonical import canonical_text
from havre.core.errors import IntegrityError, UsageError
from havre.core.hashing import sha256_value
from havre.governance.projects.application import (
    MAX_DOCUMENT_BYTES,
    DataRequest,
    IdentifierRequest,
    SensitiveAttribute,
)
from havre.governance.projects.permit import (
    DatePolicy,
    Frozen,
    IdentifierKind,
    Period,
    Permit,
    Population,
    RiskFigures,
    VersionPolicy,
)

# The text a draft's identifier gets when the draft gives none and the application neither:
# a draft is never stored as an application, the text only satisfies the terms' shape.
DRAFT_JUSTIFICATION = "Requested in a permit draft, for its risk assessment only."


class RiskTrigger(StrEnum):
    REVIEW = "review"  # the application reached review
    ON_DEMAND = "on_demand"
    ISSUE = "issue"  # the terms changed since the last assessment (withheld, new data)


@dataclass(frozen=True)
class RiskRequest:
    permit: Permit  # a draft: what the extract would be built from
    assessed_at: dt.datetime
    sensitive: tuple[SensitiveAttribute, ...] = ()
    target_k: int | None = None  # both None: the hub's settings
    target_risk: float | None = None


@dataclass(frozen=True)
class RiskResult:
    figures: RiskFigures
    report: dict[str, Any]  # aggregates only; its canonical JSON hashes to figures.report_sha256


class RiskAssessor(Protocol):
    def assess(self, request: RiskRequest) -> RiskResult:
        """The risk of the extract ``request.permit`` would produce (nothing is written)."""
        ...


def terms_sha256(permit: Permit, sensitive: Sequence[SensitiveAttribute]) -> str:
    """What the risk depends on: the data version, tables, row filter, identifiers granted,
    date policy and sensitive attributes (not the permit's version, dates or persons)."""
    return sha256_value(
        {
            "dataset": permit.dataset,
            "data_version_id": permit.data_version_id,
            "tables": {t.name: list(t.columns) for t in permit.tables},
            "row_filter": permit.row_filter.model_dump(mode="json"),
            "identifiers": sorted(k.value for k in permit.potential_identifiers_granted),
            "date_policy": permit.date_policy.value,
            "sensitive": sorted({s.value for s in sensitive}),
        }
    )


@dataclass(frozen=True)
class RiskRecord:
    """One assessment: stored on the revision it was made for, or (a draft, a permit already
    issued) only returned and audited."""

    project_id: str
    revision: int | None
    trigger: str
    draft: bool
    assessed_at: dt.datetime
    assessed_by: str
    terms_sha256: str
    figures: RiskFigures
    report: dict[str, Any] = field(repr=False)
    stored: bool = False

    def stored_form(self) -> str:
        body = self.to_dict()
        body.pop("stored")
        return canonical_text(body)

    @classmethod
    def from_stored(cls, text: str, project_id: str) -> RiskRecord:
        """A stored record, checked against the report hash its figures carry."""
        try:
            data = json.loads(text)
            figures = RiskFigures.model_validate(data["figures"])
            report = data["report"]
            record = cls(
                project_id=project_id,
                revision=data["revision"],
                trigger=str(data["trigger"]),
                draft=bool(data["draft"]),
                assessed_at=dt.datetime.fromisoformat(data["assessed_at"]),
                assessed_by=str(data["assessed_by"]),
                terms_sha256=str(data["terms_sha256"]),
                figures=figures,
                report=report,
                stored=True,
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise IntegrityError(
                f"The stored risk assessment of project {project_id} cannot be read: {exc}"
            ) from None
        if sha256_value(report) != figures.report_sha256:
            raise IntegrityError(
                f"The stored risk report of project {project_id} does not match its hash.",
                hint="the governance database was altered; restore it and check the audit log",
            )
        return record

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "revision": self.revision,
            "trigger": self.trigger,
            "draft": self.draft,
            "stored": self.stored,
            "assessed_at": self.assessed_at,
            "assessed_by": self.assessed_by,
            "terms_sha256": self.terms_sha256,
            "figures": self.figures.model_dump(mode="json"),
            "report": self.report,
        }


class PermitDraft(Frozen):
    """A what-if on a project's terms: each field given replaces the requested one; the rest
    stays as the application asks. ``withhold`` plays the decision's withholding."""

    dataset: str | None = Field(default=None, max_length=64)
    version_policy: VersionPolicy | None = None
    version: int | None = Field(default=None, ge=1)
    tables: dict[str, tuple[str, ...]] | None = None
    period: Period | None = None
    population: Population | None = None
    potential_identifiers: tuple[IdentifierKind, ...] | None = None
    date_policy: DatePolicy | None = None
    sensitive: tuple[SensitiveAttribute, ...] | None = None
    withhold: tuple[IdentifierKind, ...] = ()

    @field_validator("potential_identifiers", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        # the application's form ({"kind": ..., "justification": ...}) is accepted too
        if isinstance(value, list | tuple):
            return [v.get("kind") if isinstance(v, dict) else v for v in value]
        return value

    def apply(self, request: DataRequest) -> DataRequest:
        """The requested terms with this draft's changes."""
        changes: dict[str, Any] = {
            name: getattr(self, name)
            for name in (
                "dataset",
                "version_policy",
                "version",
                "tables",
                "period",
                "population",
                "date_policy",
                "sensitive",
            )
            if getattr(self, name) is not None
        }
        if self.version_policy is VersionPolicy.LATEST_AT_ISSUE and self.version is None:
            changes["version"] = None
        if self.potential_identifiers is not None:
            reasons = {r.kind: r.justification for r in request.potential_identifiers}
            changes["potential_identifiers"] = tuple(
                IdentifierRequest(kind=k, justification=reasons.get(k) or DRAFT_JUSTIFICATION)
                for k in dict.fromkeys(self.potential_identifiers)
            )
        return request.model_copy(update=changes)


def parse_permit_draft(data: Any, source: str = "the permit draft") -> PermitDraft:
    """A draft from a document: the draft's fields, or a whole application (its ``data``
    part, with ``withhold`` beside it)."""
    if not isinstance(data, dict):
        raise UsageError(f"{source} must be an object (a JSON object or a TOML table).")
    if isinstance(data.get("data"), dict):
        data = {**data["data"], **({"withhold": data["withhold"]} if "withhold" in data else {})}
    try:
        return PermitDraft.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: "
            + ("unknown field" if e["type"] == "extra_forbidden" else str(e["msg"]))
            for e in exc.errors()
        ]
        raise UsageError(
            f"{source} is not valid ({len(problems)} problem(s)):\n- " + "\n- ".join(problems),
            hint="a draft holds fields of the application's data part, and withhold; "
            "see docs/risk.md",
            problems=problems,
        ) from None


def load_permit_draft(path: Path) -> PermitDraft:
    """A permit draft from a ``.json`` or ``.toml`` file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read the permit draft {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise UsageError(
            f"The permit draft {path} is {len(raw)} bytes; at most {MAX_DOCUMENT_BYTES}."
        )
    toml = path.suffix.lower() == ".toml"
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text) if toml else json.loads(text)
    except UnicodeDecodeError:
        raise UsageError(f"The permit draft {path} is not UTF-8 text.") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if toml else "JSON"
        raise UsageError(f"The permit draft {path} is not valid {kind}: {exc}") from None
    return parse_permit_draft(data, source=f"The permit draft {path}")
