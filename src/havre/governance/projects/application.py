"""The application: the document a project lead writes (JSON or TOML), after the French
procedure and EHDS article 67.

A draft may be incomplete; what it holds must still have the right shape (unknown fields and
wrong types are refused when the draft is saved, all at once). Completeness is checked at
submission (``completeness.problems``).
"""

from __future__ import annotations

import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from havre.core.canonical import canonical_text
from havre.core.errors import UsageError
from havre.core.hashing import sha256_text
from havre.governance.projects.permit import (
    AccessLevel,
    DatePolicy,
    Frozen,
    IdentifierKind,
    Period,
    Population,
    VersionPolicy,
)

MAX_DOCUMENT_BYTES = 256 * 1024
SHORT = 300
LONG = 8000

# What no project may do with the data (Code de la santé publique L.1461-1 V; EHDS art. 54).
PROHIBITED_PURPOSES: dict[str, str] = {
    "marketing_to_health_professionals": (
        "promotion of health products towards health professionals or establishments"
    ),
    "insurance_pricing_or_exclusion": (
        "excluding people from insurance cover or changing their contributions or premiums"
    ),
}


class LegalRouteKind(StrEnum):
    CNIL_AUTHORISATION = "cnil_authorisation"  # after an ethics opinion
    REFERENCE_METHODOLOGY = "reference_methodology"  # MR-00x, with a conformity declaration
    PERMANENT_ACCESS = "permanent_access"  # bodies listed by decree


class SensitiveAttribute(StrEnum):
    """What the extract must not reveal about a person once re-identified (l-diversity of
    the risk assessment; docs/risk.md says how each is read from the extract)."""

    DIAGNOSIS = "diagnosis"  # the person's most frequent ICD-10 category
    DRUG = "drug"  # the person's most frequent drug code
    DEATH = "death"  # whether the person died in the period


class TeamMember(Frozen):
    user: str = Field(min_length=1, max_length=64)
    role: Literal["researcher", "project_lead"] = "researcher"


class Funding(Frozen):
    funder: str = Field(min_length=1, max_length=SHORT)
    reference: str | None = Field(default=None, max_length=SHORT)


class LegalRoute(Frozen):
    kind: LegalRouteKind
    methodology: str | None = Field(default=None, max_length=16)
    body: str | None = Field(default=None, max_length=SHORT)


class IdentifierRequest(Frozen):
    kind: IdentifierKind
    justification: str = Field(default="", max_length=LONG)


class DataRequest(Frozen):
    dataset: str | None = Field(default=None, max_length=64)
    version_policy: VersionPolicy = VersionPolicy.LATEST_AT_ISSUE
    version: int | None = Field(default=None, ge=1)
    tables: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    period: Period | None = None
    population: Population = Population()
    potential_identifiers: tuple[IdentifierRequest, ...] = ()
    date_policy: DatePolicy | None = None
    sensitive: tuple[SensitiveAttribute, ...] = ()

    def requested_kinds(self) -> list[IdentifierKind]:
        return [r.kind for r in self.potential_identifiers]


class Application(Frozen):
    title: str | None = Field(default=None, max_length=SHORT)
    public_summary: str | None = Field(default=None, max_length=LONG)
    purpose: str | None = Field(default=None, max_length=LONG)
    public_interest: str | None = Field(default=None, max_length=LONG)
    controller: str | None = Field(default=None, max_length=SHORT)
    lead_organisation: str | None = Field(default=None, max_length=SHORT)
    team: tuple[TeamMember, ...] = ()
    funding: tuple[Funding, ...] | None = None
    declaration_of_interests: str | None = Field(default=None, max_length=LONG)
    legal_route: LegalRoute | None = None
    data: DataRequest = DataRequest()
    access_level: AccessLevel | None = None
    duration_months: int | None = Field(default=None, ge=1, le=120)
    excluded_purposes: tuple[str, ...] = ()
    call: str | None = Field(default=None, max_length=40)

    def to_json(self) -> str:
        return canonical_text(self.model_dump(mode="json"))

    @property
    def sha256(self) -> str:
        return sha256_text(self.to_json())

    def team_ids(self, role: str | None = None) -> list[str]:
        return [m.user for m in self.team if role is None or m.role == role]


def parse_application(data: Any, source: str = "the application") -> Application:
    """Validate the shape of a document; every problem is reported at once."""
    if not isinstance(data, dict):
        raise UsageError(f"{source} must be an object (a JSON object or a TOML table).")
    try:
        return Application.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise UsageError(
            f"{source} is not valid ({len(problems)} problem(s)):\n- " + "\n- ".join(problems),
            hint="fix these fields; docs/projects.md describes the application document",
            problems=problems,
        ) from None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(document)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def load_application_file(path: Path) -> Application:
    """An application from a ``.json`` or ``.toml`` file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"No application file {path}.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read the application file {path}: {exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise UsageError(
            f"The application file {path} is {len(raw)} bytes; at most {MAX_DOCUMENT_BYTES}."
        )
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except UnicodeDecodeError:
        raise UsageError(f"The application file {path} is not UTF-8 text.") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise UsageError(f"The application file {path} is not valid {kind}: {exc}") from None
    return parse_application(data, source=f"The application file {path}")
