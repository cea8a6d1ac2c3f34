"""The fast canonical form used by verification is byte-identical to what append hashed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from havre.audit import HubAction, Target
from havre.audit.entry import AuditRecord, Outcome
from havre.audit.rows import EntryRow, canonical_bytes, from_dict, read_batches, to_dict
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.hub import Hub

texts = st.text(min_size=0, max_size=30)
optional = st.none() | texts
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**62), max_value=2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))]),
)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**53),
    ts=moments,
    strings=st.lists(optional, min_size=9, max_size=9),
    name=texts,
    action=texts,
    kind=texts,
    roles=st.frozensets(texts, max_size=4),
    details=st.dictionaries(texts, json_values, max_size=5),
    outcome=st.sampled_from(list(Outcome)),
)
def test_canonical_bytes_match_the_record(
    seq: int,
    ts: dt.datetime,
    strings: list[str | None],
    name: str,
    action: str,
    kind: str,
    roles: frozenset[str],
    details: dict[str, Any],
    outcome: Outcome,
) -> None:
    user, token, session, client, project, target_id, justification, reason, _ = strings
    stored_details = json.loads(canonical_text(details))
    record = AuditRecord(
        seq=seq,
        ts=ts,
        actor_user_id=user,
        actor_name=name,
        actor_roles=tuple(sorted(roles)),
        token_id=token,
        session_id=session,
        client_address=client,
        project_id=project,
        action=action,
        target_kind=kind,
        target_id=target_id,
        justification=justification,
        outcome=outcome,
        reason=reason,
        details=stored_details,
    )
    utc = ts.astimezone(dt.UTC)
    for stored_ts in (utc, utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")):
        row = EntryRow(
            seq,
            stored_ts,
            user,
            name,
            canonical_text(list(record.actor_roles)),
            token,
            session,
            client,
            project,
            action,
            kind,
            target_id,
            justification,
            outcome.value,
            reason,
            canonical_text(stored_details),
            record.prev_hash,
            "",
        )
        assert canonical_bytes(row) == record.canonical()
        assert canonical_bytes(from_dict(to_dict(row))) == record.canonical()


def test_stored_rows_hash_as_appended(hub: Hub) -> None:
    """Through the real databases: odd strings, unicode, microseconds, floats."""
    actor = Actor(
        user_id="usr_1",
        name='Zoë "quote" \\ back\tslash',
        roles=frozenset({"researcher", "admin"}),
        justification="étude n°42 — révision\n",
        client_address="2001:db8::1",
    )
    with hub.db.transaction() as session:
        samples: list[dict[str, Any]] = [
            {"ratio": 0.1, "count": 3},
            {"nested": {"a": [1, 2.5, None, True]}},
            {},
        ]
        for index, details in enumerate(samples):
            hub.audit.append(
                session, actor, HubAction.KEY_CREATE, Target("key", f"k{index}"), details=details
            )
    with hub.db.engine.connect() as connection:
        rows = [row for batch in read_batches(connection, 0, 2) for row in batch]
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    import hashlib

    for row in rows:
        digest = hashlib.sha256(bytes.fromhex(row.prev_hash) + canonical_bytes(row)).hexdigest()
        assert digest == row.entry_hash
