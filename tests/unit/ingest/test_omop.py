"""OMOP CSV deliveries: the source's person_id becomes a hub pseudonym scoped by its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from havre.core.actor import Actor
from havre.core.errors import DataValidationError, UsageError
from havre.hub import Hub
from havre.ingest.readers import reader_for
from havre.pseudo import hmac_hex
from havre.pseudo.scheme import omop_message, person_id_of

from .deliveries import write_omop
from .services import services

OPERATOR = Actor.operator()


def test_omop_delivery(sqlite_hub: Hub, tmp_path: Path) -> None:
    hub = sqlite_hub
    s = services(hub)
    s.optouts.add_omop(OPERATOR, "cohort-a", "4")
    folder, expected = write_omop(tmp_path / "omop", dirty=True)
    result = s.ingestion.ingest(OPERATOR, folder, "omop", source_name="cohort-a")
    assert result.dataset == "cohort-a"
    for name, counts in expected.items():
        got = result.reconciliation.tables[name]
        assert (got.read, got.loaded, got.quarantined, got.opted_out, got.duplicates) == (
            counts["read"],
            counts["loaded"],
            counts["quarantined"],
            counts["opted_out"],
            counts["duplicate"],
        ), name
    assert result.unsupported == {"provider": 1}
    version = s.lake.open("cohort-a")
    assert version.manifest.lineage.pseudonym_scheme["id"] == "hmac-sha256:omop-source-person:v1"
    key, _ = hub.keys.data_key("pseudo/hub")
    people = version.read("person").to_pylist()
    assert {p["hub_pseudonym"] for p in people} == {
        hmac_hex(key, omop_message("cohort-a", n)) for n in (1, 2, 3)
    }
    for person in people:
        assert person["person_id"] == person_id_of(person["hub_pseudonym"])
        assert person["day_of_birth"] is None and person["birth_datetime"] is None
        assert person["person_source_value"] is None
    visits = {v["visit_occurrence_id"] for v in version.read("visit_occurrence").to_pylist()}
    conditions = version.read("condition_occurrence").to_pylist()
    links = [c["visit_occurrence_id"] for c in conditions]
    assert set(links) - {None} <= visits and links.count(None) == 2
    assert {c["person_id"] for c in conditions} <= {p["person_id"] for p in people}
    reasons = {
        (r["line_no"], r["reason"])
        for r in version.quarantine().to_table().to_pylist()
        if r["source_table"] == "condition_occurrence"
    }
    assert reasons == {
        (6, "unknown_person"),
        (7, "bad_date"),
        (8, "date_out_of_range"),
        (9, "truncated_line"),
        (10, "wrong_type"),
        (11, "missing_required"),  # an empty first field, not a short line
        (14, "date_out_of_range"),  # before the month of birth the person row gives
    }
    visit_problems = {
        (r["line_no"], r["reason"], r["field"])
        for r in version.quarantine().to_table().to_pylist()
        if r["source_table"] == "visit_occurrence"
    }
    assert visit_problems == {(6, "end_before_start", "visit_end_date")}
    assert any("concept.csv" in note for note in result.notes)
    # a loaded diagnosis naming a visit the delivery does not hold keeps no link, said so
    assert [n for n in result.notes if "visit_occurrence_id" in n] == [
        "condition_occurrence: 2 record(s) name a visit_occurrence_id that nothing loaded from "
        "this delivery is (absent from it, quarantined, an objector's, or another person's): "
        "loaded without that link"
    ]


def test_omop_needs_a_source_name_and_a_person_table(sqlite_hub: Hub, tmp_path: Path) -> None:
    s = services(sqlite_hub)
    folder, _ = write_omop(tmp_path / "omop", dirty=False)
    with pytest.raises(UsageError, match="--name"):
        s.ingestion.ingest(OPERATOR, folder, "omop")
    (folder / "person.csv").unlink()
    with pytest.raises(DataValidationError, match="missing from the delivery: person"):
        s.ingestion.ingest(OPERATOR, folder, "omop", source_name="x")
    (folder / "notes_export.csv").write_text("a,b\n")
    with pytest.raises(DataValidationError, match=r"not an OMOP CDM v5\.4 table"):
        s.ingestion.ingest(OPERATOR, folder, "omop", source_name="x")


def test_omop_person_ids_are_numbers_not_text(sqlite_hub: Hub, tmp_path: Path) -> None:
    """'007' and '7' name the same source person: one pseudonym, and a second record for
    the person with other content is a conflicting key, not a second person."""
    hub = sqlite_hub
    s = services(hub)
    folder, _ = write_omop(tmp_path / "omop", dirty=False)
    with (folder / "person.csv").open("a") as people:
        people.write("7,8532,1980,,,,0,0,,,,MRN-0007,F,0,,0,,0\n")
        people.write("007,8507,1981,,,,0,0,,,,MRN-0007,M,0,,0,,0\n")
    with (folder / "condition_occurrence.csv").open("a") as conditions:
        conditions.write("120,0007,201826,2021-02-01,,,,32817,,,,,,E11.9,0,\n")
    result = s.ingestion.ingest(OPERATOR, folder, "omop", source_name="cohort-b")
    people_counts = result.reconciliation.tables["person"]
    assert (people_counts.read, people_counts.loaded, people_counts.quarantined) == (6, 5, 1)
    version = s.lake.open("cohort-b")
    rows = version.quarantine().to_table().to_pylist()
    assert [
        (r["line_no"], r["reason"], r["field"]) for r in rows if r["source_table"] == "person"
    ] == [(7, "conflicting_key", "person_id")]
    key, _ = hub.keys.data_key("pseudo/hub")
    seven = hmac_hex(key, omop_message("cohort-b", 7))
    people = {p["hub_pseudonym"]: p for p in version.read("person").to_pylist()}
    assert people[seven]["year_of_birth"] == 1980
    conditions = version.read("condition_occurrence").to_pylist()
    assert [c["person_id"] for c in conditions if c["condition_source_value"] == "E11.9"].count(
        person_id_of(seven)
    ) == 1


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("columns", r"visit_occurrence\.csv: required column\(s\) person_id missing"),
        ("empty", r"person\.csv: the file is empty"),
        ("binary", r"visit_occurrence\.csv: is a binary file"),
    ],
)
def test_omop_files_refused_on_inspection(
    sqlite_hub: Hub, tmp_path: Path, damage: str, fragment: str
) -> None:
    """A file's first bytes are checked before any record is read, on either engine."""
    folder, _ = write_omop(tmp_path / "omop", dirty=False)
    visits = folder / "visit_occurrence.csv"
    if damage == "columns":
        header, rest = visits.read_text().split("\n", 1)
        visits.write_text(header.replace("person_id,", "patient,", 1) + "\n" + rest)
    elif damage == "empty":
        (folder / "person.csv").write_bytes(b"")
    else:
        visits.write_bytes(b"\x00PK\x03\x04" * 40)
    with pytest.raises(DataValidationError, match=fragment):
        reader_for("omop").inspect(folder, lambda *_: None)
    with pytest.raises(DataValidationError, match=fragment):
        services(sqlite_hub).ingestion.ingest(OPERATOR, folder, "omop", source_name="x")
    assert services(sqlite_hub).lake.versions() == []
