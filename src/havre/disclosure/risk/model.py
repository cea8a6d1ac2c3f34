"""What a risk assessment is made of: the declaration going in, the typed figures coming out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from havre.core.errors import UsageError
from havre.disclosure.risk.hierarchies import ColumnKind, infer_kind, parse_kind

DEFAULT_THRESHOLD = 0.2  # a record is "at risk" above 1/5, i.e. in a class smaller than 5

# Histogram bins shown to people: exact sizes up to 5, then widening ranges.
BINS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 10),
    (11, 20),
    (21, 50),
    (51, 100),
    (101, 1000),
    (1001, None),
)


@dataclass(frozen=True)
class QuasiIdentifier:
    column: str
    kind: ColumnKind = ColumnKind.OTHER


@dataclass(frozen=True)
class RiskDeclaration:
    """The quasi-identifiers an attacker may know, and the attributes that must stay diverse."""

    quasi_identifiers: tuple[QuasiIdentifier, ...]
    sensitive: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.quasi_identifiers:
            raise UsageError(
                "No quasi-identifier declared", hint="name at least one column (--qi col1,col2)"
            )
        columns = [qi.column for qi in self.quasi_identifiers] + list(self.sensitive)
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise UsageError(
                f"Column(s) declared twice: {', '.join(repeated)}",
                hint="a column is either a quasi-identifier or a sensitive attribute, once",
            )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(qi.column for qi in self.quasi_identifiers) + self.sensitive


@dataclass(frozen=True)
class Population:
    """What the extract is drawn from. The default: the extract is the whole population."""

    sampling_fraction: float | None = None
    size: int | None = None
    relation: str | None = None  # a population table registered in the same engine

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.sampling_fraction, self.size, self.relation))
        if given > 1:
            raise UsageError(
                "Give the population once: a sampling fraction, a population size or a table"
            )
        if self.sampling_fraction is not None and not 0 < self.sampling_fraction <= 1:
            raise UsageError(
                f"Sampling fraction {self.sampling_fraction} is not in (0, 1]",
                hint="the share of the population the extract holds, e.g. 0.01",
            )
        if self.size is not None and self.size < 1:
            raise UsageError(f"Population size {self.size} must be a positive count")

    @classmethod
    def whole(cls) -> Population:
        return cls()

    @classmethod
    def sample(cls, fraction: float) -> Population:
        return cls(sampling_fraction=fraction)

    @classmethod
    def of_size(cls, size: int) -> Population:
        return cls(size=size)

    @classmethod
    def table(cls, relation: str) -> Population:
        return cls(relation=relation)

    def fraction_for(self, records: int) -> float:
        """The sampling fraction of an extract of ``records`` rows (1 for a population table)."""
        if self.sampling_fraction is not None:
            return self.sampling_fraction
        if self.size is not None:
            if self.size < records:
                raise UsageError(
                    f"Population size {self.size:,} is smaller than the extract ({records:,} "
                    "records)",
                    hint="the population is everyone the extract could have been drawn from",
                )
            return records / self.size
        return 1.0


@dataclass(frozen=True)
class ClassHistogram:
    """How many equivalence classes have each size (the classes themselves never leave SQL)."""

    sizes: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def records(self) -> int:
        return sum(s * c for s, c in zip(self.sizes, self.counts, strict=True))

    @property
    def classes(self) -> int:
        return sum(self.counts)

    @property
    def k(self) -> int:
        return min(self.sizes) if self.sizes else 0

    def classes_of_size(self, size: int) -> int:
        for s, c in zip(self.sizes, self.counts, strict=True):
            if s == size:
                return c
        return 0

    def records_below(self, size: int) -> int:
        """Records in classes smaller than ``size``: what suppression would drop to reach it."""
        return sum(s * c for s, c in zip(self.sizes, self.counts, strict=True) if s < size)

    def bins(self) -> list[dict[str, Any]]:
        out = []
        for low, high in BINS:
            pairs = [
                (s, c)
                for s, c in zip(self.sizes, self.counts, strict=True)
                if s >= low and (high is None or s <= high)
            ]
            out.append(
                {
                    "min_size": low,
                    "max_size": high,
                    "classes": sum(c for _, c in pairs),
                    "records": sum(s * c for s, c in pairs),
                }
            )
        return out


@dataclass(frozen=True)
class RiskSummary:
    """El Emam's three figures for one attacker: highest, average, share of records at risk."""

    highest: float
    average: float
    records_at_risk: float

    def to_dict(self) -> dict[str, float]:
        return {
            "highest": self.highest,
            "average": self.average,
            "records_at_risk": self.records_at_risk,
        }


