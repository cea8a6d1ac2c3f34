from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from havre.audit import AuditRecord, HubAction, Outcome, Target, audited
from havre.audit.entry import GENESIS_HASH
from havre.audit.log import row_to_record
from havre.audit.models import AuditEntryRow
from havre.core.actor import Actor
from havre.core.errors import PermissionDenied, UsageError
from havre.hub import Hub


def _entries(hub: Hub) -> list[AuditRecord]:
    with hub.db.transaction() as session:
        rows = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq)).scalars()
        return [row_to_record(row) for row in rows]


def test_chain_links_every_entry(hub: Hub) -> None:
    actor = Actor.operator("test")
    for _ in range(3):
        with audited(hub.db, hub.audit, actor, HubAction.KEY_CREATE, Target("key", "k")):
            pass
    entries = _entries(hub)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    for entry in entries:
        assert entry.compute_hash() == entry.entry_hash


def test_failed_action_is_rolled_back_and_audited_as_denied(hub: Hub) -> None:
    from havre.db.models import HubInfo

    actor = Actor.operator("test")
    with pytest.raises(PermissionDenied):
        with audited(hub.db, hub.audit, actor, HubAction.SETTINGS_CHANGE, Target.hub()) as scope:
            scope.session.add(HubInfo(key="should_vanish", value="x"))
            scope.session.flush()
            raise PermissionDenied("not allowed")
    with hub.db.transaction() as session:
        assert session.get(HubInfo, "should_vanish") is None
    last = _entries(hub)[-1]
    assert last.outcome is Outcome.DENIED
    assert last.reason == "not allowed"


def test_justification_required(hub: Hub) -> None:
    with (
        pytest.raises(UsageError, match="justification"),
        audited(
            hub.db,
            hub.audit,
            Actor.operator(),
            HubAction.OPEN,
            Target.hub(),
            justification_required=True,
        ),
    ):
        pass
    assert _entries(hub)[-1].outcome is Outcome.DENIED


def test_patient_data_cannot_enter_details(hub: Hub) -> None:
    actor = Actor.operator("test")
    for bad in ({"nir": "1850775123456"}, {"text": "word " * 40}, {"mail": "jean@example.fr"}):
        with pytest.raises(UsageError):
            with audited(hub.db, hub.audit, actor, HubAction.OPEN, Target.hub()) as scope:
                scope.details = bad
    for entry in _entries(hub):
        assert "1850775123456" not in str(entry.details)


def test_entries_cannot_be_updated_or_deleted(hub: Hub) -> None:
    for statement in ("UPDATE audit_entries SET reason = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError), hub.db.transaction() as session:
            session.execute(text(statement))
    assert len(_entries(hub)) == 1


def test_append_many_is_one_atomic_batch(hub: Hub) -> None:
    from havre.audit import PendingEntry

    actor = Actor.operator("batch")
    batch = [PendingEntry(actor, HubAction.OPEN, Target("dataset", f"d{i}")) for i in range(50)]
    with hub.db.transaction() as session:
        records = hub.audit.append_many(session, batch)
    assert [r.seq for r in records] == list(range(2, 52))
    stored = _entries(hub)
    assert [e.entry_hash for e in stored[1:]] == [r.entry_hash for r in records]
    with pytest.raises(UsageError), hub.db.transaction() as session:
        hub.audit.append_many(
            session,
            [
                *batch[:3],
                PendingEntry(actor, HubAction.OPEN, Target.hub(), details={"x": "a@b.fr"}),
            ],
        )
    assert len(_entries(hub)) == 51  # nothing of the refused batch
    with pytest.raises(ValueError, match="unregistered"), hub.db.transaction() as session:
        hub.audit.append(session, actor, "made.up", Target.hub())


def test_checkpoints_and_archive_records_are_append_only(hub: Hub) -> None:
    hub.audit_trail.checkpoint(Actor.operator("seal"))
    for statement in (
        "UPDATE audit_checkpoints SET root_hash = 'x'",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_entries WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError), hub.db.transaction() as session:
            session.execute(text(statement))
    assert hub.audit_trail.verify().ok
