"""SNDS deliveries: every record accounted for, every defect quarantined with its reason."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.errors import DataValidationError
from havre.hub import Hub
from havre.ingest.readers import reader_for
from havre.pseudo import hmac_hex
from havre.pseudo.scheme import nir_message, person_id_of

from .deliveries import (
    OBJECTOR,
    PEOPLE,
    QUARANTINED,
    snds_tables,
    write_optout,
    write_snds,
)
from .services import services

OPERATOR = Actor.operator()


def test_dirty_delivery_reconciles_and_quarantines_line_by_line(hub: Hub, tmp_path: Path) -> None:
    s = services(hub)
    s.optouts.import_file(OPERATOR, write_optout(tmp_path / "optout.csv", [OBJECTOR]))
    tables = snds_tables(dirty=True)
    result = s.ingestion.ingest(OPERATOR, write_snds(tmp_path / "d" / "snds", tables), "snds")
    assert result.created and result.version == 1
    for name, table in tables.items():
        counts = result.reconciliation.tables[name]
        expected = table.expected()
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
        assert counts.balanced
    total = result.reconciliation.total
    assert total.read == sum(len(t.lines) for t in tables.values())

    version = s.lake.open("snds")
    rows = version.quarantine().to_table().to_pylist()
    found = sorted((r["source_table"], r["line_no"], r["reason"]) for r in rows)
    wanted = sorted(q for t in tables.values() for q in t.quarantine())
    assert found == wanted
    by_reason = {r["reason"]: r for r in rows}
    assert by_reason["bad_date"]["defect_kind"] == "bad_date"
    assert by_reason["unknown_claim"]["defect_kind"] == "unknown_person"
    assert by_reason["parent_quarantined"]["defect_kind"] is None
    wrong = {r["source_table"]: r for r in rows if r["reason"] == "wrong_type"}
    assert (wrong["ER_PRS_F"]["field"], wrong["ER_PRS_F"]["value"]) == ("PRS_ACT_QTE", "abc")
    assert (wrong["ER_BIO_F"]["field"], wrong["ER_BIO_F"]["value"]) == ("BIO_ACT_QSN", "x")
    unknown = {r["source_table"]: r for r in rows if r["reason"] == "unknown_code"}
    assert (unknown["ER_BIO_F"]["field"], unknown["ER_BIO_F"]["value"]) == ("BIO_PRS_IDE", "ZZZZ")
    nir_rows = [r for r in rows if r["field"] == "BEN_NIR"]
    assert nir_rows and all(r["value"] is None for r in nir_rows)
    assert all(r["source_file"].endswith(".csv") for r in rows)


def test_pseudonyms_follow_the_scheme(sqlite_hub: Hub, tmp_path: Path) -> None:
    hub = sqlite_hub
    s = services(hub)
    s.ingestion.ingest(
        OPERATOR, write_snds(tmp_path / "snds", snds_tables(dirty=False, optout=False)), "snds"
    )
    version = s.lake.open("snds")
    key, key_version = hub.keys.data_key("pseudo/hub")
    scheme = version.manifest.lineage.pseudonym_scheme
    assert scheme["id"] == "hmac-sha256:nir13-birthym-sex-rank:v1"
    assert (scheme["key"], scheme["key_version"]) == ("pseudo/hub", key_version)
    people = version.read("person").to_pylist()
    expected = {
        hmac_hex(key, nir_message(p.nir[:13], f"{p.year}-{p.month:02d}", p.sex, p.rank))
        for p in PEOPLE
    }
    assert {p["hub_pseudonym"] for p in people} == expected
    assert len(expected) == len(PEOPLE)  # the twins have their own pseudonyms
    for person in people:
        assert person["person_id"] == person_id_of(person["hub_pseudonym"])
    assert {p["gender_concept_id"] for p in people} == {8507, 8532}
    tags = version.column_tags("person")
    assert (tags["month_of_birth"], tags["location_id"]) == ("birth_month", "commune")
    assert version.column_tags("visit_occurrence")["visit_start_date"] == "exact_date"
    assert version.column_tags("death")["death_commune"] == "death_commune"


def test_a_claim_line_with_drugs_and_a_lab_act_is_a_laboratory_visit(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    """A lab act wins over drugs, and each line's kind is its own: the kinds are bits of the
    lines' positions, 32 lines to a row, and neighbouring lines are of other kinds."""
    s = services(sqlite_hub)
    tables = snds_tables(dirty=False, optout=False)
    lab_line = tables["ER_BIO_F"].lines[0].split(b";")[0].decode()
    tables["ER_PHA_F"].add([lab_line, "3400930000001", "A10BA02", "1", "6.25"])
    s.ingestion.ingest(OPERATOR, write_snds(tmp_path / "snds", tables), "snds")
    version = s.lake.open("snds")
    visits = version.read("visit_occurrence").to_pylist()
    n = len(PEOPLE)
    assert collections.Counter(v["visit_concept_id"] for v in visits) == {
        9202: n,
        581458: n,
        32036: n,
        9201: n,
    }
    kind_of = {v["visit_occurrence_id"]: v["visit_concept_id"] for v in visits}
    drugs = version.read("drug_exposure").to_pylist()
    assert sorted(kind_of[d["visit_occurrence_id"]] for d in drugs) == [32036] + [581458] * n


