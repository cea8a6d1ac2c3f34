"""The column check compares each stored text with a cheap build of its columns first and with
the exact build only where the two differ. Neither may call an honest entry damaged, and no
edit of a column may pass, whatever the strings hold (quotes, backslashes, control
characters, unicode, "null", printf directives). Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from havre.audit import HubAction, Target
from havre.audit.column_check import ColumnCheck, first_mismatch
from havre.audit.entry import Outcome
from havre.audit.fastrows import canonical_expression, comparison_expression, stored_text_differs
from havre.audit.models import AuditEntryRow
from havre.audit.verify import Verifier
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import Settings
from havre.hub import Hub

START = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
TRICKY = [
    "plain",
    'quote " inside',
    "back \\ slash",
    '\\"',
    "tab\there",
    "line\nbreak",
    "bell\x07",
    "é ü 漢 \u2028",
    "null",
    '"null"',
    "%s %% %d",
    "it's",
    "\\u0041",
    "",
]
CONTROL = frozenset(chr(code) for code in range(32))


FIELDS = ("actor_name", "actor_roles", "justification", "reason", "target_id", "details")


class Tricky(NamedTuple):
    hub: Hub
    seqs: dict[tuple[str, str], int]  # the entry holding a string in a field (others plain)


@pytest.fixture
def tricky(make_settings: Callable[..., Settings], database_url: str) -> Tricky:
    """For each field and tricky string, one entry holding the string in that field alone;
    some with a zero fraction of a second (written without one), most with one."""
    hub, _ = Hub.init(make_settings(database_url=database_url))
    clock = FixedClock(START)
    hub.audit.clock = clock
    seqs: dict[tuple[str, str], int] = {}
    for index, (field, value) in enumerate(itertools.product(FIELDS, TRICKY)):
        clock.advance(seconds=1, microseconds=0 if index % 5 == 0 else 123_450 + index)
        plain = {field: value}
        actor = Actor(
            user_id=f"usr_{index}",
            name=plain.get("actor_name", "Plain Name"),
            roles=frozenset({"researcher", plain.get("actor_roles", "auditor")}),
            justification=plain.get("justification", "plain justification"),
            client_address="10.0.0.7",
        )
        with hub.db.transaction() as session:
            seqs[field, value] = hub.audit.append(
                session,
                actor,
                HubAction.OPEN,
                Target("key", plain.get("target_id", "k1")),
                Outcome.ERROR,
                reason=plain.get("reason", "plain reason"),
                details={"note": plain.get("details", "plain note")},
            ).seq
    return Tricky(hub, seqs)


def _texts(hub: Hub) -> list[tuple[int, Any, str, str, str]]:
    """(seq, ts, stored text, cheap text, exact text) for every entry."""
    with hub.db.engine.connect() as connection:
        dialect = connection.dialect.name
        rows = connection.execute(
            select(
                AuditEntryRow.seq,
                AuditEntryRow.ts,
                AuditEntryRow.canonical,
                comparison_expression(dialect),
                canonical_expression(dialect),
            ).order_by(AuditEntryRow.seq)
        ).all()
    return [(int(r[0]), r[1], str(r[2]), str(r[3]), str(r[4])) for r in rows]


def _differing(hub: Hub) -> list[int]:
    with hub.db.engine.connect() as connection:
        found = connection.execute(
            select(AuditEntryRow.seq)
            .where(stored_text_differs(connection.dialect.name))
            .order_by(AuditEntryRow.seq)
        )
        return [int(seq) for (seq,) in found]


def test_honest_entries_never_differ(tricky: Tricky) -> None:
    assert len(_texts(tricky.hub)) >= len(TRICKY)
    assert _differing(tricky.hub) == []
    with tricky.hub.db.engine.connect() as connection:
        assert first_mismatch(connection, 0, 10_000) is None


def test_the_cheap_text_differs_only_where_expected(tricky: Tricky) -> None:
    """The cheap text leaves control characters raw and writes a zero fraction of a second:
    there it differs from the stored text, and the exact text decides."""
    values = {seq: value for (_, value), seq in tricky.seqs.items()}
    cheap_hits = 0
    for seq, ts, stored, cheap, exact in _texts(tricky.hub):
        assert exact == stored
        if cheap == stored:
            cheap_hits += 1
        elif seq in values:
            assert CONTROL & set(values[seq]) or ts.microsecond == 0, (seq, values[seq])
    # most entries are settled by the cheap text alone: that is the whole speed of the check
    assert cheap_hits >= len(TRICKY) // 2


def _attack(hub: Hub, how: Callable[[Connection], object]) -> None:
    with hub.db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
        else:
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER ALL"))
        how(connection)


# the entry (field and string), the column edited, its new value: each edit keeps the stored
# text, and each new value looks like the old one once quoted or escaped in some wrong way
EDITS: list[tuple[str, str, str, Any]] = [
    ("justification", "tab\there", "justification", "tab\\there"),  # backslash and t
    ("reason", 'quote " inside', "reason", 'quote \\" inside'),
    ("actor_name", "back \\ slash", "actor_name", "back \\\\ slash"),
    ("reason", '\\"', "reason", '\\\\"'),
    ("target_id", "null", "target_id", None),  # "null" the string, then NULL
    ("target_id", "plain", "target_id", ""),
    ("justification", "line\nbreak", "justification", "line\rbreak"),
    ("details", "bell\x07", "details", '{"note":"bell\\u0008"}'),
    ("actor_roles", "%s %% %d", "actor_roles", '["auditor","researcher"]'),
    ("actor_name", "é ü 漢 \u2028", "actor_name", "é ü 漢 \\u2028"),
    ("actor_name", "it's", "session_id", "ses_new"),
    ("reason", "\\u0041", "outcome", "ok"),
    ("reason", "\\u0041", "reason", "A"),
]


@pytest.mark.parametrize(
    "field,value,column,edited", EDITS, ids=[f"{n}-{e[2]}" for n, e in enumerate(EDITS)]
)
def test_an_edited_column_is_found(
    tricky: Tricky, field: str, value: str, column: str, edited: Any
) -> None:
    seq = _edit(tricky, field, value, column, edited)
    assert _differing(tricky.hub) == [seq]
    with tricky.hub.db.engine.connect() as connection:
        assert first_mismatch(connection, 0, 10_000) == seq


def test_an_edited_timestamp_is_found(tricky: Tricky) -> None:
    seq, tricky_hub = tricky.seqs["reason", "é ü 漢 \u2028"], tricky.hub

    def shift(connection: Connection) -> None:
        (ts,) = connection.execute(text("SELECT ts FROM audit_entries WHERE seq = :s"), {"s": seq})
        moved = ts[0] if not isinstance(ts[0], str) else dt.datetime.fromisoformat(ts[0])
        moved = moved + dt.timedelta(microseconds=1)
        value = moved.isoformat(" ") if isinstance(ts[0], str) else moved
        connection.execute(
            text("UPDATE audit_entries SET ts = :ts WHERE seq = :s"), {"ts": value, "s": seq}
        )

    _attack(tricky_hub, shift)
    assert _differing(tricky_hub) == [seq]


def test_a_timestamp_moved_to_another_era_is_found(tricky: Tricky) -> None:
    """The same digits in another era (PostgreSQL prints a year BC with the digits alone
    unless asked for the era; SQLite stores text, where 'BC' is just more text)."""
    seq, tricky_hub = tricky.seqs["reason", "plain"], tricky.hub

    def to_bc(connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            edit = "UPDATE audit_entries SET ts = ts || ' BC' WHERE seq = :s"
        else:
            edit = "UPDATE audit_entries SET ts = ts - interval '4051 years' WHERE seq = :s"
        connection.execute(text(edit), {"s": seq})

    _attack(tricky_hub, to_bc)
    assert _differing(tricky_hub) == [seq]


def test_the_first_of_several_edits_is_found_by_every_split(tricky: Tricky) -> None:
    """Workers take chunks in order: whatever the chunk size and count, the least edited
    entry is the answer."""
    tricky_hub = tricky.hub
    edited = [tricky.seqs["reason", value] for value in ("plain", "\\u0041", "line\nbreak")]

    def edit(connection: Connection) -> None:
        for seq in edited:
            connection.execute(
                text("UPDATE audit_entries SET reason = 'edited' WHERE seq = :s"), {"s": seq}
            )

    _attack(tricky_hub, edit)
    last = len(_texts(tricky_hub))
    for chunk, workers in itertools.product((1, 3, 50), (1, 2, 3)):
        check = ColumnCheck(tricky_hub.db, 0, last, chunk=chunk, workers=workers).start()
        assert check.result() == min(edited)


def _verified(hub: Hub, batch: int) -> tuple[int | None, str | None]:
    report = Verifier(hub.db, hub.audit_trail.trusted_keys(), batch=batch).run()
    return report.first_bad_seq, None if report.damage is None else report.damage.value


@pytest.mark.parametrize(
    "field,value,column,edited", EDITS, ids=[f"{n}-{e[2]}" for n, e in enumerate(EDITS)]
)
def test_verification_names_an_edited_column(
    tricky: Tricky, field: str, value: str, column: str, edited: Any
) -> None:
    """The same edits through ``havre audit verify``, whose page reads check the columns on
    SQLite: the entry is named, at a page's start, middle or end."""
    seq = _edit(tricky, field, value, column, edited)
    for batch in (1, 3, 7, 5_000):
        assert _verified(tricky.hub, batch) == (seq, "modified"), batch


