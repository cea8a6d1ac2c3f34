"""Running a policy on an output, and the services built on it (tables, regressions,
survival curves, histograms)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import ArrayLike

from havre.disclosure.cells import BoolArray, CellKey, CellTable, FloatArray, IntArray, TableKind
from havre.disclosure.context import CheckContext
from havre.disclosure.histogram import Histogram, histogram, protect_histogram
from havre.disclosure.policy import Policy
from havre.disclosure.protection.rounding import rounded_values
from havre.disclosure.protection.suppress import ProtectionResult
from havre.disclosure.registry import get_rule
from havre.disclosure.regression import RegressionOutput
from havre.disclosure.report import (
    CellFlag,
    CellResult,
    DisclosureReport,
    Mitigation,
    Status,
    combine_status,
)
from havre.disclosure.survival import SurvivalCurve, merge_steps


class Output(Protocol):
    output_kind: ClassVar[str]

    def reported_indices(self) -> IntArray: ...

    def key(self, index: int) -> CellKey: ...

    def is_margin(self, index: int) -> bool: ...

    def keys(self, indices: IntArray) -> list[CellKey]: ...

    def margins_of(self, indices: IntArray) -> list[bool]: ...

    def released_values(self) -> FloatArray: ...

    def describe(self) -> dict[str, Any]: ...


def run_rules(output: Output, policy: Policy, context: CheckContext) -> list[CellFlag]:
    """Each rule of the policy, in order; later rules see earlier verdicts in ``context``."""
    for name in policy.rules:
        rule = get_rule(name)
        if rule.applies(output):
            context.flags.extend(rule.check(output, policy.params, context))
    return context.flags


def build_report(
    output: Output,
    policy: Policy,
    context: CheckContext,
    *,
    values: FloatArray | None = None,
    withheld: BoolArray | None = None,
    protected: bool | None = None,
    mitigation: Mitigation | None = None,
    integer: bool = False,
    notes: tuple[str, ...] = (),
) -> DisclosureReport:
    """Per-cell results. A failed or withheld cell never shows its value.

    With ``withheld`` (a mitigation was applied), the output's status is that of what is
    released: pass when every failing cell is withheld and protection holds.
    """
    by_cell: dict[int, list[CellFlag]] = defaultdict(list)
    for flag in context.flags:
        by_cell[flag.index].append(flag)
    shown = output.released_values() if values is None else values
    hidden = np.zeros(shown.shape, dtype=bool) if withheld is None else withheld
    indices = output.reported_indices()
    keys = output.keys(indices)
    margins = output.margins_of(indices)
    visible = ~hidden & ~np.isnan(shown)
    cells = []
    for index, key, margin in zip(indices.tolist(), keys, margins, strict=True):
        flags = by_cell.get(index)
        value: float | int | None = None
        if flags is None:
            status = Status.PASS
            rules: tuple[str, ...] = ()
            reasons: tuple[str, ...] = ()
        else:
            status = combine_status([f.status for f in flags])
            rules = tuple(dict.fromkeys(f.rule for f in flags))
            reasons = tuple(dict.fromkeys(f.reason for f in flags))
        if status is not Status.FAIL and visible[index]:
            number = float(shown[index])
            value = int(number) if integer else number
        cells.append(CellResult(key, status, rules, reasons, value, margin))
    statuses = [c.status for c in cells]
    if withheld is not None:
        if protected is False:
            status = Status.FAIL
        elif protected is None:
            status = Status.REVIEW  # mitigated, but protection was not proven
        else:
            status = Status.REVIEW if Status.REVIEW in statuses else Status.PASS
    else:
        status = combine_status(statuses)
    if context.refusals:
        status = Status.FAIL
    return DisclosureReport(
        output=output.output_kind,
        status=status,
        policy=policy.describe(),
        cells=tuple(cells),
        description=output.describe(),
        mitigation=mitigation,
        notes=(*notes, *context.notes, *(f"refused: {r}" for r in context.refusals)),
    )


@dataclass(frozen=True)
class TableCheck:
    report: DisclosureReport
    table: CellTable
    released: FloatArray  # extended shape; NaN where nothing is released
    protection: ProtectionResult | None


def check_table(
    table: CellTable,
    policy: Policy,
    context: CheckContext | None = None,
    *,
    suppress: bool = False,
    rounding_base: int | None = None,
) -> TableCheck:
    """Run ``policy`` on ``table``; with ``suppress``, report the protected table instead.

    Without ``suppress`` the report says whether the table can leave as computed (cells that
    fail, including the complementary cells secondary suppression would add).
    """
    if table.margins != policy.params.margins:
        table = _with_margins(table, policy.params.margins)
    context = context or CheckContext()
    context.suppress = suppress
    run_rules(table, policy, context)
    protection = context.protection
    failed = np.zeros(table.size, dtype=bool)
    failed[list(context.failed_indices())] = True
    values = table.values().ravel()
    if rounding_base is not None:
        values = rounded_values(table, rounding_base).ravel()
    released = np.where(failed, np.nan, values)
    released = np.where(table.reported_mask().ravel(), released, np.nan)
    mitigation = None
    withheld = None
    protected: bool | None = None
    if suppress:
        withheld = failed
        if protection is not None:
            protected = protection.protected
        elif not table.kind.is_linear or not failed.any():
            protected = True  # nothing can be recomputed from non-additive margins
        mitigation = Mitigation(
            suppression=True,
            primary_suppressed=int(protection.primary.sum()) if protection else int(failed.sum()),
            secondary_suppressed=int(protection.secondary.sum()) if protection else 0,
            protected=protected,
            lp_checks=protection.lp_checks if protection else 0,
            rounding_base=rounding_base,
        )
    elif rounding_base is not None:
        mitigation = Mitigation(rounding_base=rounding_base)
    report = build_report(
        table,
        policy,
        context,
        values=values,
        withheld=withheld,
        protected=protected,
        mitigation=mitigation,
        integer=table.kind is TableKind.COUNT,
        notes=table.notes,
    )
    return TableCheck(report, table, released.reshape(table.shape), protection)


def _with_margins(table: CellTable, margins: bool) -> CellTable:
    from dataclasses import replace

    return replace(table, margins=margins)


def check_regression(
    output: RegressionOutput, policy: Policy, context: CheckContext | None = None
) -> DisclosureReport:
    context = context or CheckContext()
    run_rules(output, policy, context)
    return build_report(output, policy, context)


@dataclass(frozen=True)
class SurvivalCheck:
    report: DisclosureReport  # of the curve as computed
    released: SurvivalCurve  # steps merged until each is safe
    released_report: DisclosureReport


def check_survival(curve: SurvivalCurve, policy: Policy) -> SurvivalCheck:
    context = CheckContext()
    run_rules(curve, policy, context)
    report = build_report(curve, policy, context)
    params = policy.params
    released = merge_steps(curve, params.survival_events, params.threshold)
    released_context = CheckContext()
    run_rules(released, policy, released_context)
    notes = (
        f"steps merged until each holds at least {params.survival_events} events; the curve "
        f"stops where fewer than {params.threshold} persons remain at risk",
    )
    return SurvivalCheck(
        report, released, build_report(released, policy, released_context, notes=notes)
    )


@dataclass(frozen=True)
class HistogramCheck:
    report: DisclosureReport
    released: Histogram
    released_report: DisclosureReport


def check_histogram(
    values: ArrayLike,
    edges: ArrayLike,
    policy: Policy,
    persons: ArrayLike | None = None,
    variable: str = "value",
) -> HistogramCheck:
    """Check the histogram of ``values`` (distinct persons per bin) and protect it."""
    params = policy.params
    computed = histogram(values, edges, persons, variable)
    context = CheckContext()
    run_rules(computed, policy, context)
    report = build_report(computed, policy, context, integer=True)
    released = protect_histogram(
        values, edges, params.threshold, params.histogram_mode, persons, variable
    )
    released_context = CheckContext()
    run_rules(released, policy, released_context)
    withheld = released.suppressed
    if withheld is not None:
        failing = {f.index for f in released_context.flags}
        released_context.flags.extend(
            CellFlag(
                int(i),
                "secondary",
                Status.FAIL,
                "withheld so a known total cannot give back the small bin",
            )
            for i in np.flatnonzero(withheld)
            if int(i) not in failing
        )
    released_report = build_report(
        released,
        policy,
        released_context,
        withheld=withheld,
        protected=True if withheld is not None else None,
        integer=True,
        mitigation=Mitigation(
            suppression=withheld is not None,
            primary_suppressed=int(
                0 if withheld is None else (released.persons < params.threshold).sum()
            ),
        ),
    )
    return HistogramCheck(report, released, released_report)
