"""Deliveries of the synthetic generator, clean and dirty: every defect it made is in the
quarantine at its file and line with the right kind, and the counts are those it declares."""

from __future__ import annotations

import collections
import csv
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from havre.core.actor import Actor
from havre.core.errors import DataValidationError
from havre.hub import Hub
from havre.ingest.readers import reader_for
from havre.synth import SynthOptions, generate

from .services import Services, services

OPERATOR = Actor.operator()


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth")
    made = {
        "dirty": SynthOptions(persons=150, seed=3, out=root / "dirty", dirty_rate=0.05),
        "clean": SynthOptions(persons=150, seed=4, out=root / "clean"),
        "parquet": SynthOptions(
            persons=100,
            seed=5,
            out=root / "parquet",
            dirty_rate=0.05,
            file_format="parquet",
            formats=("snds",),
        ),
    }
    for options in made.values():
        generate(options)
    return {name: options.out for name, options in made.items()}


def _ingest_all(s: Services, folder: Path) -> dict[str, object]:
    s.optouts.import_file(OPERATOR, folder / "optout" / "optout.csv")
    return {
        source: s.ingestion.ingest(OPERATOR, folder / source, source)
        for source in ("snds", "fhir")
        if (folder / source).is_dir()
    }


def _check_against_manifest(s: Services, folder: Path, results: dict[str, object]) -> None:
    manifest = json.loads((folder / "synth-manifest.json").read_text())
    for name, entry in manifest["files"].items():
        source = name.split("/")[0]
        if source not in results:
            continue
        counts = results[source].reconciliation.tables[entry["table"]]  # type: ignore[attr-defined]
        defects = entry["defects"]
        quarantined = sum(n for kind, n in defects.items() if kind != "duplicate")
        assert (counts.read, counts.duplicates, counts.opted_out, counts.quarantined) == (
            entry["rows"],
            defects.get("duplicate", 0),
            entry["optout_rows"],
            quarantined,
        ), name
        assert counts.balanced
    expected = collections.Counter()
    with (folder / "synth-defects.csv").open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if row["kind"] != "duplicate":
                expected[(row["file"], int(row["line"]), row["kind"])] += 1
    found = collections.Counter()
    for source in results:
        for row in s.lake.open(source).quarantine().to_table().to_pylist():
            key = (f"{source}/{row['source_file']}", row["line_no"], row["defect_kind"])
            found[key] += 1
    assert found == expected


@pytest.mark.slow
def test_dirty_csv_delivery(sqlite_hub: Hub, deliveries: dict[str, Path]) -> None:
    s = services(sqlite_hub)
    results = _ingest_all(s, deliveries["dirty"])
    _check_against_manifest(s, deliveries["dirty"], results)


@pytest.mark.slow
def test_dirty_parquet_delivery(sqlite_hub: Hub, deliveries: dict[str, Path]) -> None:
    s = services(sqlite_hub)
    results = _ingest_all(s, deliveries["parquet"])
    _check_against_manifest(s, deliveries["parquet"], results)


@pytest.mark.slow
def test_clean_delivery_loads_everything_but_objectors(
    sqlite_hub: Hub, deliveries: dict[str, Path]
) -> None:
    s = services(sqlite_hub)
    results = _ingest_all(s, deliveries["clean"])
    _check_against_manifest(s, deliveries["clean"], results)
    for result in results.values():
        total = result.reconciliation.total  # type: ignore[attr-defined]
        assert (total.quarantined, total.duplicates) == (0, 0)
        assert total.loaded + total.opted_out == total.read
    failed = [q for q in s.lake.open("snds").manifest.quality if not q.passed]
    assert not failed, [(q.table, q.check, q.column, q.violating) for q in failed]


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("not_parquet", r"ER_BIO_F\.parquet: is not a readable Parquet file"),
        ("columns", r"ER_BIO_F\.parquet: column\(s\) BIO_PRS_IDE missing"),
    ],
)
def test_parquet_files_refused_on_inspection(
    sqlite_hub: Hub,
    deliveries: dict[str, Path],
    tmp_path: Path,
    damage: str,
    fragment: str,
) -> None:
    """A Parquet delivery's footers are read when it is inspected, before any row."""
    folder = tmp_path / "snds"
    shutil.copytree(deliveries["parquet"] / "snds", folder)
    (folder / "delivery.json").unlink(missing_ok=True)
    path = folder / "ER_BIO_F.parquet"
    if damage == "not_parquet":
        path.write_bytes(b"BIO_PRS_IDE;FLX_DIS_DTD\n1;2024-01-01\n")
    else:
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["BIO_PRS_IDE"]), path)
    with pytest.raises(DataValidationError, match=fragment):
        reader_for("snds").inspect(folder, lambda *_: None)
    with pytest.raises(DataValidationError, match=fragment):
        services(sqlite_hub).ingestion.ingest(OPERATOR, folder, "snds")