def test_claim_lines_and_stays_become_visits_of_their_kind(sqlite_hub: Hub, tmp_path: Path) -> None:
    s = services(sqlite_hub)
    tables = snds_tables(dirty=False, optout=False)
    s.ingestion.ingest(OPERATOR, write_snds(tmp_path / "snds", tables), "snds")
    version = s.lake.open("snds")
    visits = version.read("visit_occurrence").to_pylist()
    kinds = collections.Counter(v["visit_concept_id"] for v in visits)
    # each person: a consultation, a dispensing (drugs), a lab act, a hospital stay
    n = len(PEOPLE)
    assert kinds == {9202: n, 581458: n, 32036: n, 9201: n}
    kind_of = {v["visit_occurrence_id"]: v["visit_concept_id"] for v in visits}
    drugs = version.read("drug_exposure").to_pylist()
    assert drugs and {kind_of[d["visit_occurrence_id"]] for d in drugs} == {581458}
    acts = version.read("measurement").to_pylist()
    assert acts and {kind_of[m["visit_occurrence_id"]] for m in acts} == {32036}
    diagnoses = [
        c for c in version.read("condition_occurrence").to_pylist() if c["visit_occurrence_id"]
    ]
    assert diagnoses and {kind_of[c["visit_occurrence_id"]] for c in diagnoses} == {9201}


def test_the_same_delivery_twice_makes_one_version(hub: Hub, tmp_path: Path) -> None:
    s = services(hub)
    folder = write_snds(tmp_path / "snds", snds_tables(dirty=False))
    first = s.ingestion.ingest(OPERATOR, folder, "snds")
    second = s.ingestion.ingest(OPERATOR, folder, "snds")
    assert (first.created, second.created) == (True, False)
    assert second.version == first.version == 1
    assert second.reconciliation == first.reconciliation
    assert [v.version for v in s.lake.versions("snds")] == [1]
    with hub.db.transaction() as session:
        entries = (
            session.execute(select(AuditEntryRow).where(AuditEntryRow.action == "ingest.run"))
            .scalars()
            .all()
        )
        assert [e.outcome for e in entries] == ["ok", "ok"]
        assert json.loads(entries[1].details)["already_ingested"] is True


