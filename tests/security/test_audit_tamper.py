"""An attacker with database access edits the audit trail; verification names what and where.

Each attack first removes the protection a database owner can remove (SQLite: DROP TRIGGER;
PostgreSQL: ALTER TABLE ... DISABLE TRIGGER ALL, as the owner), then edits rows directly, as
someone with a database client would. Entries are hashed with Havre's own code where the
attacker would recompute hashes (the algorithm is public).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.engine import Connection

from havre.audit import HubAction, PendingEntry, Target
from havre.audit.checkpoints import Checkpoint
from havre.audit.entry import GENESIS_HASH
from havre.audit.rows import EntryRow, canonical_bytes, read_batches
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.hub import Hub

ENTRIES = 30
TARGET = 12
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TRIGGERS = (
    "audit_entries_no_update",
    "audit_entries_no_delete",
    "audit_checkpoints_no_update",
    "audit_checkpoints_no_delete",
    "audit_archives_no_update",
    "audit_archives_no_delete",
)


# -- the log under attack ---------------------------------------------------------------------
def populate(hub: Hub, count: int = ENTRIES) -> None:
    """``count`` entries in all, one second apart, of a few kinds."""
    clock = FixedClock(START)
    hub.audit.clock = clock
    actor = Actor(user_id="usr_auditee", name="Auditee", roles=frozenset({"researcher"}))
    actions = [HubAction.OPEN, HubAction.KEY_CREATE, HubAction.SETTINGS_CHANGE]
    existing = entries(hub)
    with hub.db.transaction() as session:
        for index in range(len(existing), count):
            clock.advance(seconds=1)
            hub.audit.append_many(
                session,
                [
                    PendingEntry(
                        actor.with_justification(f"study {index}"),
                        actions[index % 3],
                        Target("key", f"k{index}"),
                        details={"count": index},
                    )
                ],
            )


def checkpoint(hub: Hub) -> Checkpoint:
    hub.audit_trail.log.clock.advance(seconds=1)  # type: ignore[attr-defined]
    return hub.audit_trail.checkpoint(Actor.operator("checkpoint"))


def entries(hub: Hub) -> list[EntryRow]:
    with hub.db.engine.connect() as connection:
        return [row for batch in read_batches(connection, 0, 1000) for row in batch]


def sealed(row: EntryRow, prev: str, **changes: Any) -> EntryRow:
    """The row as an attacker who recomputes its hash would write it."""
    row = row._replace(prev_hash=prev, **changes)
    digest = hashlib.sha256(bytes.fromhex(prev) + canonical_bytes(row)).hexdigest()
    return row._replace(entry_hash=digest)


def disable_protection(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for trigger in TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    else:
        for table in ("audit_entries", "audit_checkpoints", "audit_archives"):
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))


def write(connection: Connection, row: EntryRow, *, at: int | None = None) -> None:
    values = row._asdict()
    values["where_seq"] = row.seq if at is None else at
    if isinstance(values["ts"], str):  # SQLite text
        values["ts"] = values["ts"]
    sets = ", ".join(f"{name} = :{name}" for name in EntryRow._fields)
    connection.execute(text(f"UPDATE audit_entries SET {sets} WHERE seq = :where_seq"), values)


def insert(connection: Connection, row: EntryRow) -> None:
    names = ", ".join(EntryRow._fields)
    marks = ", ".join(f":{name}" for name in EntryRow._fields)
    connection.execute(text(f"INSERT INTO audit_entries ({names}) VALUES ({marks})"), row._asdict())


def shift(connection: Connection, first: int, by: int) -> None:
    """Renumber entries from ``first`` on (in two steps: seq is a primary key)."""
    connection.execute(
        text("UPDATE audit_entries SET seq = -(seq + :by) WHERE seq >= :first"),
        {"by": by, "first": first},
    )
    connection.execute(text("UPDATE audit_entries SET seq = -seq WHERE seq < 0"))


def set_head(connection: Connection, seq: int, entry_hash: str) -> None:
    connection.execute(
        text("UPDATE audit_head SET seq = :seq, entry_hash = :hash WHERE id = 1"),
        {"seq": seq, "hash": entry_hash},
    )


# -- attacks: each returns (damage, first bad seq) ------------------------------------------------
Attack = Callable[[Hub, Connection, list[EntryRow]], tuple[str, int]]


def modify_reason(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(
        text("UPDATE audit_entries SET reason = 'nothing happened' WHERE seq = :s"), {"s": TARGET}
    )
    return "modified", TARGET


def modify_details_and_rehash(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    row = rows[TARGET - 1]
    write(c, sealed(row, row.prev_hash, details='{"count":0}'))
    return "modified", TARGET


def modify_actor_keep_hash(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(
        text("UPDATE audit_entries SET actor_user_id = 'usr_other' WHERE seq = :s"), {"s": TARGET}
    )
    return "modified", TARGET


def modify_stored_hash(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(
        text("UPDATE audit_entries SET entry_hash = :h WHERE seq = :s"),
        {"h": "ab" * 32, "s": TARGET},
    )
    return "modified", TARGET


def delete_one(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": TARGET})
    return "deleted", TARGET


def delete_and_renumber(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(
        text("DELETE FROM audit_entries WHERE seq IN (:a, :b)"), {"a": TARGET, "b": TARGET + 1}
    )
    shift(c, TARGET + 2, -2)
    set_head(c, len(rows) - 2, rows[-1].entry_hash)
    return "deleted", TARGET


def delete_tail(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    c.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": len(rows) - 3})
    return "deleted", len(rows) - 2


def insert_forged(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    shift(c, TARGET, 1)
    before = rows[TARGET - 2]
    forged = sealed(rows[TARGET - 1], before.entry_hash, actor_user_id="usr_alibi", reason="forged")
    insert(c, forged)
    last = rows[-1]
    set_head(c, last.seq + 1, last.entry_hash)
    return "inserted", TARGET


def insert_garbage(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    shift(c, TARGET, 1)
    insert(c, rows[TARGET - 1]._replace(prev_hash="cd" * 32, entry_hash="ef" * 32))
    return "inserted", TARGET


def insert_beyond_head(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    last = rows[-1]
    insert(c, sealed(last._replace(seq=last.seq + 1), last.entry_hash))
    return "inserted", last.seq + 1


def swap_neighbours(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    first, second = rows[TARGET - 1], rows[TARGET]
    write(c, second._replace(seq=first.seq))
    write(c, first._replace(seq=second.seq))
    return "reordered", TARGET


def swap_distant(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    first, second = rows[TARGET - 1], rows[TARGET + 5]
    write(c, second._replace(seq=first.seq))
    write(c, first._replace(seq=second.seq))
    return "reordered", TARGET


def swap_timestamps(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    ts = {
        r.seq: r.ts
        for r in c.execute(
            text("SELECT seq, ts FROM audit_entries WHERE seq IN (:a, :b)"),
            {"a": TARGET, "b": TARGET + 1},
        )
    }
    for seq, other in ((TARGET, TARGET + 1), (TARGET + 1, TARGET)):
        c.execute(
            text("UPDATE audit_entries SET ts = :ts WHERE seq = :s"), {"ts": ts[other], "s": seq}
        )
    return "reordered", TARGET


def alter_head(hub: Hub, c: Connection, rows: list[EntryRow]) -> tuple[str, int]:
    set_head(c, len(rows), "00" * 32)
    return "modified", len(rows)


ENTRY_ATTACKS: dict[str, Attack] = {
    "modify_reason": modify_reason,
    "modify_details_and_rehash": modify_details_and_rehash,
    "modify_actor_keep_hash": modify_actor_keep_hash,
    "modify_stored_hash": modify_stored_hash,
    "delete_one": delete_one,
    "delete_and_renumber": delete_and_renumber,
    "delete_tail": delete_tail,
    "insert_forged": insert_forged,
    "insert_garbage": insert_garbage,
    "insert_beyond_head": insert_beyond_head,
    "swap_neighbours": swap_neighbours,
    "swap_distant": swap_distant,
    "swap_timestamps": swap_timestamps,
    "alter_head": alter_head,
}


def attack(hub: Hub, how: Attack) -> tuple[str, int]:
    rows = entries(hub)
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        return how(hub, connection, rows)


def assert_caught(hub: Hub, damage: str, seq: int) -> dict[str, Any]:
    report = hub.audit_trail.verify().to_dict()
    assert report["ok"] is False, report
    assert (report["damage"], report["first_bad_seq"]) == (damage, seq), report["message"]
    return report


def havre(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(hub.home)
    env["HAVRE_DATABASE_URL"] = hub.settings.resolved_database_url
    return subprocess.run(
        [sys.executable, "-m", "havre.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


# -- tests ------------------------------------------------------------------------------------
def test_untouched_log_verifies(hub: Hub) -> None:
    populate(hub)
    checkpoint(hub)
    report = hub.audit_trail.verify()
    assert report.ok, report.message
    assert report.entries == ENTRIES + 1
    assert report.checkpoints == 1


@pytest.mark.parametrize("name", list(ENTRY_ATTACKS))
def test_each_attack_is_named(hub: Hub, name: str) -> None:
    populate(hub)
    damage, seq = attack(hub, ENTRY_ATTACKS[name])
    assert_caught(hub, damage, seq)


@pytest.mark.parametrize(
    "name", ["modify_reason", "delete_one", "insert_forged", "swap_neighbours", "alter_head"]
)
def test_cli_verify_exits_non_zero_naming_the_entry(sqlite_hub: Hub, name: str) -> None:
    populate(sqlite_hub)
    damage, seq = attack(sqlite_hub, ENTRY_ATTACKS[name])
    result = havre(sqlite_hub, "audit", "verify", "--json")
    assert result.returncode == 7, result.stderr
    report = json.loads(result.stdout)
    assert (report["damage"], report["first_bad_seq"]) == (damage, seq)


def test_cli_verify_speaks_to_people(sqlite_hub: Hub) -> None:
    populate(sqlite_hub)
    intact = havre(sqlite_hub, "audit", "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "Intact" in intact.stdout
    damage, seq = attack(sqlite_hub, delete_and_renumber)
    human = havre(sqlite_hub, "audit", "verify")
    assert human.returncode == 7
    assert f"first bad entry {seq} ({damage})" in " ".join(human.stderr.split())


def test_truncation_below_a_checkpoint_is_caught_even_with_the_head_fixed(hub: Hub) -> None:
    populate(hub)
    made = checkpoint(hub)
    rows = entries(hub)
    keep = made.tree_size - 4
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        connection.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": keep})
        set_head(connection, keep, rows[keep - 1].entry_hash)
    report = assert_caught(hub, "deleted", keep + 1)
    assert report["checkpoint"] == made.number


def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(hub: Hub) -> None:
    populate(hub)
    made = checkpoint(hub)
    populate(hub, made.tree_size + 6)
    rows = entries(hub)
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        prev = rows[TARGET - 2].entry_hash
        for row in rows[TARGET - 1 :]:
            changes = {"reason": "rewritten"} if row.seq == TARGET else {}
            forged = sealed(row, prev, **changes)
            write(connection, forged)
            prev = forged.entry_hash
        set_head(connection, rows[-1].seq, prev)
    report = hub.audit_trail.verify().to_dict()
    assert not report["ok"]
    assert report["damage"] == "modified"
    assert report["first_bad_seq"] <= TARGET
    assert report["checkpoint"] == made.number
    assert f"checkpoint {made.number}" in report["message"]


def test_forged_checkpoint_signature(hub: Hub) -> None:
    populate(hub)
    made = checkpoint(hub)
    forged = replace(made, signature="")
    attacker_key = Ed25519PrivateKey.generate()
    signature = attacker_key.sign(forged.message()).hex()
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        connection.execute(
            text("UPDATE audit_checkpoints SET signature = :sig WHERE number = :n"),
            {"sig": signature, "n": made.number},
        )
    report = assert_caught(hub, "bad_signature", made.tree_size)
    assert report["checkpoint"] == made.number


def test_checkpoint_root_replaced(hub: Hub) -> None:
    populate(hub)
    made = checkpoint(hub)
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        connection.execute(
            text("UPDATE audit_checkpoints SET root_hash = :r WHERE number = :n"),
            {"r": "12" * 32, "n": made.number},
        )
    assert_caught(hub, "bad_signature", made.tree_size)


def test_deleted_checkpoint_is_missed_by_its_entry(hub: Hub) -> None:
    populate(hub)
    made = checkpoint(hub)
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        connection.execute(text("DELETE FROM audit_checkpoints"))
    report = assert_caught(hub, "deleted", made.tree_size)
    assert report["checkpoint"] == made.number


def test_outsider_key_file_detects_a_swapped_key_store(hub: Hub, tmp_path: Any) -> None:
    """An auditor who kept the public key needs nothing from the hub to trust it."""
    populate(hub)
    checkpoint(hub)
    key_file = tmp_path / "havre-audit-key.json"
    key_file.write_text(json.dumps(hub.audit_trail.public_keys()), encoding="utf-8")
    assert hub.audit_trail.verify(public_key_file=key_file).ok
    hub.keys.rotate("audit/signing")
    hub.keys.destroy("audit/signing", 1)  # an insider replaces the key and re-signs
    made = checkpoint(hub)
    report = hub.audit_trail.verify(public_key_file=key_file)
    assert not report.ok and report.damage == "bad_signature"
    assert report.checkpoint == made.number


def test_genesis_entry_modified(hub: Hub) -> None:
    populate(hub)
    with hub.db.engine.begin() as connection:
        disable_protection(connection)
        connection.execute(
            text("UPDATE audit_entries SET prev_hash = :h WHERE seq = 1"), {"h": "11" * 32}
        )
    assert_caught(hub, "modified", 1)
    assert GENESIS_HASH == "0" * 64
