"""Search by every filter (both databases, any time zone), export, and re-verify an export."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from havre.audit import AuditAction, HubAction, Outcome, PendingEntry, Target
from havre.audit.query import AuditQuery, parse_moment, verify_export
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import PermissionDenied, UsageError
from havre.hub import Hub

DAY0 = dt.datetime(2027, 3, 1, 22, 30, tzinfo=dt.UTC)  # after the hub.init entry (real time)
AUDITOR = Actor("usr_aud", "Auditor", frozenset({"auditor"}))
ALICE = Actor("usr_alice", "Alice", frozenset({"researcher"}), project_id="prj_a")
BOB = Actor("usr_bob", "Bob", frozenset({"data_steward"}))


def populate(hub: Hub) -> FixedClock:
    """Entries 2..13: one per hour from DAY0, alternating Alice (prj_a) and Bob."""
    clock = FixedClock(DAY0)
    hub.audit.clock = clock
    hub.audit.checkpointer = None  # hourly entries would each trigger the time rule
    with hub.db.transaction() as session:
        for index in range(12):
            who = ALICE if index % 2 == 0 else BOB
            hub.audit.append_many(
                session,
                [
                    PendingEntry(
                        who,
                        HubAction.KEY_CREATE if index % 3 == 0 else HubAction.OPEN,
                        Target("dataset", f"ds_{index % 4}"),
                        Outcome.DENIED if index == 5 else Outcome.OK,
                        reason="not allowed" if index == 5 else None,
                    )
                ],
            )
            clock.advance(hours=1)
    return clock


def seqs(hub: Hub, **filters: object) -> list[int]:
    return [r.seq for r in hub.audit_trail.search(AUDITOR, AuditQuery(**filters))]  # type: ignore[arg-type]


def test_filters(hub: Hub) -> None:
    populate(hub)
    alice = list(range(2, 14, 2))
    assert seqs(hub, user="usr_alice") == alice
    assert seqs(hub, user="Bob") == list(range(3, 14, 2))  # by actor name too
    assert seqs(hub, project="prj_a") == alice
    assert seqs(hub, action="key.create") == [2, 5, 8, 11]
    assert seqs(hub, action="key.") == [2, 5, 8, 11]
    assert seqs(hub, action="key") == []  # exact unless it ends with '.'
    assert seqs(hub, outcome=Outcome.DENIED) == [7]
    assert seqs(hub, target_kind="dataset", target_id="ds_1") == [3, 7, 11]
    assert seqs(hub, user="usr_alice", action="key.create") == [2, 8]
    assert seqs(hub, limit=3, user="usr_alice") == [8, 10, 12]  # the latest, oldest first


def test_time_windows_in_any_time_zone(hub: Hub) -> None:
    populate(hub)
    # entry n (n >= 2) is at DAY0 + (n - 2) hours: 22:30 on 1 March, then 23:30, 00:30...
    assert seqs(hub, since=parse_moment("2027-03-02")) == list(range(4, 14))
    assert seqs(hub, until=parse_moment("2027-03-01", end=True), user="usr_alice") == [2]
    paris = parse_moment("2027-03-02T01:30+01:00")  # 00:30 UTC, entry 4, inclusive
    assert seqs(hub, since=paris, until=parse_moment("2027-03-02T03:30Z")) == [4, 5, 6]
    naive = parse_moment("2027-03-02T00:30")  # read as UTC
    assert naive == parse_moment("2027-03-02T00:30:00+00:00")
    assert seqs(hub, since=naive, limit=1, user="usr_bob") == [13]


def test_the_search_is_itself_audited_and_reserved(hub: Hub) -> None:
    populate(hub)
    found = hub.audit_trail.search(AUDITOR, AuditQuery(user="usr_bob", limit=2))
    assert len(found) == 2
    [last] = hub.audit_trail.search(AUDITOR, AuditQuery(action="audit.search", limit=1))
    assert last.actor_user_id == "usr_aud"
    assert last.details["filters"]["user"] == "usr_bob"
    assert last.details["results"] == 2
    with pytest.raises(PermissionDenied):
        hub.audit_trail.search(ALICE, AuditQuery())
    [refused] = hub.audit_trail.search(
        AUDITOR, AuditQuery(action="audit.search", outcome=Outcome.DENIED)
    )
    assert refused.actor_user_id == "usr_alice"


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="not a date"):
        parse_moment("last tuesday")
    with pytest.raises(UsageError, match="limit"):
        from havre.audit.query import check_limit

        check_limit(0)


def test_export_verifies_and_tampering_shows(hub: Hub) -> None:
    populate(hub)
    window, lines = hub.audit_trail.export(
        AUDITOR, parse_moment("2027-03-02"), parse_moment("2027-03-02T05:00Z")
    )
    exported = list(lines)
    assert window is not None and (window.first_seq, window.last_seq) == (4, 8)
    assert [json.loads(x)["seq"] for x in exported] == [4, 5, 6, 7, 8]
    first = json.loads(exported[0])
    trusted_before = hub.audit_trail.search(
        AUDITOR, AuditQuery(limit=1, until=DAY0 + dt.timedelta(hours=2))
    )[0]
    assert first["prev_hash"] == trusted_before.entry_hash
    assert verify_export(exported, trusted_before.entry_hash).ok
    check = verify_export(exported)
    assert check.ok and "taken as given" in check.message

    edited = json.loads(exported[2])
    edited["actor"]["user_id"] = "usr_mallory"
    tampered = [*exported[:2], json.dumps(edited), *exported[3:]]
    result = verify_export(tampered)
    assert (result.ok, result.damage, result.first_bad_seq) == (False, "modified", 6)

    dropped = verify_export([*exported[:1], *exported[2:]])
    assert (dropped.damage, dropped.first_bad_seq) == ("deleted", 5)
    wrong_start = verify_export(exported, "ff" * 32)
    assert not wrong_start.ok and wrong_start.first_bad_seq == 4

    [entry] = hub.audit_trail.search(AUDITOR, AuditQuery(action="audit.export", limit=1))
    assert entry.action == AuditAction.EXPORT
    assert (entry.details["first_seq"], entry.details["last_seq"]) == (4, 8)
