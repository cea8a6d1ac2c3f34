"""The hospital group's OMOP CDM export (``--formats omop``): layout, columns from the CDM
specification, its own person ids, and the same bytes for the same arguments."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from havre.cdm.omop import LAKE_TABLES
from havre.cdm.reference import omop_fields
from havre.synth import SynthOptions, generate, omop, params

# every table the lake keeps, but observation (nothing of the warehouse fits it)
TABLES = set(LAKE_TABLES) - {"observation"}


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def spec_columns(table: str) -> list[str]:
    spec = omop_fields()
    chosen = spec.filter(pc.equal(spec.column("cdmTableName"), table))
    return [str(name) for name in chosen.column("cdmFieldName").to_pylist()]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("omop") / "clean"
    generate(SynthOptions(persons=1_500, seed=9, out=out, formats=("omop",), optout_rate=0.05))
    return out


def test_one_csv_per_cdm_table_with_the_specification_columns(clean: Path) -> None:
    folder = clean / "omop"
    assert {p.stem for p in folder.glob("*.csv")} == TABLES | {"cdm_source"}
    assert not (clean / "snds").exists() and not (clean / "fhir").exists()
    for table in [*TABLES, "cdm_source"]:
        header = (folder / f"{table}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == spec_columns(table), table
    source = rows(folder / "cdm_source.csv")
    assert [(r["cdm_source_abbreviation"], r["cdm_version"]) for r in source] == [
        (omop.SOURCE_NAME, "v5.4")
    ]


def test_records_refer_to_the_export_s_own_persons_visits_and_places(clean: Path) -> None:
    folder = clean / "omop"
    people = rows(folder / "person.csv")
    ids = [int(p["person_id"]) for p in people]
    assert len(ids) == len(set(ids)) > 20
    assert all(0 < i <= 2**omop.ID_BITS for i in ids)
    assert {p["gender_concept_id"] for p in people} == {"8507", "8532"}
    # a hospital record number, 10 digits: never the NIR
    assert all(len(p["person_source_value"]) == 10 for p in people)
    nirs = {line.split(";")[0] for line in (clean / "optout" / "optout.csv").open()}
    assert not nirs & {p["person_source_value"] for p in people}
    visits = {v["visit_occurrence_id"] for v in rows(folder / "visit_occurrence.csv")}
    for table in ("condition_occurrence", "drug_exposure", "measurement", "procedure_occurrence"):
        records = rows(folder / f"{table}.csv")
        assert {int(r["person_id"]) for r in records} <= set(ids), table
        assert {r["visit_occurrence_id"] for r in records} <= visits, table
        assert all(r[f"{table.split('_')[0]}_concept_id"] == "0" for r in records), table
    conditions = rows(folder / "condition_occurrence.csv")
    assert all("." not in c["condition_source_value"] for c in conditions)
    locations = {r["location_id"] for r in rows(folder / "location.csv")}
    assert {p["location_id"] for p in people} <= locations
    sites = {r["care_site_id"] for r in rows(folder / "care_site.csv")}
    assert {v["care_site_id"] for v in rows(folder / "visit_occurrence.csv")} <= sites
    periods = {int(r["person_id"]) for r in rows(folder / "observation_period.csv")}
    assert periods == set(ids)


def test_objections_are_listed_by_source_and_person_id(clean: Path) -> None:
    listed = (clean / "optout" / "omop-optout.csv").read_text().splitlines()
    assert listed[0] == "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION"
    people = {p["person_id"] for p in rows(clean / "omop" / "person.csv")}
    entries = [line.split(";") for line in listed[1:]]
    assert entries and all(name == omop.SOURCE_NAME for name, _, _ in entries)
    assert {person for _, person, _ in entries} <= people


def test_person_ids_are_a_permutation_keyed_by_the_seed() -> None:
    index = np.arange(200_000)
    first = omop.source_person_ids(1, index)
    assert len(np.unique(first)) == len(index)
    assert not np.array_equal(first, omop.source_person_ids(2, index))
    assert np.array_equal(first, omop.source_person_ids(1, index))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(params, "CHUNK_PERSONS", 400)


def run(out: Path, formats: tuple[str, ...], workers: int = 1) -> dict[str, str]:
    generate(
        SynthOptions(
            persons=1_000,
            seed=5,
            out=out,
            formats=formats,
            dirty_rate=0.03,
            optout_rate=0.05,
            workers=workers,
        )
    )
    return fingerprint(out)


def test_same_arguments_same_bytes_and_other_formats_untouched(
    tmp_path: Path, small_chunks: None
) -> None:
    every = run(tmp_path / "a", ("snds", "fhir", "omop"))
    assert every == run(tmp_path / "b", ("snds", "fhir", "omop"), workers=2)
    alone = run(tmp_path / "c", ("omop",))
    before = run(tmp_path / "d", ("snds", "fhir"))

    def part(found: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
        return {name: digest for name, digest in found.items() if name.startswith(prefixes)}

    omop_files = ("omop/", "optout/omop-optout.csv")
    assert len(part(every, ("omop/",))) == 11
    assert part(alone, omop_files) == part(every, omop_files)
    others = ("snds/", "fhir/", "optout/optout.csv")
    assert part(before, others) == part(every, others)
