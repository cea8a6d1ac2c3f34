"""Computing a candidate output from its person-level rows: the cell table (distinct persons),
the project's policy with differencing against what the project released, the mitigation
(suppression, rounding, or differentially private counts), and the file as it would leave.

Pure functions of Arrow tables and release records; the service feeds them and stores what
they return. Nothing here keeps a withheld value: the CSV is written from the released array
(NaN where withheld) and the report never carries one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.airlock.attachments import Attachment
from havre.disclosure.airlock.population import Population, overlap
from havre.disclosure.airlock.render import coefficients_csv, table_csv
from havre.disclosure.airlock.source import OutputRowsLike
from havre.disclosure.airlock.spec import OutputSpec
from havre.disclosure.cells import TableKind
from havre.disclosure.check import check_regression, check_table
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import Policy
from havre.disclosure.privacy import dp_counts
from havre.disclosure.regression import Coefficient, RegressionOutput
from havre.disclosure.releases import PopulationOverlap, ReleaseRecord, release_record
from havre.disclosure.report import Status, combine_status
from havre.lake.engine import Engine

DP_RULE = "differential_privacy"


@dataclass(frozen=True)
class Earlier:
    """A table the project released (or that leaves with this request), and its persons when
    they can be read (else differencing compares population sizes)."""

    record: ReleaseRecord
    persons: pa.Array | None


@dataclass(frozen=True)
class Provenance:
    """Where an output's rows came from (the rows themselves are not kept)."""

    sql_sha256: str
    dataset: str
    data_version: int
    data_version_id: str
    workspace_version: int
    permit_version: int
    permit_sha256: str

    @classmethod
    def of(cls, rows: OutputRowsLike) -> Provenance:
        return cls(
            sql_sha256=rows.sql_sha256,
            dataset=rows.dataset,
            data_version=rows.data_version,
            data_version_id=rows.data_version_id,
            workspace_version=rows.workspace_version,
            permit_version=rows.permit_version,
            permit_sha256=rows.permit_sha256,
        )


@dataclass
class Candidate:
    output_id: str
    spec: OutputSpec
    status: Status
    report: dict[str, Any]
    content: bytes | None = None  # the CSV as it would be released
    record: ReleaseRecord | None = None  # table outputs checked by the rules (not DP)
    population: Population | None = None
    provenance: Provenance | None = None
    epsilon: float | None = None
    attachment: Attachment | None = None
    rules: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """Facts for the audit log: counts of cells and rule names, never a value."""
        cells = self.report.get("summary", {})
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "status": self.status.value,
            "cells": int(cells.get("cells", 0)),
            "failed_cells": int(cells.get("fail", 0)),
            "rules": list(self.rules),
        }


def value_label(spec: OutputSpec) -> str:
    return "persons" if spec.kind == "count" else f"{spec.kind}_{spec.value}"


def resolve_margins(policy: Policy, spec: OutputSpec) -> Policy:
    """A request may leave margins out; it cannot release them against the policy."""
    margins = policy.params.margins and spec.margins is not False
    return policy if margins == policy.params.margins else policy.with_params(margins=margins)


def table_candidate(
    output_id: str,
    spec: OutputSpec,
    rows: OutputRowsLike,
    policy: Policy,
    population: Population,
    earlier: Sequence[Earlier],
    project_id: str,
    engine: Engine | None = None,
) -> Candidate:
    policy = resolve_margins(policy, spec)
    table_spec = TableSpec(
        persons=spec.person,
        dims=spec.dims,
        kind=spec.table_kind,
        value=spec.value,
        levels=dict(spec.levels),
        structural_zeros=spec.structural_zeros,
        margins=policy.params.margins,
        top_n=max(2, policy.params.nk_n),
    )
    table = aggregate(rows.table, table_spec, engine=engine)
    overlaps: dict[str, PopulationOverlap] = {}
    for before in earlier:
        same = before.record.population.definition_hash == population.ref.definition_hash
        if before.persons is not None and not same:
            overlaps[before.record.release_id] = overlap(population.persons, before.persons)
    context = CheckContext(
        population=population.ref,
        earlier_releases=tuple(e.record for e in earlier),
        overlaps=overlaps,
    )
    checked = check_table(
        table, policy, context, suppress=spec.suppress, rounding_base=spec.rounding
    )
    report = checked.report.to_dict()
    report["name"] = spec.name
    report["differencing"] = {"earlier_releases_compared": len(earlier)}
    released = checked.released
    content = table_csv(
        table.dims,
        table.levels,
        released,
        table.reported_mask(),
        value_label(spec),
        integer=table.kind is TableKind.COUNT,
    )
    record = release_record(
        table,
        ~np.isnan(released),
        population.ref,
        output_id,
        project_id=project_id,
        values=released,
        rounding_base=spec.rounding,
    )
    return Candidate(
        output_id=output_id,
        spec=spec,
        status=checked.report.status,
        report=report,
        content=content,
        record=record,
        population=population,
        provenance=Provenance.of(rows),
        rules=_rules(report),
    )


