from __future__ import annotations

import json
from pathlib import Path

import pytest

from havre.cli.main import main


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(args)
    code = stopped.value.code
    return code if isinstance(code, int) else 1


def test_synth_prints_the_manifest_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "delivery"
    code = run(
        [
            "synth",
            "--persons",
            "300",
            "--seed",
            "4",
            "--out",
            str(out),
            "--formats",
            "snds",
            "--dirty-rate",
            "0.05",
            "--workers",
            "1",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["persons"] == 300
    assert summary["arguments"]["formats"] == ["snds"]
    assert summary["files"]["snds/IR_BEN_R.csv"] >= 300
    assert summary["defects"] > 0
    assert not (out / "fhir").exists()
    assert (out / "synth-manifest.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--persons", "-3"],
        ["--persons", "10", "--end", "2010-01-01"],
        ["--persons", "10", "--formats", "hl7v2"],
        ["--persons", "10", "--start", "01/01/2019"],
        ["--persons", "10", "--scale", "small"],
        ["--scale", "gigantic"],
        [],
    ],
)
def test_bad_input_exits_with_2_and_writes_nothing(
    tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "delivery"
    assert run(["synth", "--seed", "1", "--out", str(out), *args, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "usage_error"
    assert list(tmp_path.iterdir()) == []
