"""The output spec and attached files, read and refused without a hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from havre.core.errors import DataValidationError, UsageError
from havre.disclosure.airlock.attachments import check_attachments
from havre.disclosure.airlock.spec import load_release_spec, parse_release_spec, with_privacy

from .conftest import BY_SEX, PNG

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "airlock"


def table(**more: Any) -> dict[str, Any]:
    return {"name": "t", "kind": "count", "sql": BY_SEX, "dims": ["sex"], **more}


def figure(**more: Any) -> dict[str, Any]:
    return {"name": "f", "kind": "figure", "table": "t", "file": "f.png", **more}


def test_the_fixture_spec_loads_with_its_files() -> None:
    spec, files = load_release_spec(FIXTURES / "outputs.toml")
    assert [o.name for o in spec.outputs] == ["by_sex_band", "age_by_sex", "figure_1", "age_model"]
    assert [o.name for o in spec.ordered()][-1] == "figure_1"
    assert set(files) == {"figure_1", "age_model"}
    checked = check_attachments(spec, files)
    assert checked["figure_1"].name == "figure_1.svg"
    assert checked["figure_1"].media_type == "image/svg+xml"
    assert checked["age_model"].name == "age_model.model.json"
    stored = spec.outputs[0].stored()
    assert "sql" not in stored and stored["dims"] == ["sex", "band"]
    assert (
        spec.outputs[0].sha256
        != parse_release_spec(
            {"outputs": [{**spec.outputs[0].model_dump(), "sql": "SELECT person_id FROM person"}]}
        )
        .outputs[0]
        .sha256
    )  # the hash covers the SQL the store does not keep


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        ([table(), table()], "names repeat"),
        ([table(name="bad name")], "name"),
        ([table(dims=[])], "a table needs dims"),
        ([table(kind="sum")], "needs a value column"),
        ([table(value="age")], "counts persons"),
        ([table(kind="mean", value="age", dp={"epsilon": 1})], "dp applies to count tables"),
        ([table(dp={"epsilon": 1}, rounding=5)], "without rounding"),
        ([table(rounding=3)], "rounding"),
        ([table(sql=" ")], "needs its sql"),
        ([table(), figure(table="nope")], "not a table output"),
        ([table(), figure(file=None)], "needs the table it draws"),
        ([table(), figure(sql=BY_SEX)], "not computed"),
        ([{"name": "m", "kind": "model", "sql": BY_SEX}], "needs its coefficients"),
        ([table(dp={"epsilon": 0})], "greater than 0"),
        ([table(colour="blue")], "Extra inputs"),
        ([], "at least 1"),
    ],
)
def test_bad_specs_are_refused(outputs: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_release_spec({"outputs": outputs})


def test_attachments_are_checked() -> None:
    spec = parse_release_spec({"outputs": [table(), figure()]})
    assert check_attachments(spec, {"f": PNG})["f"].name == "f.png"
    with pytest.raises(UsageError, match="which was not given"):
        check_attachments(spec, {})
    with pytest.raises(UsageError, match="take none"):
        check_attachments(spec, {"f": PNG, "t": b"x"})
    with pytest.raises(DataValidationError, match="neither PNG nor SVG"):
        check_attachments(spec, {"f": b"GIF89a..."})
    for active in (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect onload="x()"/></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://example.org/x.png"/></svg>',
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg/>',
    ):
        with pytest.raises(DataValidationError, match="SVG figure"):
            check_attachments(spec, {"f": active})
    plain = b'<svg xmlns="http://www.w3.org/2000/svg"><use href="#bar"/></svg>'
    assert check_attachments(spec, {"f": plain})["f"].media_type == "image/svg+xml"


def test_unreadable_spec_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Cannot read the output spec"):
        load_release_spec(tmp_path / "missing.toml")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot be parsed"):
        load_release_spec(broken)
    lonely = tmp_path / "lonely.json"
    lonely.write_text(
        '{"outputs": [{"name": "t", "kind": "count", "sql": "SELECT 1", "dims": ["a"]},'
        ' {"name": "f", "kind": "figure", "table": "t", "file": "gone.png"}]}',
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="cannot read its file"):
        load_release_spec(lonely)


def test_privacy_asked_by_name() -> None:
    spec = parse_release_spec({"outputs": [table(levels={"sex": ["8507", "8532"]})]})
    noisy = with_privacy(spec, {"t": 0.25})
    assert noisy.outputs[0].dp is not None and noisy.outputs[0].dp.epsilon == 0.25
    with pytest.raises(UsageError, match="names no output"):
        with_privacy(spec, {"other": 0.25})
    summed = parse_release_spec({"outputs": [table(kind="sum", value="cost")]})
    with pytest.raises(UsageError, match="dp applies to count tables"):
        with_privacy(summed, {"t": 0.25})
