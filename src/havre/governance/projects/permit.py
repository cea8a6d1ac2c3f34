"""The permit: the machine-readable authorization every other part enforces.

A permit version is immutable once issued. Its *terms* (everything but ``status`` and
``activated_at``, which follow its life) are stored as canonical JSON with their SHA-256, and
checked against it whenever the permit is read back. The meaning of each field, the row
filter above all, is written down in docs/projects.md: the workspace extraction implements
exactly that.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from havre.core.canonical import canonical_text
from havre.core.clock import as_utc
from havre.core.errors import IntegrityError, PermissionDenied
from havre.core.hashing import sha256_text


class IdentifierKind(StrEnum):
    """Potential identifiers, granted one by one (the lake tags its columns with these)."""

    COMMUNE = "commune"
    BIRTH_MONTH = "birth_month"
    EXACT_DATE = "exact_date"
    DEATH_DATE = "death_date"
    DEATH_COMMUNE = "death_commune"


class DatePolicy(StrEnum):
    EXACT = "exact"
    SHIFTED = "shifted"  # one secret offset per person, the same for all their dates
    MONTH = "month"  # dates truncated to the first day of their month


class AccessLevel(StrEnum):
    AGGREGATE_ONLY = "aggregate-only"
    ROW_LEVEL = "row-level"


class VersionPolicy(StrEnum):
    PINNED = "pinned"
    LATEST_AT_ISSUE = "latest_at_issue"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class PermitStatus(StrEnum):
    ISSUED = "issued"  # written, not yet activated: gives no access
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # a later version was activated
    CLOSED = "closed"  # the project was closed


# Statuses of a permit version that is (or was last) the one in force.
IN_FORCE = frozenset({PermitStatus.ACTIVE, PermitStatus.SUSPENDED, PermitStatus.EXPIRED})

# metropolitan départements (Corsica as 2A and 2B: "20" no longer exists) and overseas ones
DEPARTEMENT = re.compile(r"(?:0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])")
ICD10_PREFIX = re.compile(r"[A-Z][0-9]{1,2}[0-9A-Z]{0,2}")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def sorted_unique(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(set(values)))


class Period(Frozen):
    """Inclusive range of event dates."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        return self


