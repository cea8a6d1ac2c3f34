"""Verification over the stored canonical text: the text is what the hash covers, it must
still equal the columns, and any anomaly is named as the reference scan names it.

Attacks remove the triggers first, as a database owner can (see tests/security).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from havre.audit import HubAction, PendingEntry, Target
from havre.audit.log import row_to_record
from havre.audit.models import AuditEntryRow
from havre.audit.rows import canonical_bytes, from_record
from havre.audit.verify import Verifier, VerifyReport
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.hub import Hub

START = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)
ENTRIES = 60
TRIGGERS = ("audit_entries_no_update", "audit_entries_no_delete")


@pytest.fixture
def busy_hub(make_settings: Callable[..., Settings], database_url: str) -> Hub:
    """A hub that signs a checkpoint every 7 entries, with ``ENTRIES`` entries in all."""
    hub, _ = Hub.init(make_settings(database_url=database_url, audit_checkpoint_every=7))
    clock = FixedClock(START)
    hub.audit.clock = clock
    actor = Actor(
        user_id="usr_bulk",
        name='Zoë "bulk" \\ tester',
        roles=frozenset({"researcher"}),
        justification="étude n°7\tligne\n",
    )
    kinds = [HubAction.OPEN, HubAction.KEY_CREATE, HubAction.SETTINGS_CHANGE]
    index = 0
    while _count(hub) < ENTRIES:
        clock.advance(seconds=1, microseconds=0 if index % 4 else 250_000)
        with hub.db.transaction() as session:
            hub.audit.append_many(
                session,
                [
                    PendingEntry(
                        actor,
                        kinds[index % 3],
                        Target("key", f"k{index}"),
                        details={"count": index, "ratio": index / 3, "names": ["a", "é"]},
                    )
                ],
            )
        index += 1
    return hub


def _count(hub: Hub) -> int:
    return hub.status().audit_entries


def _verify(hub: Hub, batch: int = 5) -> VerifyReport:
    """Small pages, so that checkpoints and damage fall inside and across pages."""
    return Verifier(hub.db, hub.audit_trail.trusted_keys(), batch=batch).run()


def _stored(hub: Hub) -> list[tuple[int, str | None, str, str]]:
    with hub.db.engine.connect() as connection:
        rows = connection.execute(
            select(
                AuditEntryRow.seq,
                AuditEntryRow.canonical,
                AuditEntryRow.prev_hash,
                AuditEntryRow.entry_hash,
            ).order_by(AuditEntryRow.seq)
        )
        return [(int(r[0]), r[1], str(r[2]), str(r[3])) for r in rows]


def _attack(hub: Hub, how: Callable[[Connection], object]) -> None:
    with hub.db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            for trigger in TRIGGERS:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        else:
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER ALL"))
        how(connection)


def _update(connection: Connection, seq: int, **values: Any) -> None:
    sets = ", ".join(f"{name} = :{name}" for name in values)
    connection.execute(
        text(f"UPDATE audit_entries SET {sets} WHERE seq = :where_seq"),
        {**values, "where_seq": seq},
    )


def _caught(hub: Hub, damage: str, seq: int) -> VerifyReport:
    for batch in (5, 1000):
        report = _verify(hub, batch)
        assert not report.ok, report.message
        assert (report.damage, report.first_bad_seq) == (damage, seq), report.message
    return report


# -- what append stores ------------------------------------------------------------------------
def test_the_stored_text_is_what_the_hash_covers(busy_hub: Hub) -> None:
    with busy_hub.db.transaction() as session:
        rows = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq)).scalars().all()
        for row in rows:
            record = row_to_record(row)
            assert row.canonical == record.canonical().decode("utf-8")
            assert canonical_bytes(from_record(record)) == record.canonical()
            digest = hashlib.sha256(bytes.fromhex(row.prev_hash) + record.canonical()).hexdigest()
            assert digest == row.entry_hash


def test_intact_log_verifies_across_pages_and_checkpoints(busy_hub: Hub) -> None:
    checkpoints = busy_hub.audit_trail.checkpoints()
    assert len(checkpoints) >= 7
    for batch in (1, 5, 7, 1000):
        report = _verify(busy_hub, batch)
        assert report.ok, report.message
        assert report.entries == _count(busy_hub)
        assert report.checkpoints == len(checkpoints)


# -- attacks on the new column and on the columns beside it -------------------------------------
def test_column_edited_with_the_stored_text_left_intact(busy_hub: Hub) -> None:
    """The stored text still hashes right: only the comparison with the columns sees it."""
    _attack(busy_hub, lambda c: _update(c, 23, actor_user_id="usr_alibi"))
    _caught(busy_hub, "modified", 23)


def test_timestamps_swapped_in_the_columns_only(busy_hub: Hub) -> None:
    def swap(connection: Connection) -> None:
        rows = connection.execute(text("SELECT seq, ts FROM audit_entries WHERE seq IN (30, 31)"))
        found: dict[int, Any] = {int(row[0]): row[1] for row in rows}
        _update(connection, 30, ts=found[31])
        _update(connection, 31, ts=found[30])

    _attack(busy_hub, swap)
    _caught(busy_hub, "reordered", 30)


def test_stored_text_edited_with_the_columns_left_intact(busy_hub: Hub) -> None:
    stored = dict((seq, canonical) for seq, canonical, _, _ in _stored(busy_hub))
    forged = str(stored[17]).replace('"count":', '"count":1')
    _attack(busy_hub, lambda c: _update(c, 17, canonical=forged))
    report = _caught(busy_hub, "modified", 17)
    assert "canonical text stored" in report.message


def test_stored_text_rewritten_and_the_chain_rehashed(busy_hub: Hub) -> None:
    """An attacker who forges the stored texts and every hash after, but not the columns."""
    rows = _stored(busy_hub)
    last_checkpoint = max(c.tree_size for c in busy_hub.audit_trail.checkpoints())
    target = last_checkpoint + 1

    def rewrite(connection: Connection) -> None:
        prev = rows[target - 2][3]
        for seq, canonical, _, _ in rows[target - 1 :]:
            assert canonical is not None
            if seq == target:
                canonical = canonical.replace('"reason":null', '"reason":"forged"')
            digest = hashlib.sha256(bytes.fromhex(prev) + canonical.encode()).hexdigest()
            _update(connection, seq, canonical=canonical, prev_hash=prev, entry_hash=digest)
            prev = digest
        connection.execute(text("UPDATE audit_head SET entry_hash = :h"), {"h": prev})

    _attack(busy_hub, rewrite)
    _caught(busy_hub, "modified", target)


def test_columns_and_stored_text_edited_together(busy_hub: Hub) -> None:
    rows = _stored(busy_hub)
    seq, canonical, _, _ = rows[40]
    assert canonical is not None
    edited = canonical.replace('"outcome":"ok"', '"outcome":"denied"')

    def both(connection: Connection) -> None:
        _update(connection, seq, outcome="denied", canonical=edited)

    _attack(busy_hub, both)
    _caught(busy_hub, "modified", seq)


def test_stored_text_emptied_falls_back_to_the_columns(busy_hub: Hub) -> None:
    """NULL means "not stored" (entries older than the column): the columns are checked."""
    _attack(busy_hub, lambda c: c.execute(text("UPDATE audit_entries SET canonical = NULL")))
    assert _verify(busy_hub).ok
    _attack(busy_hub, lambda c: _update(c, 12, reason="nothing happened"))
    _caught(busy_hub, "modified", 12)


def test_legacy_and_stored_entries_mixed(busy_hub: Hub) -> None:
    _attack(
        busy_hub,
        lambda c: c.execute(text("UPDATE audit_entries SET canonical = NULL WHERE seq < 20")),
    )
    assert _verify(busy_hub).ok
    _attack(busy_hub, lambda c: _update(c, 33, target_id="k-other"))
    _caught(busy_hub, "modified", 33)


def _rehash_from(
    connection: Connection,
    rows: list[tuple[int, str | None, str, str]],
    first: int,
    texts: dict[int, str],
) -> None:
    """Store ``texts`` and recompute every hash from entry ``first`` on, as an attacker who can
    write the table can (entries after the last checkpoint)."""
    prev = rows[first - 2][3]
    for seq, canonical, _, _ in rows[first - 1 :]:
        stored = texts.get(seq, canonical)
        assert stored is not None
        digest = hashlib.sha256(bytes.fromhex(prev) + stored.encode()).hexdigest()
        _update(connection, seq, canonical=stored, prev_hash=prev, entry_hash=digest)
        prev = digest
    connection.execute(text("UPDATE audit_head SET entry_hash = :h"), {"h": prev})


def test_stored_text_with_a_raw_control_character_like_its_columns(busy_hub: Hub) -> None:
    """A stored text holding a raw tab, rehashed, beside a column holding the same tab: the
    comparison with the columns' cheap text (which leaves control characters raw) passes, the
    reference (which escapes them) does not; the page reader must refuse the raw tab."""
    rows = _stored(busy_hub)
    after = max(c.tree_size for c in busy_hub.audit_trail.checkpoints())
    escaped = '\\tligne\\n"'
    target, canonical = next((q, t) for q, t, _, _ in rows[after:] if t and escaped in t)
    forged = canonical.replace(escaped, '\tligne"')

    def rewrite(connection: Connection) -> None:
        _update(connection, target, justification="étude n°7\tligne")
        _rehash_from(connection, rows, target, {target: forged})

    _attack(busy_hub, rewrite)
    _caught(busy_hub, "modified", target)


def test_hash_columns_shifted_by_one_character(busy_hub: Hub) -> None:
    """Entry hashes of 63 and 65 characters whose concatenation is the honest one, with the
    prev links following them: the joined page looks intact, the columns are not."""
    rows = _stored(busy_hub)
    seq = max(c.tree_size for c in busy_hub.audit_trail.checkpoints()) + 1
    assert seq + 2 <= len(rows)
    first, second = rows[seq - 1][3], rows[seq][3]
    short, long = first[:-1], first[-1] + second

    def shift(connection: Connection) -> None:
        if connection.dialect.name != "sqlite":  # the owner may widen the column first
            connection.execute(
                text("ALTER TABLE audit_entries ALTER COLUMN entry_hash TYPE varchar(65)")
            )
            connection.execute(
                text("ALTER TABLE audit_entries ALTER COLUMN prev_hash TYPE varchar(65)")
            )
        _update(connection, seq, entry_hash=short)
        _update(connection, seq + 1, prev_hash=short, entry_hash=long)
        _update(connection, seq + 2, prev_hash=long)

    _attack(busy_hub, shift)
    _caught(busy_hub, "modified", seq)


# -- truncation and gaps -----------------------------------------------------------------------
def test_truncated_log_with_the_head_left_behind(busy_hub: Hub) -> None:
    _attack(busy_hub, lambda c: c.execute(text("DELETE FROM audit_entries WHERE seq > 50")))
    _caught(busy_hub, "deleted", 51)


def test_truncated_log_with_the_head_moved_back(busy_hub: Hub) -> None:
    rows = _stored(busy_hub)
    widest = max(c.tree_size for c in busy_hub.audit_trail.checkpoints())
    keep = widest - 3

    def cut(connection: Connection) -> None:
        connection.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": keep})
        connection.execute(
            text("UPDATE audit_head SET seq = :s, entry_hash = :h"),
            {"s": keep, "h": rows[keep - 1][3]},
        )

    _attack(busy_hub, cut)
    report = _caught(busy_hub, "deleted", keep + 1)
    assert report.checkpoint is not None


def test_gap_in_the_middle(busy_hub: Hub) -> None:
    _attack(busy_hub, lambda c: c.execute(text("DELETE FROM audit_entries WHERE seq = 26")))
    _caught(busy_hub, "deleted", 26)


def test_a_whole_page_deleted(busy_hub: Hub) -> None:
    """Pages are cut by seq range on SQLite (read by two threads): entries 26 to 30 are the
    whole page of 5 after 25, which comes back empty; the page after it is out of place."""
    _attack(
        busy_hub,
        lambda c: c.execute(text("DELETE FROM audit_entries WHERE seq BETWEEN 26 AND 30")),
    )
    _caught(busy_hub, "deleted", 26)


def test_sql_text_matches_python_for_stored_rows(busy_hub: Hub) -> None:
    """The database-built text (SQLite printf, PostgreSQL concatenation) is byte-identical."""
    from havre.audit.fastrows import canonical_sql

    with busy_hub.db.engine.connect() as connection:
        built = connection.execute(
            select(
                AuditEntryRow.seq, canonical_sql(connection.dialect.name), AuditEntryRow.canonical
            ).order_by(AuditEntryRow.seq)
        ).all()
    assert built and all(row[1] == row[2] for row in built)


def test_verification_beside_appends(busy_hub: Hub) -> None:
    """Entries appended while verification reads are checked or left for the next run, and the
    head never looks damaged."""
    import threading

    done = threading.Event()

    def append() -> None:
        actor = Actor.operator("beside")
        while not done.is_set():
            with busy_hub.db.transaction() as session:
                busy_hub.audit.append(session, actor, HubAction.OPEN, Target.hub())

    writer = threading.Thread(target=append)
    writer.start()
    try:
        reports = [_verify(busy_hub, batch) for batch in (3, 5, 8, 13)]
    finally:
        done.set()
        writer.join()
    for report in reports:
        assert report.ok, report.message
    final = _verify(busy_hub, 7)
    assert final.ok and final.entries == _count(busy_hub)
