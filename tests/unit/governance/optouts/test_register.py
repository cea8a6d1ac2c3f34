"""The opt-out register: imported all or nothing, stored as keyed hashes, withdrawn, listed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text

from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.errors import DataValidationError, NotFoundError, UsageError
from havre.governance.optouts import OptOutRegister
from havre.hub import Hub
from havre.pseudo import Pseudonymizer, SchemeId, hmac_hex
from havre.pseudo.nir import nir_key

OPERATOR = Actor.operator()


def nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


A, B, C = nir("1850578006084"), nir("2920375123456"), nir("185052A006001")


def register(hub: Hub) -> OptOutRegister:
    return OptOutRegister(hub.db, hub.audit, Pseudonymizer(hub.keys), hub.settings, hub.clock)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("NIR;DATE_OPPOSITION\n" + "".join(f"{line}\n" for line in lines))
    return path


def test_import_stores_keyed_hashes_only(hub: Hub, tmp_path: Path) -> None:
    service = register(hub)
    file = write(tmp_path / "optout.csv", [f"{A};2024-01-02", f"{B};2024-02-03", f"{A};2023-12-01"])
    result = service.import_file(OPERATOR, file)
    assert (result.lines, result.added, result.duplicates_in_file) == (3, 2, 1)
    assert result.scheme == SchemeId.OPTOUT_NIR.value
    again = service.import_file(OPERATOR, file)
    assert (again.added, again.already_present) == (0, 2)

    key, version = hub.keys.data_key("pseudo/optout")
    active = service.active_subjects(SchemeId.OPTOUT_NIR)
    assert sorted(active.column("subject_key").to_pylist()) == sorted(
        hmac_hex(key, n[:13]) for n in (A, B)
    )
    assert set(active.column("key_version").to_pylist()) == {version}
    entries = service.entries(OPERATOR)
    assert {e.objected_on for e in entries} == {dt.date(2023, 12, 1), dt.date(2024, 2, 3)}

    with hub.db.engine.connect() as connection:
        dump = " ".join(str(row) for row in connection.execute(text("SELECT * FROM optouts")))
        audit = " ".join(
            str(row) for row in connection.execute(text("SELECT * FROM audit_entries"))
        )
    for identifier in (A, B, A[:13], B[:13]):
        assert identifier not in dump
        assert identifier not in audit


def test_a_bad_line_fails_the_whole_import(hub: Hub, tmp_path: Path) -> None:
    service = register(hub)
    broken = A[:13] + ("00" if A[13:] != "00" else "01")
    file = write(tmp_path / "optout.csv", [f"{B};2024-01-02", f"{broken};2024-01-02", "x;y;z"])
    with pytest.raises(DataValidationError) as caught:
        service.import_file(OPERATOR, file)
    message = str(caught.value)
    assert "line 3: bad_nir_key" in message and "line 4: field_count" in message
    assert broken not in message
    assert service.count_active() == 0
    with hub.db.transaction() as session:
        last = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq.desc())).scalar()
        assert last is not None and last.action == "optout.import" and last.outcome == "error"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "empty"),
        ("NIR,DATE_OPPOSITION\n", "','-separated"),
        ("\x00\x01binary", "binary"),
    ],
)
def test_files_that_are_not_registers(
    hub: Hub, tmp_path: Path, content: str, fragment: str
) -> None:
    file = tmp_path / "optout.csv"
    file.write_text(content)
    with pytest.raises(DataValidationError, match=fragment):
        register(hub).import_file(OPERATOR, file)


def test_add_remove_and_readd(hub: Hub) -> None:
    service = register(hub)
    added = service.add(OPERATOR, C, dt.date(2024, 5, 1))
    assert added.changed
    assert not service.add(OPERATOR, C).changed
    assert service.count_active() == 1
    service.remove(OPERATOR, C)
    assert service.count_active() == 0
    assert len(service.entries(OPERATOR, include_withdrawn=True)) == 1
    with pytest.raises(NotFoundError):
        service.remove(OPERATOR, C)
    assert service.add(OPERATOR, C).changed
    assert service.count_active() == 1
    with pytest.raises(UsageError) as caught:
        service.add(OPERATOR, C[:13] + "00")
    assert C[:13] not in str(caught.value)


def test_omop_objections_are_keyed_on_source_and_person(hub: Hub) -> None:
    service = register(hub)
    service.add_omop(OPERATOR, "cohort-a", "42")
    key, _ = hub.keys.data_key("pseudo/optout")
    active = service.active_subjects(SchemeId.OPTOUT_OMOP)
    assert active.column("subject_key").to_pylist() == [hmac_hex(key, "omop|cohort-a|42")]
    assert service.active_subjects(SchemeId.OPTOUT_NIR).num_rows == 0


def test_omop_person_ids_are_integers_written_one_way(hub: Hub) -> None:
    """'007' and ' 7' name the person ingestion reads as 7; a name that is no integer is
    refused rather than kept as an objection no ingest would ever match."""
    service = register(hub)
    assert service.add_omop(OPERATOR, " cohort-a ", "007").changed
    assert not service.add_omop(OPERATOR, "cohort-a", " 7").changed
    key, _ = hub.keys.data_key("pseudo/optout")
    active = service.active_subjects(SchemeId.OPTOUT_OMOP)
    assert active.column("subject_key").to_pylist() == [hmac_hex(key, "omop|cohort-a|7")]
    for bad in ("MRN-7", "7.0", "1_000", str(2**63)):
        with pytest.raises(UsageError, match="not an OMOP person_id"):
            service.add_omop(OPERATOR, "cohort-a", bad)
    service.remove_omop(OPERATOR, "cohort-a", "+7")
    assert service.count_active() == 0


def test_an_omop_register_is_imported_by_its_header(hub: Hub, tmp_path: Path) -> None:
    service = register(hub)
    file = tmp_path / "omop-optout.csv"
    file.write_text(
        "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION\n"
        "cohort-a;42;2024-01-02\ncohort-a;042;2023-05-06\ncohort-b;42;2024-03-04\n"
    )
    result = service.import_file(OPERATOR, file)
    assert (result.lines, result.added, result.duplicates_in_file) == (3, 2, 1)
    assert result.scheme == SchemeId.OPTOUT_OMOP.value
    key, _ = hub.keys.data_key("pseudo/optout")
    active = service.active_subjects(SchemeId.OPTOUT_OMOP)
    assert sorted(active.column("subject_key").to_pylist()) == sorted(
        hmac_hex(key, f"omop|{name}|42") for name in ("cohort-a", "cohort-b")
    )
    assert service.active_subjects(SchemeId.OPTOUT_NIR).num_rows == 0
    earliest = {e.objected_on for e in service.entries(OPERATOR)}
    assert earliest == {dt.date(2023, 5, 6), dt.date(2024, 3, 4)}
    # the same person added by hand afterwards is already there
    assert not service.add_omop(OPERATOR, "cohort-a", "42").changed

    file.write_text(
        "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION\n"
        ";1;2024-01-02\ncohort-a;MRN-9;2024-01-02\ncohort-a;9\ncohort-a;9;2024-13-01\n"
    )
    with pytest.raises(DataValidationError) as caught:
        service.import_file(OPERATOR, file)
    assert (
        "line 2: missing_source_name, line 3: bad_person_id, line 4: field_count, "
        "line 5: bad_date" in str(caught.value)
    )
    file.write_text("SOURCE;PERSON_ID;DATE_OPPOSITION\ncohort-a;1;2024-01-02\n")
    with pytest.raises(DataValidationError, match="header") as refused:
        service.import_file(OPERATOR, file)
    assert "SOURCE_NAME;PERSON_ID;DATE_OPPOSITION" in str(refused.value.hint)
