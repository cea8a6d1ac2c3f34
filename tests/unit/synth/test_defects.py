"""Every dirty record is listed with its kind, counted in the manifest, and really is what its
kind says; every other record is clean; opted-out persons' records are never spoiled."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from havre.cdm.reference import nomenclature
from havre.synth import SynthManifest, tables
from havre.synth.defects import KINDS
from havre.synth.nir import valid_key

SPECS = {spec.name: spec for spec in tables.SNDS_TABLES}
START, END = dt.date(2015, 1, 1), dt.date(2024, 12, 31)


def listed(manifest: SynthManifest) -> dict[str, dict[int, tuple[str, str]]]:
    found: dict[str, dict[int, tuple[str, str]]] = collections.defaultdict(dict)
    with (manifest.path.parent / "synth-defects.csv").open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == ["file", "line", "kind", "field"]
    for name, line, kind, field in rows[1:]:
        assert int(line) not in found[name], (name, line)
        found[name][int(line)] = (kind, field)
    return found


def spec_of(name: str) -> tables.TableSpec:
    stem = Path(name).stem
    return SPECS["T_MCOaa" + stem[-1]] if stem.startswith("T_MCO") else SPECS[stem]


def vocabulary(kind: str) -> set[str]:
    column = {
        "icd10": ("IR_CIM_V", "CIM_COD"),
        "atc": ("openmedic_ATC5", "ATC5"),
        "nabm": ("IR_BIO_R", "BIO_PRS_IDE"),
        "prs_nat": ("IR_NAT_V", "PRS_NAT"),
    }[kind]
    return set(nomenclature(column[0]).column(column[1]).to_pylist())


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def beneficiaries(dirty_delivery: SynthManifest) -> dict[str, dict[str, str]]:
    lines = (dirty_delivery.path.parent / "snds/IR_BEN_R.csv").read_bytes().splitlines()
    header = lines[0].decode().split(";")
    people = {}
    for raw in lines[1:]:
        try:
            fields = raw.decode().split(";")
        except UnicodeDecodeError:
            continue
        if len(fields) == len(header) and valid_key(fields[0]):
            people[fields[0]] = dict(zip(header, fields, strict=True))
    return people


def test_manifest_counts_match_the_defect_list(dirty_delivery: SynthManifest) -> None:
    found = listed(dirty_delivery)
    for name, entry in dirty_delivery.files.items():
        counted = collections.Counter(kind for kind, _ in found.get(name, {}).values())
        assert dict(counted) == entry["defects"], name
    totals = collections.Counter(k for f in found.values() for k, _ in f.values())
    assert {kind: totals.get(kind, 0) for kind in KINDS} == dirty_delivery.defects
    # Every kind shows up with a count, text-only kinds included.
    assert all(count > 0 for count in dirty_delivery.defects.values()), dirty_delivery.defects
    share = dirty_delivery.document["totals"]["defects"] / dirty_delivery.document["totals"]["rows"]
    assert 0.015 < share < 0.035


def test_each_csv_defect_is_what_its_kind_says(
    dirty_delivery: SynthManifest, beneficiaries: dict[str, dict[str, str]]
) -> None:
    root = dirty_delivery.path.parent
    found = listed(dirty_delivery)
    optouts = {
        line.split(";")[0] for line in (root / "optout/optout.csv").read_text().splitlines()[1:]
    }
    checked: collections.Counter[str] = collections.Counter()
    for path in sorted((root / "snds").glob("*.csv")):
        name = f"snds/{path.name}"
        spec = spec_of(name)
        lines = path.read_bytes().split(b"\n")[:-1]
        header = lines[0].decode().split(";")
        seen: set[bytes] = set()
        for number, raw in enumerate(lines[1:], start=2):
            kind, field = found[name].get(number, ("", ""))
            checked[kind] += 1
            if kind == "invalid_utf8":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode()
                assert field in header
                continue
            values = raw.decode().split(";")
            if kind == "truncated_line":
                assert len(values) < len(header)
                continue
            assert len(values) == len(header), (name, number)
            row = dict(zip(header, values, strict=True))
            if kind == "duplicate":
                assert raw in seen, (name, number)
                continue
            if kind == "":
                assert raw not in seen, (name, number)
            seen.add(raw)
            nir = row.get(spec.nir or "", "")
            if kind == "":
                _assert_clean(spec, row)
                continue
            assert nir not in optouts, (name, number, kind)
            value = row[field] if field else ""
            if kind == "bad_nir_key":
                assert len(value) == 15 and not valid_key(value)
            elif kind == "unknown_person":
                assert valid_key(value) and value not in beneficiaries
            elif kind == "unknown_code":
                vocab = dict(spec.codes)[field]
                assert value and value not in vocabulary(vocab)
            elif kind == "missing_required":
                assert field in spec.required and value == ""
            elif kind == "wrong_type":
                assert field in spec.numeric and value and not is_number(value)
            elif kind == "bad_date":
                assert field in spec.dates and value and parse_date(value) is None
            elif kind == "date_out_of_range":
                day = parse_date(value)
                assert day is not None and field in spec.dates
                born = beneficiaries.get(nir, {}).get("BEN_NAI_ANN")
                assert (
                    day < dt.date(1900, 1, 1)
                    or day > END
                    or (born is not None and day.year <= int(born))
                )
            else:
                raise AssertionError(f"unexpected kind {kind!r}")
    assert checked[""] > 0 and len(checked) > 8


def _assert_clean(spec: tables.TableSpec, row: dict[str, str]) -> None:
    for name in spec.required:
        assert row[name], (spec.name, name)
    if spec.nir:
        assert valid_key(row[spec.nir])
    for name in spec.numeric:
        assert row[name] == "" or is_number(row[name])
    for name in spec.dates:
        day = parse_date(row[name])
        assert day is not None and day <= END


def test_each_fhir_defect_is_what_its_kind_says(dirty_delivery: SynthManifest) -> None:
    root = dirty_delivery.path.parent
    found = listed(dirty_delivery)
    patients: dict[str, dt.date] = {}
    for raw in (root / "fhir/Patient.000.ndjson").read_bytes().splitlines():
        try:
            patient = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        patients[patient["id"]] = dt.date.fromisoformat(patient["birthDate"])
    kinds: collections.Counter[str] = collections.Counter()
    for path in sorted((root / "fhir").glob("*.ndjson")):
        name = f"fhir/{path.name}"
        seen: set[bytes] = set()
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            kind, field = found[name].get(number, ("", ""))
            kinds[kind] += 1
            if kind == "invalid_utf8":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode()
                continue
            if kind == "malformed_json":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(raw)
                continue
            resource = json.loads(raw)
            if kind == "duplicate":
                assert raw in seen
                continue
            seen.add(raw)
            subject = resource.get("subject", {}).get("reference", "").removeprefix("Patient/")
            if kind == "":
                assert resource["resourceType"] == "Patient" or subject in patients
            elif kind == "unknown_person":
                assert subject and subject not in patients
            elif kind == "missing_required":
                assert field in ("subject", "code") and field not in resource
            elif kind == "wrong_type":
                assert isinstance(resource["valueQuantity"]["value"], str)
            elif kind == "unknown_code":
                code = resource[field]["coding"][0]["code"]
                assert code.replace(".", "") not in vocabulary("icd10") | vocabulary("atc")
                assert code not in ("4548-4", "62238-1", "39156-5", "85354-9")
            elif kind in ("bad_date", "date_out_of_range"):
                day = parse_date(resource[field])
                if kind == "bad_date":
                    assert day is None
                else:
                    assert day is not None
                    assert day < dt.date(1900, 1, 1) or day > END or day < patients[subject]
            else:
                raise AssertionError(kind)
    assert {"malformed_json", "invalid_utf8", "duplicate", "unknown_person"} <= set(kinds)


def test_opted_out_rows_are_counted(dirty_delivery: SynthManifest) -> None:
    optouts = dirty_delivery.ground_truth["population"]["opted_out"]
    assert dirty_delivery.files["optout/optout.csv"]["rows"] == optouts
    assert dirty_delivery.files["snds/IR_BEN_R.csv"]["optout_rows"] == optouts
    assert dirty_delivery.files["snds/ER_PRS_F.csv"]["optout_rows"] > optouts


def test_parquet_carries_only_typed_defects(parquet_delivery: SynthManifest) -> None:
    kinds = {kind for kind, count in parquet_delivery.defects.items() if count}
    assert kinds
    assert kinds.isdisjoint({"bad_date", "wrong_type", "invalid_utf8", "truncated_line"})
    found = listed(parquet_delivery)
    root = parquet_delivery.path.parent / "snds"
    table = pq.read_table(root / "ER_PRS_F.parquet")
    people = pq.read_table(root / "IR_BEN_R.parquet").to_pylist()
    born = {p["BEN_NIR"]: int(p["BEN_NAI_ANN"]) for p in people if p["BEN_NAI_ANN"]}
    checked = collections.Counter()
    for line, (kind, field) in found["snds/ER_PRS_F.parquet"].items():
        # In Parquet, ``line`` counts as in the CSV form: row index + 2.
        row = table.slice(line - 2, 1).to_pylist()[0]
        checked[kind] += 1
        if kind == "missing_required":
            assert row[field] is None
        elif kind == "date_out_of_range":
            day = row[field]
            assert (
                day < dt.date(1900, 1, 1)
                or day > dt.date(2022, 12, 31)
                or (day.year <= born[row["BEN_NIR"]])
            )
        elif kind == "bad_nir_key":
            assert not valid_key(row[field])
        elif kind == "unknown_person":
            assert valid_key(row[field]) and row[field] not in born
    assert checked["missing_required"] and checked["date_out_of_range"]
