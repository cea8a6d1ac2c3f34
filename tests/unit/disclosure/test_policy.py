"""Policies: ordered rules, parameters per dataset and per project, a hub's own rules."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from havre.core.errors import UsageError
from havre.disclosure.cells import CellTable
from havre.disclosure.check import check_table
from havre.disclosure.context import CheckContext
from havre.disclosure.policy import (
    DEFAULT_DOCUMENT,
    DEFAULT_RULES,
    Policy,
    PolicyDocument,
    PolicyParams,
    hub_policy_document,
    load_policy_document,
)
from havre.disclosure.registry import get_rule, registered_rules, rule
from havre.disclosure.report import CellFlag, Status
from havre.disclosure.rules import table_flags


def test_default_policy() -> None:
    policy = DEFAULT_DOCUMENT.resolve()
    assert policy.rules == DEFAULT_RULES
    assert policy.params == PolicyParams()
    assert policy.rules[-1] == "secondary"  # it needs every other verdict first
    for name in DEFAULT_RULES:
        assert get_rule(name).name == name


def test_pmsi_outputs_need_eleven_persons() -> None:
    assert DEFAULT_DOCUMENT.resolve(["pmsi-mco-2023"]).params.threshold == 11
    assert DEFAULT_DOCUMENT.resolve(["PMSI"]).params.threshold == 11
    assert DEFAULT_DOCUMENT.resolve(["dcir"]).params.threshold == 10


def test_a_hub_policy_follows_its_threshold_setting(tmp_path: Path) -> None:
    document = hub_policy_document(threshold=12, path=tmp_path / "absent.toml")
    assert document.resolve().params.threshold == 12
    assert document.resolve(["pmsi"]).params.threshold == 12  # the stricter of 12 and 11
    written = tmp_path / "policy.toml"
    written.write_text("[parameters]\nthreshold = 20\n", encoding="utf-8")
    assert hub_policy_document(12, written).resolve().params.threshold == 20


def test_several_datasets_combine_to_the_strictest() -> None:
    document = PolicyDocument(
        datasets={
            "a": {"threshold": 12, "nk_k": 0.8, "allow_min_max": True},
            "b": {"threshold": 8, "nk_k": 0.85, "p_percent": 0.2},
        },
        parameters=PolicyParams(allow_min_max=True),
    )
    params = document.resolve(["a", "b"]).params
    assert params.threshold == 12
    assert params.nk_k == 0.8
    assert params.p_percent == 0.2
    assert params.allow_min_max is True
    assert document.resolve(["b"]).params.threshold == 10  # a dataset cannot loosen the base


def test_a_project_entry_is_applied_last() -> None:
    document = PolicyDocument(
        datasets={"pmsi*": {"threshold": 11}},
        projects={"prj_1": {"parameters": {"threshold": 15}, "rules": ["threshold", "zero"]}},
    )
    policy = document.resolve(["pmsi"], "prj_1")
    assert policy.params.threshold == 15
    assert policy.rules == ("threshold", "zero")
    assert "project:prj_1" in policy.name


def test_load_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "policy.toml"
    toml.write_text(
        'name = "hub"\n'
        'rules = ["threshold", "zero", "secondary"]\n'
        "[parameters]\nthreshold = 12\n"
        '[datasets."pmsi*"]\nthreshold = 15\n'
        "[projects.prj_x.parameters]\nmargins = false\n",
        encoding="utf-8",
    )
    document = load_policy_document(toml)
    assert document.resolve().params.threshold == 12
    assert document.resolve(["pmsi_2024"]).params.threshold == 15
    assert document.resolve(project="prj_x").params.margins is False
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps(document.model_dump(mode="json")), encoding="utf-8")
    assert load_policy_document(as_json) == document


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[parameters]\nthreshhold = 3\n", "threshhold"),
        ("[parameters]\nthreshold = 0\n", "threshold"),
        ('rules = ["threshold", "no_such_rule"]\n', "no_such_rule"),
        ("[datasets.x]\nnk_k = 3\n", "datasets.x"),
        ("not toml =", "not valid"),
    ],
)
def test_invalid_documents_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_policy_document(path)


def test_a_hub_adds_its_own_rule(make_count_table: object) -> None:
    name = f"local_{uuid.uuid4().hex[:8]}"  # the registry is per process: a fresh name

    @rule(name, applies_to=(CellTable,), description="a local rule")
    def check(table: CellTable, params: PolicyParams, context: CheckContext) -> list[CellFlag]:
        mask = np.zeros(table.shape, dtype=bool)
        mask[1, :] = True
        return table_flags(table, mask, name, "local rule", Status.REVIEW)

    assert name in registered_rules()
    table = make_count_table(np.array([[20, 30], [40, 50]]))  # type: ignore[operator]
    policy = Policy(rules=("threshold", name))
    report = check_table(table, policy).report
    assert report.status is Status.REVIEW
    assert report.cell(("d0_1", "d1_0")).rules == (name,)
    with pytest.raises(ValueError, match="already registered"):
        rule(name, applies_to=(CellTable,), description="")(lambda t, p, c: [])
