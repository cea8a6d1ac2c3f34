"""How to lower the risk: a search over generalization levels, then optional suppression.

A generalization is one level per quasi-identifier (a node of ARX's lattice). Information loss
is additive over columns and grows with every level, so the nodes are tried in increasing
order of loss: the first one that meets the target (suppressing at most the allowed share of
records) is the cheapest solution. The suggestion is the path to it, one column per step,
ordered so that each step removes the most of the shortfall per unit of loss, with the risk
measured after each step. When the lattice is too large to try within the budget, or no node
meets the target, a greedy search takes over: each step raises the column that removes the
most shortfall per unit of loss, and must strictly lower the shortfall without raising the
average prosecutor risk. When no single raise helps (on small extracts every other column
still tells people apart), two columns are raised at once, as two steps; it stops when no
single or double raise helps.

Information loss of a column at a level is its normalized non-uniform entropy:
H(X | g(X)) / H(X) = 1 - H(g(X)) / H(X), 0 when nothing is generalized and 1 when the column
says nothing any more; the loss of a step is the mean over the quasi-identifiers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from havre.core.errors import UsageError
from havre.disclosure.risk.analysis import Levels, RiskAnalysis
from havre.disclosure.risk.model import ClassHistogram, RiskAssessment

_EPSILON = 1e-12
DEFAULT_EVALUATIONS = 256  # lattice nodes tried before the greedy search takes over
MAX_LATTICE = 50_000  # beyond, ordering every node by loss costs more than the greedy search


@dataclass(frozen=True)
class RiskTarget:
    """What "low enough" means: k-anonymity, an average prosecutor risk, or both."""

    k: int | None = None
    average_risk: float | None = None

    def __post_init__(self) -> None:
        if self.k is None and self.average_risk is None:
            raise UsageError("A target needs k or an average risk (--target-k / --target-risk)")
        if self.k is not None and self.k < 2:
            raise UsageError(f"Target k={self.k} is met by any extract; give k >= 2")
        if self.average_risk is not None and not 0 < self.average_risk < 1:
            raise UsageError(
                f"Target average risk {self.average_risk} is not in (0, 1)", hint="e.g. 0.05"
            )

    def met_by(self, histogram: ClassHistogram) -> bool:
        return self.shortfall(histogram) <= 0.0

    def shortfall(self, histogram: ClassHistogram) -> float:
        """How far from the target: share of records in too-small classes, excess risk."""
        records = histogram.records
        if not records:
            return 0.0
        gap = 0.0
        if self.k is not None:
            gap += histogram.records_below(self.k) / records
        if self.average_risk is not None:
            gap += max(histogram.classes / records - self.average_risk, 0.0) / self.average_risk
        return gap

    def suppression_size(self, histogram: ClassHistogram) -> int:
        """The smallest class size to keep so that dropping smaller classes meets the target."""
        size = self.k or 1
        if self.average_risk is None or not histogram.sizes:
            return size
        sizes = np.asarray(histogram.sizes, dtype=np.float64)
        counts = np.asarray(histogram.counts, dtype=np.float64)
        # classes and records kept when every class from index i on is kept
        kept_classes = np.cumsum(counts[::-1])[::-1]
        kept_records = np.cumsum((sizes * counts)[::-1])[::-1]
        meets = (kept_classes / kept_records <= self.average_risk) & (sizes >= size)
        if not meets.any():
            return int(sizes.max()) + 1
        return max(int(sizes[int(np.argmax(meets))]), size)

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "average_risk": self.average_risk}


@dataclass(frozen=True)
class ColumnLoss:
    level: str
    loss: float
    distinct_before: int
    distinct_after: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "loss": self.loss,
            "distinct_before": self.distinct_before,
            "distinct_after": self.distinct_after,
        }


@dataclass(frozen=True)
class InformationLoss:
    total: float  # mean normalized non-uniform entropy over the quasi-identifiers
    columns: dict[str, ColumnLoss]
    suppressed_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "suppressed_share": self.suppressed_share,
            "columns": {name: loss.to_dict() for name, loss in self.columns.items()},
        }


@dataclass(frozen=True)
class SuggestionStep:
    action: str  # generalize | suppress
    column: str | None
    from_level: str | None
    to_level: str | None
    assessment: RiskAssessment
    loss: InformationLoss
    records_to_suppress: int  # what suppression would still drop to meet the target
    target_met: bool

    def to_dict(self) -> dict[str, Any]:
        a = self.assessment
        body: dict[str, Any] = {
            "action": self.action,
            "column": self.column,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "k": a.k,
            "unique_share": a.unique_share,
            "prosecutor_risk": a.prosecutor.to_dict(),
            "journalist_risk": a.journalist.to_dict(),
            "marketer_risk": a.marketer,
            "population_uniqueness": a.population_uniqueness.share,
            "records": a.records,
            "suppressed_records": a.suppressed_records,
            "records_to_suppress": self.records_to_suppress,
            "loss": self.loss.to_dict(),
            "target_met": self.target_met,
        }
        if a.diversity:
            body["l"] = a.l
        return body


@dataclass(frozen=True)
class SuggestionReport:
    target: RiskTarget
    max_suppression: float
    steps: tuple[SuggestionStep, ...]
    reached: bool
    message: str

    @property
    def final(self) -> SuggestionStep | None:
        return self.steps[-1] if self.steps else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.to_dict(),
            "max_suppression": self.max_suppression,
            "reached": self.reached,
            "message": self.message,
            "steps": [step.to_dict() for step in self.steps],
        }


class _Search:
    def __init__(self, analysis: RiskAnalysis, target: RiskTarget, max_suppression: float) -> None:
        self.analysis = analysis
        self.target = target
        self.max_suppression = max_suppression
        self.records = analysis.records
        self._distinct: dict[tuple[int, int], int] = {}

    def column_loss(self, column: int, level: int) -> float:
        base = self.analysis.entropy(column, 0)
        if base <= _EPSILON:
            return 0.0
        return min(max(1.0 - self.analysis.entropy(column, level) / base, 0.0), 1.0)

    def loss_of(self, levels: Levels) -> float:
        return sum(self.column_loss(i, level) for i, level in enumerate(levels)) / len(levels)

    def distinct(self, column: int, level: int) -> int:
        key = (column, level)
        if key not in self._distinct:
            self._distinct[key] = self.analysis.distinct_values(column, level)
        return self._distinct[key]

    def information_loss(self, levels: Levels, suppressed: int) -> InformationLoss:
        columns = {}
        for i, level in enumerate(levels):
            tree = self.analysis.hierarchies[i]
            columns[self.analysis.qi_columns[i]] = ColumnLoss(
                level=tree.levels[level].name,
                loss=self.column_loss(i, level),
                distinct_before=self.distinct(i, 0),
                distinct_after=self.distinct(i, level),
            )
        return InformationLoss(self.loss_of(levels), columns, suppressed / self.records)

    def to_suppress(self, histogram: ClassHistogram) -> int:
        return histogram.records_below(self.target.suppression_size(histogram))

    def suppression_allowed(self, histogram: ClassHistogram) -> bool:
        needed = self.to_suppress(histogram)
        return self.max_suppression > 0 and needed <= self.max_suppression * self.records

    def step(
        self, action: str, levels: Levels, column: int | None, before: int | None
    ) -> SuggestionStep:
        histogram = self.analysis.histogram(levels)
        keep = self.target.suppression_size(histogram) if action == "suppress" else 1
        assessment = self.analysis.assess(levels, min_class_size=keep)
        tree = self.analysis.hierarchies[column] if column is not None else None
        return SuggestionStep(
            action=action,
            column=self.analysis.qi_columns[column] if column is not None else None,
            from_level=tree.levels[before].name
            if tree is not None and before is not None
            else None,
            to_level=tree.levels[levels[column]].name
            if tree is not None and column is not None
            else None,
            assessment=assessment,
            loss=self.information_loss(levels, assessment.suppressed_records),
            records_to_suppress=0 if action == "suppress" else self.to_suppress(histogram),
            target_met=assessment.meets(self.target.k, self.target.average_risk),
        )

    def acceptable(self, levels: Levels) -> bool:
        histogram = self.analysis.histogram(levels)
        return self.target.met_by(histogram) or self.suppression_allowed(histogram)

    def cheapest_goal(self, budget: int) -> Levels | None:
        """The least-loss node meeting the target, or None (none does, or over budget)."""
        ranges = [range(tree.top + 1) for tree in self.analysis.hierarchies]
        if math.prod(len(r) for r in ranges) > MAX_LATTICE:
            return None
        nodes = sorted(itertools.product(*ranges), key=lambda node: (self.loss_of(node), node))
        for tried, node in enumerate(nodes):
            if tried >= budget:
                return None
            if self.acceptable(node):
                return node
        return None

    def path_to(self, goal: Levels) -> list[SuggestionStep]:
        """One step per column to raise, the most useful (gain per loss) first."""
        levels = self.analysis.finest
        steps = []
        while levels != goal:
            current = self.target.shortfall(self.analysis.histogram(levels))
            loss = self.loss_of(levels)
            best: tuple[tuple[float, float], int] | None = None
            for column, level in enumerate(goal):
                if levels[column] == level:
                    continue
                candidate = _raise(levels, column, level)
                gain = current - self.target.shortfall(self.analysis.histogram(candidate))
                cost = max(self.loss_of(candidate) - loss, _EPSILON)
                score = (gain / cost, -cost)
                if best is None or score > best[0]:
                    best = (score, column)
            assert best is not None
            column = best[1]
            before = levels[column]
            levels = _raise(levels, column, goal[column])
            steps.append(self.step("generalize", levels, column, before))
        if not self.target.met_by(self.analysis.histogram(levels)):
            steps.append(self.step("suppress", levels, None, None))
        return steps

    def best_move(self, levels: Levels) -> tuple[int, int] | None:
        """The raise with the best gain per loss: in shortfall if any, else in average risk."""
        current = self.analysis.histogram(levels)
        shortfall = self.target.shortfall(current)
        average = current.classes / current.records
        loss = self.loss_of(levels)
        best: dict[str, tuple[tuple[float, float], int, int]] = {}
        for column, tree in enumerate(self.analysis.hierarchies):
            for level in range(levels[column] + 1, tree.top + 1):
                candidate = _raise(levels, column, level)
                histogram = self.analysis.histogram(candidate)
                candidate_average = histogram.classes / histogram.records
                if candidate_average > average + _EPSILON:
                    continue
                cost = max(self.loss_of(candidate) - loss, _EPSILON)
                gains = {
                    "shortfall": shortfall - self.target.shortfall(histogram),
                    "average": average - candidate_average,
                }
                for measure, gain in gains.items():
                    if gain <= _EPSILON:
                        continue
                    # Best gain per unit of loss; on a tie, the smaller loss.
                    score = (gain / cost, -cost)
                    if measure not in best or score > best[measure][0]:
                        best[measure] = (score, column, level)
        chosen = best.get("shortfall") or best.get("average")
        return None if chosen is None else (chosen[1], chosen[2])

    def best_pair(self, levels: Levels) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """When no single raise helps (every other column still tells people apart), the best
        raise of two columns at once, each one level up or to its top; None if none helps."""
        current = self.analysis.histogram(levels)
        shortfall = self.target.shortfall(current)
        average = current.classes / current.records
        loss = self.loss_of(levels)
        options = [
            sorted({levels[column] + 1, tree.top}) if levels[column] < tree.top else []
            for column, tree in enumerate(self.analysis.hierarchies)
        ]
        best: dict[str, tuple[tuple[float, float], tuple[tuple[int, int], tuple[int, int]]]] = {}
        for first, second in itertools.combinations(range(len(options)), 2):
            for first_level, second_level in itertools.product(options[first], options[second]):
                candidate = _raise(_raise(levels, first, first_level), second, second_level)
                histogram = self.analysis.histogram(candidate)
                cost = max(self.loss_of(candidate) - loss, _EPSILON)
                gains = {
                    "shortfall": shortfall - self.target.shortfall(histogram),
                    "average": average - histogram.classes / histogram.records,
                }
                for measure, gain in gains.items():
                    if gain <= _EPSILON:
                        continue
                    score = (gain / cost, -cost)
                    if measure not in best or score > best[measure][0]:
                        best[measure] = (score, ((first, first_level), (second, second_level)))
        chosen = best.get("shortfall") or best.get("average")
        if chosen is None:
            return None
        # the cheaper raise is shown first
        first_move, second_move = sorted(
            chosen[1], key=lambda move: self.loss_of(_raise(levels, move[0], move[1]))
        )
        return first_move, second_move


def suggest(
    analysis: RiskAnalysis,
    target: RiskTarget,
    max_suppression: float = 0.0,
    max_evaluations: int = DEFAULT_EVALUATIONS,
) -> SuggestionReport:
    """Generalization steps (and, if allowed, a suppression) that bring the extract to target."""
    if not 0 <= max_suppression < 1:
        raise UsageError(
            f"Maximum suppression {max_suppression} is not in [0, 1)",
            hint="the share of records that may be dropped, e.g. 0.01",
        )
    search = _Search(analysis, target, max_suppression)
    bottom = analysis.finest
    if target.met_by(analysis.histogram(bottom)):
        return _report(search, [], True, "The target is met.")
    goal = search.cheapest_goal(max_evaluations)
    if goal is not None:
        steps = search.path_to(goal)
        suppressed = steps[-1].action == "suppress"
        return _report(
            search,
            steps,
            True,
            "The target is met after suppression." if suppressed else "The target is met.",
        )
    return _greedy(search)


def _greedy(search: _Search) -> SuggestionReport:
    analysis, target = search.analysis, search.target
    levels = analysis.finest
    steps: list[SuggestionStep] = []
    while True:
        histogram = analysis.histogram(levels)
        if target.met_by(histogram):
            return _report(search, steps, True, "The target is met.")
        if search.suppression_allowed(histogram):
            steps.append(search.step("suppress", levels, None, None))
            return _report(search, steps, True, "The target is met after suppression.")
        move = search.best_move(levels)
        if move is None:
            pair = search.best_pair(levels)
            if pair is not None:
                for column, level in pair:
                    before = levels[column]
                    levels = _raise(levels, column, level)
                    steps.append(search.step("generalize", levels, column, before))
                continue
            needed = search.to_suppress(histogram)
            return _report(
                search,
                steps,
                False,
                "No generalization lowers the risk further; suppressing the remaining small "
                f"classes would drop {needed:,} of {analysis.records:,} records "
                f"({needed / analysis.records:.1%}).",
            )
        column, level = move
        before = levels[column]
        levels = _raise(levels, column, level)
        steps.append(search.step("generalize", levels, column, before))


def _report(
    search: _Search, steps: list[SuggestionStep], reached: bool, message: str
) -> SuggestionReport:
    return SuggestionReport(search.target, search.max_suppression, tuple(steps), reached, message)


def _raise(levels: Levels, column: int, level: int) -> Levels:
    return (*levels[:column], level, *levels[column + 1 :])