def _expect_refusal(hub: Hub, folder: Path, fragment: str) -> None:
    s = services(hub)
    with pytest.raises(DataValidationError, match=fragment):
        s.ingestion.ingest(OPERATOR, folder, "snds")
    assert s.lake.versions() == []
    assert (
        not list((hub.home / "lake").rglob("*.parquet")) if (hub.home / "lake").exists() else True
    )


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("missing", "missing from the delivery: ER_PHA_F"),
        ("delimiter", r"ER_PRS_F.csv: line 1 is not a ';'-separated header \(it looks ','"),
        ("binary", "IR_BEN_R.csv: is a binary file"),
        ("empty", "ER_BIO_F.csv: the file is empty"),
        ("altered", "ER_PRS_F.csv: its SHA-256 differs"),
        ("unknown", "'NOTES' is not an SNDS table"),
        ("rows", "KI_CCI_R.csv: 1 data lines read, the delivery declares 5"),
    ],
)
def test_files_that_are_not_what_the_source_declares(
    sqlite_hub: Hub, tmp_path: Path, damage: str, fragment: str
) -> None:
    folder = write_snds(tmp_path / "snds", snds_tables(dirty=False))
    if damage == "missing":
        (folder / "ER_PHA_F.csv").unlink()
        (folder / "delivery.json").unlink()
    elif damage == "delimiter":
        path = folder / "ER_PRS_F.csv"
        path.write_text(path.read_text().replace(";", ","))
        (folder / "delivery.json").unlink()
    elif damage == "binary":
        (folder / "IR_BEN_R.csv").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
        (folder / "delivery.json").unlink()
    elif damage == "empty":
        (folder / "ER_BIO_F.csv").write_bytes(b"")
        (folder / "delivery.json").unlink()
    elif damage == "altered":
        path = folder / "ER_PRS_F.csv"
        path.write_bytes(path.read_bytes().replace(b"25.00", b"26.00"))
    elif damage == "unknown":
        (folder / "NOTES.csv").write_text("A;B\n1;2\n")
    elif damage == "rows":
        manifest = json.loads((folder / "delivery.json").read_text())
        for item in manifest["files"]:
            if item["table"] == "KI_CCI_R":
                item["rows"] = 5
        (folder / "delivery.json").write_text(json.dumps(manifest))
    if damage != "rows":  # the others are refused on inspection, before any record is read
        with pytest.raises(DataValidationError, match=fragment):
            reader_for("snds").inspect(folder, lambda *_: None)
    _expect_refusal(sqlite_hub, folder, fragment)
    with sqlite_hub.db.transaction() as session:
        last = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq.desc())).scalar()
        assert last is not None and (last.action, last.outcome) == ("ingest.run", "error")


@pytest.mark.parametrize("padded_first", [False, True])
def test_claim_keys_equal_as_numbers_conflict(
    sqlite_hub: Hub, tmp_path: Path, padded_first: bool
) -> None:
    # drugs and lab acts find their claim line by the number CLE_DCI_JNT holds: two lines
    # whose keys differ as text but not as numbers ('01002', '1002') hold the same key
    s = services(sqlite_hub)
    tables = snds_tables(dirty=False, optout=False)
    prs = tables["ER_PRS_F"]
    pharmacy = prs.lines[1]  # the first dispensing: its drug refers to it
    key = pharmacy.split(b";")[0]
    padded = b"0" + key + pharmacy[len(key) :].replace(b"2021-02-05", b"2021-02-06")
    if padded_first:  # the first of the two in the file keeps the key
        prs.lines[1] = padded
        prs.add_raw(pharmacy, QUARANTINED, "conflicting_key")
    else:
        prs.add_raw(padded, QUARANTINED, "conflicting_key")
    result = s.ingestion.ingest(OPERATOR, write_snds(tmp_path / "snds", tables), "snds")
    for name, table in tables.items():
        counts = result.reconciliation.tables[name]
        expected = table.expected()
        assert (counts.read, counts.loaded, counts.quarantined) == (
            expected["read"],
            expected["loaded"],
            expected["quarantined"],
        ), name
    version = s.lake.open("snds")
    rows = version.quarantine().to_table().to_pylist()
    assert sorted((r["source_table"], r["line_no"], r["reason"]) for r in rows) == sorted(
        prs.quarantine()
    )
    assert {r["field"] for r in rows} == {"CLE_DCI_JNT"}
    drugs = version.read("drug_exposure").to_pylist()
    assert len(drugs) == len(tables["ER_PHA_F"].lines)
    visits = {v["visit_occurrence_id"] for v in version.read("visit_occurrence").to_pylist()}
    assert all(d["visit_occurrence_id"] in visits for d in drugs)