def dp_candidate(
    output_id: str, spec: OutputSpec, rows: OutputRowsLike, policy: Policy, population: Population
) -> Candidate:
    """Noisy person counts (OpenDP); every level must be declared (a public category set)."""
    assert spec.dp is not None
    policy = resolve_margins(policy, spec)
    noisy, _ = dp_counts(
        rows.table,
        spec.person,
        spec.dims,
        {d: list(v) for d, v in spec.levels.items()},
        spec.dp.epsilon,
        max_contributions=spec.dp.max_contributions,
        release_id=output_id,
    )
    shape = noisy.counts.shape
    reported = np.ones(shape, dtype=bool)
    if not policy.params.margins:
        for axis, levels in enumerate(noisy.levels):
            index: list[slice | int] = [slice(None)] * len(shape)
            index[axis] = len(levels)
            reported[tuple(index)] = False
    values = noisy.counts.astype(np.float64)
    indices = np.flatnonzero(reported)
    positions = np.unravel_index(indices, shape)
    keys = list(
        zip(
            *(
                np.array([*lv, None], dtype=object)[p].tolist()
                for p, lv in zip(positions, noisy.levels, strict=True)
            ),
            strict=True,
        )
    )
    flat = noisy.counts.ravel()[indices].tolist()
    cells = [
        {
            "cell": list(key),
            "margin": None in key,
            "status": Status.PASS.value,
            "rules": [DP_RULE],
            "reasons": [],
            "value": int(value),
        }
        for key, value in zip(keys, flat, strict=True)
    ]
    report: dict[str, Any] = {
        "output": "table",
        "name": spec.name,
        "status": Status.PASS.value,
        "kind": "count",
        "dims": list(noisy.dims),
        "levels": {d: list(lv) for d, lv in zip(noisy.dims, noisy.levels, strict=True)},
        "value_column": None,
        "margins": policy.params.margins,
        "additive": True,
        "policy": policy.describe(),
        "parameters": policy.params.model_dump(),
        "mitigation": None,
        "privacy": noisy.describe(),
        "summary": {"cells": len(cells), "pass": len(cells), "fail": 0, "review": 0},
        "cells": cells,
        "notes": [
            "differentially private counts: the threshold rules do not apply (the noise "
            "protects each person); margins are sums of the noisy cells",
            "values outside the declared levels are not counted",
        ],
    }
    content = table_csv(noisy.dims, noisy.levels, values, reported, value_label(spec), integer=True)
    return Candidate(
        output_id=output_id,
        spec=spec,
        status=Status.PASS,
        report=report,
        content=content,
        population=population,
        provenance=Provenance.of(rows),
        epsilon=spec.dp.epsilon,
        rules=(DP_RULE,),
    )


def model_candidate(
    output_id: str,
    spec: OutputSpec,
    rows: OutputRowsLike,
    policy: Policy,
    attachment: Attachment | None,
) -> Candidate:
    """Degrees of freedom from the training rows the hub counted; coefficients as declared."""
    observations = rows.table.num_rows
    parameters = max(spec.parameters or 0, len(spec.coefficients))
    output = RegressionOutput.from_fit(
        spec.model or "model",
        observations,
        [Coefficient(c.name, c.estimate, c.std_error) for c in spec.coefficients],
        residual_dof=observations - parameters,
    )
    checked = check_regression(output, policy)
    report = checked.to_dict()
    report["name"] = spec.name
    report["notes"] = [
        *report["notes"],
        "the number of observations was counted by the hub from the training query; the "
        "coefficients and the model file are the researcher's: a checker reviews them",
    ]
    status = checked.status if checked.status is Status.FAIL else Status.REVIEW
    report["status"] = status.value
    if attachment is not None:
        report["file"] = _file_facts(attachment)
    errors = {c.name: c.std_error for c in spec.coefficients}
    shown = [
        (str(cell["cell"][0]), cell["value"], errors.get(str(cell["cell"][0])))
        for cell in report["cells"]
        if cell["value"] is not None
    ]
    return Candidate(
        output_id=output_id,
        spec=spec,
        status=status,
        report=report,
        content=coefficients_csv(shown) if status is not Status.FAIL else None,
        provenance=Provenance.of(rows),
        attachment=attachment,
        rules=_rules(report),
    )


def figure_candidate(
    output_id: str, spec: OutputSpec, table: Candidate, attachment: Attachment
) -> Candidate:
    """A figure leaves only with its table; a person compares the two (status at least review)."""
    status = combine_status([table.status, Status.REVIEW])
    report = {
        "output": "figure",
        "name": spec.name,
        "status": status.value,
        "table": table.spec.name,
        "table_status": table.status.value,
        "file": _file_facts(attachment),
        "summary": {"cells": 0, "pass": 0, "fail": 0, "review": 1},
        "notes": [
            "a checker compares the figure with its table: it may show nothing the released "
            "table does not (no withheld cell, no individual point, no exact extreme)"
        ],
    }
    return Candidate(
        output_id=output_id,
        spec=spec,
        status=status,
        report=report,
        provenance=table.provenance,
        attachment=attachment,
        rules=("figure",),
    )


def _file_facts(attachment: Attachment) -> dict[str, Any]:
    return {
        "name": attachment.name,
        "media_type": attachment.media_type,
        "sha256": attachment.sha256,
        "bytes": len(attachment.data),
    }


def _rules(report: dict[str, Any]) -> tuple[str, ...]:
    """The rules that flagged a cell of the report, in order of first appearance."""
    seen: dict[str, None] = {}
    for cell in report.get("cells", ()):
        for name in cell.get("rules", ()):
            seen[name] = None
    return tuple(seen)