def test_verification_looks_past_a_text_only_the_database_builds_differently(
    tricky: Tricky,
) -> None:
    """An entry whose timestamp column is spelled otherwise but reads as the same instant:
    the database's text differs, Python's (the reference) does not, so it is not damage; a
    real edit further on in the same page is still named."""
    hub = tricky.hub
    respelled = tricky.seqs["reason", "plain"]
    edited = tricky.seqs["reason", "\\u0041"]
    assert respelled < edited

    def edit(connection: Connection) -> None:
        (ts,) = connection.execute(
            text("SELECT ts FROM audit_entries WHERE seq = :s"), {"s": respelled}
        ).one()
        if isinstance(ts, str):  # SQLite: the same instant, with its offset written out
            connection.execute(
                text("UPDATE audit_entries SET ts = :ts WHERE seq = :s"),
                {"ts": f"{ts}+00:00", "s": respelled},
            )
        connection.execute(
            text("UPDATE audit_entries SET reason = 'edited' WHERE seq = :s"), {"s": edited}
        )

    _attack(hub, edit)
    if hub.db.dialect == "sqlite":
        assert _differing(hub) == [respelled, edited]
    for batch in (3, 5_000):
        assert _verified(hub, batch) == (edited, "modified"), batch


def _edit(tricky: Tricky, field: str, value: str, column: str, edited: Any) -> int:
    """Set one column of the entry recorded with ``value`` in ``field``; its seq."""
    seq = tricky.seqs[field, value]
    _attack(
        tricky.hub,
        lambda c: c.execute(
            text(f"UPDATE audit_entries SET {column} = :value WHERE seq = :seq"),
            {"value": edited, "seq": seq},
        ),
    )
    return seq