@dataclass(frozen=True)
class PopulationUniqueness:
    share: float  # population uniques / population size
    uniques: float
    population_size: float
    sampling_fraction: float
    model: str  # exact | zayatz | pitman | snb | none
    estimates: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "uniques": self.uniques,
            "population_size": self.population_size,
            "sampling_fraction": self.sampling_fraction,
            "model": self.model,
            "estimates": dict(self.estimates),
        }


@dataclass(frozen=True)
class Diversity:
    """l-diversity of one sensitive attribute over the equivalence classes."""

    attribute: str
    distinct_l: int  # fewest distinct values in a class
    entropy_l: float  # exp of the lowest entropy of a class (natural log)
    homogeneous_classes: int  # classes where everyone shares one value
    homogeneous_records: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "distinct_l": self.distinct_l,
            "entropy_l": self.entropy_l,
            "homogeneous_classes": self.homogeneous_classes,
            "homogeneous_records": self.homogeneous_records,
        }


@dataclass(frozen=True)
class ColumnLevel:
    column: str
    kind: ColumnKind
    level: str


@dataclass(frozen=True)
class RiskAssessment:
    records: int  # records measured (after any suppression)
    columns: tuple[ColumnLevel, ...]
    histogram: ClassHistogram
    unique_share: float
    prosecutor: RiskSummary
    journalist: RiskSummary
    journalist_basis: str  # whole_population | sampling_fraction | population_table
    marketer: float
    population_uniqueness: PopulationUniqueness
    diversity: tuple[Diversity, ...]
    threshold: float
    suppressed_records: int = 0

    @property
    def k(self) -> int:
        return self.histogram.k

    @property
    def l(self) -> int | None:  # noqa: E743 - the measure's published name
        return min((d.distinct_l for d in self.diversity), default=None)

    def meets(self, k: int | None = None, average_risk: float | None = None) -> bool:
        if k is not None and self.k < k:
            return False
        return average_risk is None or self.prosecutor.average <= average_risk

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "records": self.records,
            "suppressed_records": self.suppressed_records,
            "quasi_identifiers": [
                {"column": c.column, "kind": c.kind.value, "level": c.level} for c in self.columns
            ],
            "k": self.k,
            "class_count": self.histogram.classes,
            "classes": self.histogram.bins(),
            "unique_share": self.unique_share,
            "risk_threshold": self.threshold,
            "prosecutor_risk": self.prosecutor.to_dict(),
            "journalist_risk": {**self.journalist.to_dict(), "basis": self.journalist_basis},
            "marketer_risk": self.marketer,
            "population_uniqueness": self.population_uniqueness.to_dict(),
        }
        if self.diversity:
            body["l"] = self.l
            body["sensitive"] = {d.attribute: d.to_dict() for d in self.diversity}
        return body


def declare(
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
) -> RiskDeclaration:
    """A declaration from column names; a kind not given is inferred from the column's name."""
    kinds = dict(kinds or {})
    unknown = sorted(set(kinds) - set(quasi_identifiers))
    if unknown:
        raise UsageError(
            f"A kind is given for {', '.join(unknown)}, which is not a quasi-identifier",
            hint="list the column in --qi, or drop its kind",
        )
    declared = []
    for column in quasi_identifiers:
        try:
            kind = parse_kind(kinds[column]) if column in kinds else infer_kind(column)
        except ValueError as exc:
            raise UsageError(f"Column {column!r}: {exc}") from None
        declared.append(QuasiIdentifier(column, kind))
    return RiskDeclaration(tuple(declared), tuple(sensitive))
