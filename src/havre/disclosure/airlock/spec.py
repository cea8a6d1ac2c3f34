"""The output spec: what a release request asks to take out, one entry per output.

A JSON or TOML document (``havre release request --output-spec FILE``)::

    context = "Figures 1-2 and table 3 of the paper on CKD after type 2 diabetes"

    [[outputs]]
    name = "ckd_by_sex"
    kind = "count"                       # count, sum, mean, median, min, max, figure, model
    sql = "SELECT p.person_id, p.gender_concept_id AS sex FROM person p ..."
    person = "person_id"                 # the person column (a workspace person_id)
    dims = ["sex"]
    levels = { sex = ["8507", "8532"] }
    rounding = 5                         # optional: controlled rounding (counts)
    dp = { epsilon = 0.5 }               # optional: differentially private counts

    [[outputs]]
    name = "figure_1"
    kind = "figure"
    table = "ckd_by_sex"                 # the table output it draws
    file = "figure1.png"                 # PNG or SVG, next to the spec file

    [[outputs]]
    name = "risk_model"
    kind = "model"
    sql = "SELECT person_id, ... FROM ..."   # the training rows
    model = "logistic regression"
    coefficients = [{ name = "age", estimate = 0.031, std_error = 0.004 }]
    file = "model.json"

Tables are computed by the hub in the project's sandbox; figures and model files are the
researcher's, checked by people against their table (figures) or degrees of freedom (models).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from havre.core.canonical import canonical_json
from havre.core.errors import UsageError
from havre.core.hashing import sha256_bytes
from havre.disclosure.cells import TableKind

TABLE_KINDS = tuple(k.value for k in TableKind)
OUTPUT_KINDS = (*TABLE_KINDS, "figure", "model")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_OUTPUTS = 50
MAX_SPEC_BYTES = 1 << 20


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrivacySpec(Frozen):
    epsilon: float = Field(gt=0, le=10)
    max_contributions: int = Field(default=1, ge=1, le=100)


class CoefficientSpec(Frozen):
    name: str = Field(min_length=1, max_length=200)
    estimate: float
    std_error: float | None = None


class OutputSpec(Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["count", "sum", "mean", "median", "min", "max", "figure", "model"] = "count"
    description: str = Field(default="", max_length=2000)
    sql: str | None = Field(default=None, max_length=100_000)
    person: str = Field(default="person_id", min_length=1, max_length=128)
    dims: tuple[str, ...] = ()
    value: str | None = None
    levels: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    structural_zeros: tuple[tuple[str, ...], ...] = ()
    margins: bool | None = None
    suppress: bool = True
    rounding: Literal[5, 10] | None = None
    dp: PrivacySpec | None = None
    table: str | None = None
    file: str | None = None
    model: str | None = Field(default=None, max_length=200)
    coefficients: tuple[CoefficientSpec, ...] = ()
    parameters: int | None = Field(default=None, ge=1)

    @property
    def is_table(self) -> bool:
        return self.kind in TABLE_KINDS

    @property
    def table_kind(self) -> TableKind:
        return TableKind(self.kind)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> OutputSpec:
        problems = []
        if self.kind != "figure" and not (self.sql and self.sql.strip()):
            problems.append("needs its sql (the person-level rows it is computed from)")
        if self.is_table:
            if not self.dims:
                problems.append("a table needs dims")
            if self.kind != "count" and not self.value:
                problems.append(f"a {self.kind} table needs a value column")
            if self.kind == "count" and self.value:
                problems.append("a count table counts persons: give no value")
            if self.dp is not None and (self.kind != "count" or self.rounding is not None):
                problems.append("dp applies to count tables, without rounding")
            if self.file or self.table or self.coefficients:
                problems.append("a table has no file, table or coefficients")
        elif self.kind == "figure":
            if not self.table or not self.file:
                problems.append("a figure needs the table it draws (table) and its file")
            if self.sql or self.dims:
                problems.append("a figure is not computed: give no sql or dims")
        else:
            if not self.coefficients:
                problems.append("a model needs its coefficients")
            if self.dims or self.dp or self.rounding:
                problems.append("a model has no dims, dp or rounding")
        if problems:
            raise ValueError(f"output {self.name!r}: " + "; ".join(problems))
        return self

    def stored(self) -> dict[str, Any]:
        """What the governance store keeps: everything but the SQL text (its hash is kept)."""
        data = self.model_dump(mode="json", exclude_none=True)
        data.pop("sql", None)
        return data

    @property
    def sha256(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))


class ReleaseSpec(Frozen):
    context: str = Field(default="", max_length=5000)
    outputs: tuple[OutputSpec, ...] = Field(min_length=1, max_length=MAX_OUTPUTS)

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseSpec:
        names = [o.name for o in self.outputs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"output names repeat: {', '.join(repeated)}")
        tables = {o.name for o in self.outputs if o.is_table}
        for output in self.outputs:
            if output.kind == "figure" and output.table not in tables:
                raise ValueError(
                    f"figure {output.name!r} draws {output.table!r}, which is not a table "
                    "output of this request"
                )
        return self

    def ordered(self) -> list[OutputSpec]:
        """Tables and models first, then the figures drawn from them."""
        return [o for o in self.outputs if o.kind != "figure"] + [
            o for o in self.outputs if o.kind == "figure"
        ]


def with_privacy(spec: ReleaseSpec, epsilons: Mapping[str, float]) -> ReleaseSpec:
    """The spec with differentially private counts asked for some outputs (by name), as
    ``havre release request --dp-epsilon NAME=E`` does; checked like the file itself."""
    names = {o.name for o in spec.outputs}
    unknown = sorted(set(epsilons) - names)
    if unknown:
        raise UsageError(
            f"--dp-epsilon names no output of the spec: {', '.join(unknown)}",
            hint=f"its outputs are: {', '.join(sorted(names))}",
        )
    raw = spec.model_dump(mode="json")
    for entry in raw["outputs"]:
        if entry["name"] in epsilons:
            previous = entry.get("dp") or {}
            entry["dp"] = {**previous, "epsilon": epsilons[entry["name"]]}
    return parse_release_spec(raw)


def parse_release_spec(raw: Any, where: str = "the output spec") -> ReleaseSpec:
    try:
        return ReleaseSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise UsageError(
            f"{where} is not valid: " + "; ".join(problems),
            hint="see docs/airlock.md for the output spec",
            problems=problems,
        ) from None


def load_release_spec(path: Path) -> tuple[ReleaseSpec, dict[str, bytes]]:
    """Read a spec file (``.json`` or ``.toml``) and the files its outputs attach (paths
    relative to the spec file)."""
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise UsageError(f"{path} is larger than {MAX_SPEC_BYTES} bytes: not an output spec")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the output spec {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"The output spec {path} is not UTF-8 text") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"The output spec {path} cannot be parsed: {exc}") from None
    spec = parse_release_spec(raw, f"The output spec {path}")
    attachments: dict[str, bytes] = {}
    for output in spec.outputs:
        if output.file is None:
            continue
        attached = (path.parent / output.file).resolve()
        try:
            attachments[output.name] = attached.read_bytes()
        except OSError as exc:
            raise UsageError(
                f"Output {output.name!r}: cannot read its file {attached}: {exc.strerror}"
            ) from None
    return spec, attachments
