"""Signed checkpoints: the rule that makes them, on-demand ones, their keys."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from havre.audit import AuditAction, HubAction, Target
from havre.audit.checkpoints import Checkpoint, CheckpointPolicy, checkpoint_details
from havre.audit.hygiene import check_details
from havre.audit.log import row_to_record
from havre.audit.merkle import MerkleTree, leaf_hash
from havre.audit.models import AuditEntryRow
from havre.audit.signing import TrustedKeys
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.core.errors import PermissionDenied
from havre.hub import Hub

START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)


def _append(hub: Hub, count: int) -> None:
    actor = Actor.operator("test")
    for _ in range(count):
        with hub.db.transaction() as session:
            hub.audit.append(session, actor, HubAction.OPEN, Target.hub())


def _actions(hub: Hub) -> list[str]:
    with hub.db.transaction() as session:
        rows = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq)).scalars()
        return [row_to_record(r).action for r in rows]


@pytest.fixture
def busy_hub(make_settings: Callable[..., Settings], database_url: str) -> Hub:
    hub, _ = Hub.init(make_settings(database_url=database_url, audit_checkpoint_every=5))
    return hub


def test_every_n_entries_a_signed_checkpoint_follows(busy_hub: Hub) -> None:
    _append(busy_hub, 10)  # entries 2..11, with checkpoint entries in between
    made = busy_hub.audit_trail.checkpoints()
    assert [c.tree_size for c in made] == [5, 10]
    actions = _actions(busy_hub)
    assert actions[5] == actions[10] == AuditAction.CHECKPOINT
    keys = busy_hub.audit_trail.trusted_keys()
    assert all(c.verify_signature(keys) for c in made)
    leaves = []
    with busy_hub.db.transaction() as session:
        for row in session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq)).scalars():
            leaves.append(leaf_hash(bytes.fromhex(row.entry_hash)))
    tree = MerkleTree(leaves)
    assert [tree.root(c.tree_size).hex() for c in made] == [c.root_hash for c in made]
    assert busy_hub.audit_trail.verify().ok
    busy_hub.close()


def _sizes(hub: Hub) -> list[int]:
    return [c.tree_size for c in hub.audit_trail.checkpoints()]


def test_a_checkpoint_rolled_back_leaves_the_rule_as_it_was(busy_hub: Hub) -> None:
    _append(busy_hub, 4)  # a checkpoint of 5 entries; entry 6 records it
    actor = Actor.operator("test")
    with pytest.raises(RuntimeError), busy_hub.db.transaction() as session:
        for _ in range(6):  # entries 7..10, a checkpoint of 10, entries 11, 12
            busy_hub.audit.append(session, actor, HubAction.OPEN, Target.hub())
        raise RuntimeError("the caller's work failed")
    assert _sizes(busy_hub) == [5]
    _append(busy_hub, 4)  # entries 7..10 again: the checkpoint of 10 is due again
    assert _sizes(busy_hub) == [5, 10]
    assert busy_hub.audit_trail.verify().ok
    busy_hub.close()


def test_a_checkpoint_made_by_another_process_is_not_made_twice(busy_hub: Hub) -> None:
    _append(busy_hub, 4)  # checkpoint of 5
    other = Hub.open(busy_hub.settings)
    _append(other, 4)  # entries 7..10: the other process signs the checkpoint of 10
    _append(busy_hub, 1)  # entry 12: 7 since the last this process saw, 2 since the last
    assert _sizes(busy_hub) == [5, 10]
    _append(busy_hub, 3)  # entry 15: 5 since the last
    assert _sizes(busy_hub) == [5, 10, 15]
    assert busy_hub.audit_trail.verify().ok
    other.close()
    busy_hub.close()


def test_after_some_minutes_the_next_append_makes_one(sqlite_hub: Hub) -> None:
    clock = FixedClock(dt.datetime.now(dt.UTC))  # the first entry (hub.init) is from now
    sqlite_hub.audit.clock = clock
    _append(sqlite_hub, 2)
    assert sqlite_hub.audit_trail.checkpoints() == []
    clock.advance(minutes=61)
    _append(sqlite_hub, 1)
    [made] = sqlite_hub.audit_trail.checkpoints()
    assert made.tree_size == 4
    assert made.created_at == clock.now()


def test_policy_rule() -> None:
    policy = CheckpointPolicy(every_entries=100, every_minutes=30)
    assert not policy.due(150, 150, START, START + dt.timedelta(days=1))  # nothing new
    assert policy.due(250, 150, START, START)
    assert not policy.due(200, 150, START, START + dt.timedelta(minutes=29))
    assert policy.due(151, 150, START, START + dt.timedelta(minutes=30))


def test_on_demand_checkpoint_is_audited(hub: Hub) -> None:
    made = hub.audit_trail.checkpoint(Actor.operator("weekly seal"))
    assert made.tree_size == 1
    with hub.db.transaction() as session:
        last = session.execute(
            select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)
        ).scalar_one()
    record = row_to_record(last)
    assert record.action == AuditAction.CHECKPOINT
    assert record.details == {
        "checkpoint": 1,
        "tree_size": 1,
        "root_sha256": made.root_hash,
        "automatic": False,
    }
    assert record.target_id == "1"


def test_checkpoint_refused_to_a_researcher(sqlite_hub: Hub) -> None:
    researcher = Actor("usr_r", "R", frozenset({"researcher"}))
    with pytest.raises(PermissionDenied):
        sqlite_hub.audit_trail.checkpoint(researcher)
    assert sqlite_hub.audit_trail.checkpoints() == []
    assert _actions(sqlite_hub)[-1] == AuditAction.CHECKPOINT  # the refusal is on record


def test_a_damaged_stored_frontier_only_slows_the_next_checkpoint(sqlite_hub: Hub) -> None:
    actor = Actor.operator("test")
    sqlite_hub.audit_trail.checkpoint(actor)
    with sqlite_hub.db.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_checkpoints_no_update"))
        connection.execute(text("UPDATE audit_checkpoints SET frontier = '[\"00\"]'"))
    _append(sqlite_hub, 3)
    second = sqlite_hub.audit_trail.checkpoint(actor)
    assert second.number == 2
    assert sqlite_hub.audit_trail.verify().ok


def test_public_keys_export_and_reload(sqlite_hub: Hub, tmp_path: Path) -> None:
    made = sqlite_hub.audit_trail.checkpoint(Actor.operator("x"))
    document = sqlite_hub.audit_trail.public_keys()
    assert [k["key_id"] for k in document["keys"]] == ["audit/signing@1"]
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps(document), encoding="utf-8")
    as_pem = tmp_path / "key.pem"
    as_pem.write_text(document["keys"][0]["pem"], encoding="utf-8")
    for path in (as_json, as_pem):
        assert made.verify_signature(TrustedKeys.from_file(path))
    sqlite_hub.keys.rotate("audit/signing")
    rotated = sqlite_hub.audit_trail.checkpoint(Actor.operator("x"))
    assert rotated.key_id == "audit/signing@2"
    assert sqlite_hub.audit_trail.verify().ok  # both versions still verify
    assert not rotated.verify_signature(TrustedKeys.from_file(as_json))


def test_a_checkpoint_entry_of_either_age_names_its_root(sqlite_hub: Hub) -> None:
    """Entries written before the root was named ``root_sha256`` say ``root_hash``: both are
    checked against the checkpoint they name."""
    made = sqlite_hub.audit_trail.checkpoint(Actor.operator("weekly seal"))

    def record(root: str) -> None:
        with sqlite_hub.db.transaction() as session:
            sqlite_hub.audit.append(
                session,
                Actor.operator("test"),
                AuditAction.CHECKPOINT,
                Target("audit_checkpoint", str(made.number)),
                details={
                    "checkpoint": made.number,
                    "tree_size": made.tree_size,
                    "automatic": False,
                    "root_hash": root,
                },
            )

    record(made.root_hash)
    assert sqlite_hub.audit_trail.verify().ok
    record("0" * 64)
    assert not sqlite_hub.audit_trail.verify().ok


def test_a_root_with_a_nir_shaped_run_is_written() -> None:
    # a root seen in a test run would have failed the append under its former key
    seen = "467afeadc7613485509374240786256721724dac118bdd31427fc29f12aa9090"
    checkpoint = Checkpoint(1, 5, seen, seen, START, "hub", "audit/signing", 1, "")
    check_details(checkpoint_details(checkpoint, automatic=True))
