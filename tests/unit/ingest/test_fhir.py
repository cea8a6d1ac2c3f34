"""FHIR exports: the hospital's records, real exports (Synthea, HL7 examples) that must never
crash, and the same person linked across claims and hospital on one pseudonym."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from havre.core.actor import Actor
from havre.core.errors import DataValidationError
from havre.hub import Hub
from havre.ingest.readers import reader_for

from .deliveries import (
    OBJECTOR,
    PEOPLE,
    PHONE,
    STREET,
    fhir_export,
    snds_tables,
    write_optout,
    write_snds,
)
from .services import services

OPERATOR = Actor.operator()
DATA = Path(__file__).resolve().parents[2] / "data" / "fhir"


def test_hospital_export_reconciles_and_quarantines_record_by_record(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    s = services(sqlite_hub)
    s.optouts.import_file(OPERATOR, write_optout(tmp_path / "optout.csv", [OBJECTOR]))
    export = fhir_export(dirty=True)
    result = s.ingestion.ingest(OPERATOR, export.write(tmp_path / "fhir"), "fhir")
    for name, expected in export.expected().items():
        counts = result.reconciliation.tables[name]
        assert (
            counts.read,
            counts.loaded,
            counts.quarantined,
            counts.opted_out,
            counts.duplicates,
        ) == (
            expected["read"],
            expected["loaded"],
            expected["quarantined"],
            expected["opted_out"],
            expected["duplicate"],
        ), name
    assert result.unsupported == {"Immunization": 1}
    version = s.lake.open("fhir")
    rows = version.quarantine().to_table().to_pylist()
    assert (
        sorted((r["source_table"], r["line_no"], r["reason"]) for r in rows) == export.quarantine()
    )
    assert version.read("measurement").num_rows == 4 * 3  # HbA1c + systolic + diastolic
    assert [n for n in result.notes if "Encounter" in n] == [
        "Condition: 2 record(s) name an Encounter that nothing loaded from this delivery is "
        "(absent from it, quarantined, an objector's, or another person's): loaded without "
        "that link"
    ]
    unlinked = [
        c for c in version.read("condition_occurrence").to_pylist() if not c["visit_occurrence_id"]
    ]
    assert [c["condition_source_value"] for c in unlinked] == ["I10", "I10"]
    assert version.read("person").num_rows == 4
    assert version.read("death").num_rows == 1
    locations = {r["location_source_value"] for r in version.read("location").to_pylist()}
    assert locations == {"75056", "13055", "2A004", "69123"}
    everything = " ".join(
        str(value)
        for table in [*(version.read(t) for t in version.tables), version.quarantine().to_table()]
        for column in table.columns
        for value in column.to_pylist()
    )
    for person in PEOPLE:
        assert person.birth_date not in everything
        assert person.nir not in everything and person.nir[:13] not in everything
    for identifier in (STREET, PHONE, "Martin", "Jean", "Claire"):
        assert identifier not in everything


def test_claims_and_hospital_link_on_the_same_pseudonym(sqlite_hub: Hub, tmp_path: Path) -> None:
    hub = sqlite_hub
    s = services(hub)
    s.ingestion.ingest(
        OPERATOR, write_snds(tmp_path / "snds", snds_tables(dirty=False, optout=False)), "snds"
    )
    s.ingestion.ingest(OPERATOR, fhir_export(dirty=False).write(tmp_path / "fhir"), "fhir")
    claims = {
        r["hub_pseudonym"]: r["person_id"] for r in s.lake.open("snds").read("person").to_pylist()
    }
    hospital = {
        r["hub_pseudonym"]: r["person_id"] for r in s.lake.open("fhir").read("person").to_pylist()
    }
    assert len(claims) == len(PEOPLE) and len(hospital) == 5
    assert set(hospital) <= set(claims)
    assert all(claims[p] == hospital[p] for p in hospital)
    # the hospital's stays and the claims' stays are the same people
    visits = s.lake.open("fhir").read("visit_occurrence").column("person_id").to_pylist()
    assert set(visits) <= set(claims.values())


def test_synthea_bulk_export_is_reported_record_by_record(sqlite_hub: Hub, tmp_path: Path) -> None:
    s = services(sqlite_hub)
    result = s.ingestion.ingest(OPERATOR, DATA / "bulk-10-patients", "fhir", dataset="synthea")
    total = result.reconciliation.total
    expected = 0
    for path in (DATA / "bulk-10-patients").glob("*.ndjson*"):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            expected += sum(1 for _ in handle)
    assert total.read == expected
    assert total.balanced
    # Synthea patients carry no INS: they cannot be pseudonymized, so nothing of theirs loads
    assert result.reconciliation.tables["Patient"].quarantined == 13
    assert result.quarantine_by_reason["missing_required"] == 13
    assert result.unsupported["DocumentReference"] == 1215
    assert result.lake_rows["care_site"] == 43  # organizations are not about anyone


def test_hl7_examples_and_bundles_never_crash(sqlite_hub: Hub) -> None:
    s = services(sqlite_hub)
    result = s.ingestion.ingest(OPERATOR, DATA / "examples", "fhir", dataset="hl7")
    assert result.reconciliation.total.balanced
    assert result.reconciliation.total.read > len(list((DATA / "examples").glob("*.json")))
    assert "Parameters" in result.unsupported
    reasons = set(result.quarantine_by_reason)
    assert {"missing_required", "unsupported_resource", "parent_quarantined"} <= reasons


def test_export_without_patients_or_with_binary_files(sqlite_hub: Hub, tmp_path: Path) -> None:
    s = services(sqlite_hub)
    folder = fhir_export(dirty=False).write(tmp_path / "fhir", manifest=False)
    (folder / "Patient.000.ndjson").unlink()
    with pytest.raises(DataValidationError, match="no Patient file"):
        s.ingestion.ingest(OPERATOR, folder, "fhir")
    other = fhir_export(dirty=False).write(tmp_path / "fhir2", manifest=False)
    (other / "Encounter.000.ndjson").write_bytes(b"\x00\x00\x00" * 50)
    binary = r"Encounter\.000\.ndjson: is a binary file"
    with pytest.raises(DataValidationError, match=binary):
        reader_for("fhir").inspect(other, lambda *_: None)  # before any record is read
    with pytest.raises(DataValidationError, match=binary):
        s.ingestion.ingest(OPERATOR, other, "fhir")
    gz = fhir_export(dirty=False).write(tmp_path / "fhir3", manifest=False)
    for path in list(gz.glob("*.ndjson")):
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as handle:
            handle.write(path.read_bytes())
        path.unlink()
    assert s.ingestion.ingest(OPERATOR, gz, "fhir", dataset="gz").lake_rows["person"] == 5
    assert not s.lake.versions("fhir")
    shutil.rmtree(tmp_path / "fhir")