class Population(Frozen):
    """Who is in the extract; every criterion given must hold (see docs/projects.md)."""

    age_min: int | None = Field(default=None, ge=0, le=130)
    age_max: int | None = Field(default=None, ge=0, le=130)
    sex: tuple[Sex, ...] = ()
    departements: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()  # ICD-10 code prefixes, upper case, without dots

    @field_validator("sex", mode="after")
    @classmethod
    def _sexes(cls, value: tuple[Sex, ...]) -> tuple[Sex, ...]:
        return sorted_unique(value)

    @field_validator("departements", mode="before")
    @classmethod
    def _departements(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        codes = [str(v).strip().upper() for v in value]
        bad = [c for c in codes if not DEPARTEMENT.fullmatch(c)]
        if bad:
            raise ValueError(f"not INSEE département codes: {', '.join(bad[:5])}")
        return sorted_unique(codes)

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        codes = [str(v).strip().upper().replace(".", "") for v in value]
        bad = [c for c in codes if not ICD10_PREFIX.fullmatch(c)]
        if bad:
            raise ValueError(
                f"not ICD-10 code prefixes (a letter and 1 to 4 characters, e.g. E11): "
                f"{', '.join(bad[:5])}"
            )
        return sorted_unique(codes)

    @model_validator(mode="after")
    def _ages(self) -> Population:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is above age_max ({self.age_max})")
        return self


class RowFilter(Frozen):
    period: Period
    population: Population = Population()


class TableGrant(Frozen):
    name: str
    columns: tuple[str, ...]

    @field_validator("columns", mode="after")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return sorted_unique(value)


class RiskFigures(Frozen):
    """What the re-identification risk assessment found when the permit was granted."""

    assessed_at: dt.datetime
    method: str = Field(max_length=120)
    k_anonymity: int | None = Field(default=None, ge=1)
    # average risks (the highest prosecutor risk is 1/k)
    prosecutor_risk: float | None = Field(default=None, ge=0, le=1)
    journalist_risk: float | None = Field(default=None, ge=0, le=1)
    marketer_risk: float | None = Field(default=None, ge=0, le=1)
    sample_uniqueness: float | None = Field(default=None, ge=0, le=1)
    population_uniqueness: float | None = Field(default=None, ge=0, le=1)
    l_diversity: int | None = Field(default=None, ge=0)
    report_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Permit(Frozen):
    """One version of a project's permit. Build with ``Permit.from_terms``; never by hand."""

    LIFE_FIELDS: ClassVar[frozenset[str]] = frozenset({"status", "activated_at"})

    project_id: str
    version: int = Field(ge=1)
    revision: int = Field(ge=1)  # the application revision it was granted on
    issued_at: dt.datetime
    expires_at: dt.datetime
    named_persons: tuple[str, ...]
    dataset: str
    data_version_policy: VersionPolicy
    data_version: int = Field(ge=1)
    data_version_id: str
    tables: tuple[TableGrant, ...]
    row_filter: RowFilter
    potential_identifiers_granted: tuple[IdentifierKind, ...] = ()
    date_policy: DatePolicy
    access_level: AccessLevel
    risk: RiskFigures | None = None
    status: PermitStatus = PermitStatus.ISSUED
    activated_at: dt.datetime | None = None

    @field_validator("named_persons", "potential_identifiers_granted", mode="after")
    @classmethod
    def _sets(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        return sorted_unique(value)

    @field_validator("tables", mode="after")
    @classmethod
    def _tables(cls, value: tuple[TableGrant, ...]) -> tuple[TableGrant, ...]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("a table is listed twice")
        return tuple(sorted(value, key=lambda t: t.name))

    @field_validator("issued_at", "expires_at", "activated_at", mode="after")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else as_utc(value)

    # -- identity of the terms ----------------------------------------------------------------
    def terms(self) -> dict[str, Any]:
        """What was granted: every field but those that follow the permit's life."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude=set(self.LIFE_FIELDS))
        return data

    def terms_json(self) -> str:
        return canonical_text(self.terms())

    @property
    def sha256(self) -> str:
        return sha256_text(self.terms_json())

    @classmethod
    def from_terms(
        cls,
        terms_json: str,
        expected_sha256: str,
        *,
        status: PermitStatus,
        activated_at: dt.datetime | None,
    ) -> Permit:
        """A stored permit, checked against the hash it was issued with."""
        if sha256_text(terms_json) != expected_sha256:
            raise IntegrityError(
                "A stored permit does not match the hash it was issued with.",
                hint="the governance database was altered; restore it and check the audit log",
            )
        return _read_terms(cls, terms_json, status, activated_at)

    # -- questions enforcement asks -----------------------------------------------------------
    def effective_status(self, now: dt.datetime) -> PermitStatus:
        """Expiry is read from the clock: a permit past ``expires_at`` is expired at once."""
        running = (PermitStatus.ACTIVE, PermitStatus.SUSPENDED, PermitStatus.ISSUED)
        if self.status in running and as_utc(now) >= self.expires_at:
            return PermitStatus.EXPIRED
        return self.status

    def at(self, now: dt.datetime) -> Permit:
        """This permit with the status it has at ``now``."""
        status = self.effective_status(now)
        return self if status is self.status else self.model_copy(update={"status": status})

    def table_map(self) -> dict[str, tuple[str, ...]]:
        return {t.name: t.columns for t in self.tables}

    def columns_of(self, table: str) -> tuple[str, ...]:
        for grant in self.tables:
            if grant.name == table:
                return grant.columns
        raise PermissionDenied(
            f"Permit {self.project_id} v{self.version} does not grant the table '{table}'.",
            hint=f"granted tables: {', '.join(t.name for t in self.tables)}",
        )

    def allows(self, table: str, column: str) -> bool:
        return column in self.table_map().get(table, ())

    def grants(self, kind: IdentifierKind | str) -> bool:
        return IdentifierKind(kind) in self.potential_identifiers_granted

    def names(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self.named_persons

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        data["sha256"] = self.sha256
        return data


# every data access reads the permit in force at least twice, and parsing its terms is the
# dearest part of that: stored permits already read are kept (frozen, so shared safely)
@functools.lru_cache(maxsize=256)
def _read_terms(
    cls: type[Permit], terms_json: str, status: PermitStatus, activated_at: dt.datetime | None
) -> Permit:
    try:
        terms = json.loads(terms_json)
        return cls.model_validate({**terms, "status": status, "activated_at": activated_at})
    except (ValueError, ValidationError) as exc:
        raise IntegrityError(f"A stored permit cannot be read: {exc}") from None
