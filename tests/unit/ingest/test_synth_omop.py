"""The synthetic OMOP CDM export, ingested with ``--source omop``: the counts are those the
generator declares, every defect it made is quarantined at its line with its kind, the
objections filed by ``person_id`` leave their persons out, and the hospital record numbers
(``person_source_value``) never reach the lake."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from havre.cdm.omop import LAKE_TABLES
from havre.cli.main import main
from havre.core.actor import Actor
from havre.hub import Hub
from havre.ingest.result import IngestResult
from havre.synth import SynthOptions, generate
from havre.synth.omop import OPTOUT_FILE, SOURCE_NAME

from .services import Services, services
from .test_synth_deliveries import _check_against_manifest

OPERATOR = Actor.operator()


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth-omop")
    made = {
        "dirty": SynthOptions(
            persons=2_500,
            seed=3,
            out=root / "dirty",
            formats=("omop",),
            dirty_rate=0.06,
            optout_rate=0.05,
        ),
        "clean": SynthOptions(
            persons=1_500, seed=4, out=root / "clean", formats=("omop",), optout_rate=0.05
        ),
    }
    for options in made.values():
        generate(options)
    return {name: options.out for name, options in made.items()}


def _objections(folder: Path) -> list[dict[str, str]]:
    with (folder / OPTOUT_FILE).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _ingest(s: Services, folder: Path) -> IngestResult:
    imported = s.optouts.import_file(OPERATOR, folder / OPTOUT_FILE)
    assert imported.added == len(_objections(folder))
    return s.ingestion.ingest(OPERATOR, folder / "omop", "omop", source_name=SOURCE_NAME)


def _text(table: pa.Table) -> str:
    return "\n".join(
        str(value) for column in table.columns for value in column.to_pylist() if value
    )


def test_dirty_omop_delivery(sqlite_hub: Hub, deliveries: dict[str, Path]) -> None:
    s = services(sqlite_hub)
    folder = deliveries["dirty"]
    result = _ingest(s, folder)
    _check_against_manifest(s, folder, {"omop": result})
    manifest = json.loads((folder / "synth-manifest.json").read_text())
    made = {kind for kind, n in manifest["defects"].items() if n}
    assert made == {
        "bad_date",
        "date_out_of_range",
        "duplicate",
        "missing_required",
        "wrong_type",
        "invalid_utf8",
        "truncated_line",
        "unknown_person",
    }
    assert result.reconciliation.total.opted_out > 0


def test_clean_omop_delivery_loads_everything_but_objectors(
    sqlite_hub: Hub, deliveries: dict[str, Path]
) -> None:
    s = services(sqlite_hub)
    folder = deliveries["clean"]
    result = _ingest(s, folder)
    _check_against_manifest(s, folder, {"omop": result})
    total = result.reconciliation.total
    assert (total.quarantined, total.duplicates) == (0, 0)
    assert total.loaded + total.opted_out == total.read
    assert result.reconciliation.tables["person"].opted_out == len(_objections(folder))
    assert list(result.notes) == ["cdm_source.csv: vocabulary or metadata table, not read"]
    # the export's record numbers and own person ids are read, never kept
    with (folder / "omop" / "person.csv").open(newline="") as handle:
        people = list(csv.DictReader(handle))
    numbers = {p["person_source_value"] for p in people}
    source_ids = {p["person_id"] for p in people}
    version = s.lake.open(SOURCE_NAME)
    lake = "\n".join(_text(version.read(table)) for table in LAKE_TABLES)
    assert lake and not {n for n in numbers if n in lake}
    persons = version.read("person")
    assert persons.column("person_source_value").null_count == persons.num_rows
    assert not {str(i) for i in persons.column("person_id").to_pylist()} & source_ids


def test_the_commands_a_newcomer_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """synth → init → optout import (the OMOP objections) → ingest --source omop."""
    monkeypatch.setenv("HAVRE_HOME", str(tmp_path / "home"))

    def havre(*args: str) -> Any:
        with pytest.raises(SystemExit) as ended:
            main([*args, "--json"])
        captured = capsys.readouterr()
        assert int(ended.value.code or 0) == 0, captured.err
        return json.loads(captured.out) if captured.out.strip() else None

    out = tmp_path / "delivery"
    havre(
        "synth", "--persons", "800", "--seed", "12", "--out", str(out), "--formats", "omop",
        "--dirty-rate", "0.05", "--optout-rate", "0.1",
    )  # fmt: skip
    havre("init")
    entries = _objections(out)
    assert entries
    imported = havre("optout", "import", str(out / OPTOUT_FILE))
    assert imported["added"] == len(entries)
    done = havre("ingest", str(out / "omop"), "--source", "omop", "--name", SOURCE_NAME)
    manifest = json.loads((out / "synth-manifest.json").read_text())
    for name, entry in manifest["files"].items():
        if not name.startswith("omop/"):
            continue
        counts = done["reconciliation"]["tables"][entry["table"]]
        defects = entry["defects"]
        assert (counts["read"], counts["duplicates"], counts["opted_out"]) == (
            entry["rows"],
            defects.get("duplicate", 0),
            entry["optout_rows"],
        ), name
        assert counts["quarantined"] == sum(
            n for kind, n in defects.items() if kind != "duplicate"
        ), name
