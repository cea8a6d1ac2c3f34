"""Retention: signed archive files, removal as an audited step, archived ranges still verify."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from havre.audit import AuditAction, HubAction, Target
from havre.audit.archive import verify_archive_file
from havre.audit.models import AuditEntryRow
from havre.audit.proofs import verify_document
from havre.audit.query import AuditQuery
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import NotFoundError, PermissionDenied, StateError, UsageError
from havre.hub import Hub

OPERATOR = Actor.operator("retention")
OLD_ENTRIES = 20


def aged_hub(hub: Hub) -> tuple[FixedClock, dt.datetime]:
    """Entries 2..21 one day apart, then 5 entries 800 days later; returns the cut-off
    that archives entries 1..12."""
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    clock = FixedClock(start)
    hub.audit.clock = clock
    signer, hub.audit.checkpointer = hub.audit.checkpointer, None  # daily entries: no time rule
    with hub.db.transaction() as session:
        for index in range(OLD_ENTRIES):
            hub.audit.append(session, OPERATOR, HubAction.OPEN, Target("dataset", f"d{index}"))
            clock.advance(days=1)
    clock.advance(days=800)
    with hub.db.transaction() as session:
        for index in range(5):
            hub.audit.append(session, OPERATOR, HubAction.OPEN, Target("dataset", f"n{index}"))
    hub.audit.checkpointer = signer
    return clock, start + dt.timedelta(days=10, hours=12)


def count(hub: Hub) -> int:
    with hub.db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(AuditEntryRow)).scalar_one())


def test_archive_keeps_entries_by_default(hub: Hub, tmp_path: Path) -> None:
    _, cut = aged_hub(hub)
    before = count(hub)
    record = hub.audit_trail.archive(OPERATOR, cut, tmp_path)
    assert (record.first_seq, record.last_seq, record.removed) == (1, 12, False)
    path = tmp_path / record.file_name
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 13 and "archive" in json.loads(lines[-1])
    assert count(hub) > before  # nothing removed; the archive entry (and a checkpoint) added
    keys = hub.audit_trail.trusted_keys()
    assert verify_archive_file(path, keys).ok
    report = hub.audit_trail.verify()
    assert report.ok and report.archives == 1, report.message
    [entry] = hub.audit_trail.search(OPERATOR, AuditQuery(action="audit.archive"))
    assert entry.details["entries"] == 12 and entry.details["removed"] is False
    with pytest.raises(StateError, match="No entry older"):
        hub.audit_trail.archive(OPERATOR, cut, tmp_path)


def test_removed_range_still_verifies_and_proves(hub: Hub, tmp_path: Path) -> None:
    _, cut = aged_hub(hub)
    hub.audit_trail.checkpoint(OPERATOR)
    record = hub.audit_trail.archive(OPERATOR, cut, tmp_path, remove=True)
    archive_file = tmp_path / record.file_name
    with hub.db.transaction() as session:
        first = session.execute(select(func.min(AuditEntryRow.seq))).scalar_one()
    assert first == 13

    report = hub.audit_trail.verify()
    assert report.ok, report.message
    assert report.first_seq == 13
    assert any("archived" in note for note in report.notes)
    full = hub.audit_trail.verify(archive_files=[archive_file])
    assert full.ok and full.first_seq == 1 and full.entries == report.entries + 12

    made = hub.audit_trail.checkpoint(OPERATOR)
    keys = hub.audit_trail.trusted_keys()
    hot = hub.audit_trail.inclusion_proof(OPERATOR, 15)
    assert verify_document(hot, keys).ok
    with pytest.raises(NotFoundError, match="archive"):
        hub.audit_trail.inclusion_proof(OPERATOR, 3)
    cold = hub.audit_trail.inclusion_proof(OPERATOR, 3, archive_files=[archive_file])
    assert verify_document(cold, keys).ok
    consistency = hub.audit_trail.consistency_proof(14, made.tree_size)
    assert verify_document(consistency, keys).ok

    [entry] = hub.audit_trail.search(OPERATOR, AuditQuery(action=AuditAction.ARCHIVE))
    assert entry.details["removed"] is True and entry.details["last_seq"] == 12
    with pytest.raises(DBAPIError), hub.db.transaction() as session:
        session.execute(text("DELETE FROM audit_entries WHERE seq = 13"))


def test_archive_rules(hub: Hub, tmp_path: Path) -> None:
    clock, cut = aged_hub(hub)
    with pytest.raises(UsageError, match="366 days"):
        hub.audit_trail.archive(OPERATOR, clock.now() - dt.timedelta(days=30), tmp_path)
    researcher = Actor("usr_r", "R", frozenset({"researcher", "auditor"}))
    with pytest.raises(PermissionDenied):
        hub.audit_trail.archive(researcher, cut, tmp_path)
    hub.audit_trail.archive(OPERATOR, cut, tmp_path)
    with pytest.raises(StateError, match="kept"):
        hub.audit_trail.archive(OPERATOR, cut + dt.timedelta(days=3), tmp_path, remove=True)
    assert list(tmp_path.glob("*.part")) == []
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # the refused one left no file


def test_tampered_archive_file_and_record(hub: Hub, tmp_path: Path) -> None:
    _, cut = aged_hub(hub)
    record = hub.audit_trail.archive(OPERATOR, cut, tmp_path, remove=True)
    path = tmp_path / record.file_name
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[4])
    edited["target"]["id"] = "elsewhere"
    lines[4] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    keys = hub.audit_trail.trusted_keys()
    assert not verify_archive_file(path, keys).ok
    report = hub.audit_trail.verify(archive_files=[path])
    assert (report.damage, report.first_bad_seq) == ("modified", 5)

    with hub.db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_archives_no_delete"))
        else:
            connection.execute(text("ALTER TABLE audit_archives DISABLE TRIGGER ALL"))
        connection.execute(text("DELETE FROM audit_archives"))
    report = hub.audit_trail.verify()
    assert (report.damage, report.first_bad_seq) == ("deleted", 1)
