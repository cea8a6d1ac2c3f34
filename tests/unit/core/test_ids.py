"""Identifiers never look like personal data to the audit trail that records them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from itertools import chain, repeat

import pytest

from havre.audit.hygiene import PatientDataInAudit, check_identifier
from havre.core import ids


def _value(chars: str) -> int:
    value = 0
    for char in chars:
        value = value * 32 + ids.ALPHABET.index(char)
    return value


def _feed(monkeypatch: pytest.MonkeyPatch, stamps: list[str], draws: list[str]) -> None:
    # each list's last value is given again for as long as it is asked for
    clock: Iterator[int] = chain((_value(s) for s in stamps), repeat(_value(stamps[-1])))
    randoms: Iterator[int] = chain((_value(d) for d in draws), repeat(_value(draws[-1])))
    # the modules' own functions, as ``ids`` calls them: restored after the test
    monkeypatch.setattr(time, "time", lambda: (next(clock) + 0.5) / 1000)  # mid-millisecond
    monkeypatch.setattr(time, "sleep", lambda _: None)
    monkeypatch.setattr(secrets, "randbits", lambda _: next(randoms))


def test_an_id_holding_a_phone_number_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # this hub id was drawn once, and the audit refused the hub's creation
    with pytest.raises(PatientDataInAudit, match="phone number"):
        check_identifier("hub_01m8y0571287363b5d95dn", "target id")
    _feed(monkeypatch, ["01m8y05712"], ["87363b5d95dn", "cafebabedead"])
    made = ids.new_id("hub")
    assert made == "hub_01m8y05712cafebabedead"
    check_identifier(made, "target id")


def test_a_time_part_of_ten_digits_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    _feed(monkeypatch, ["0200000000", "0200000009", "020000000a"], ["cafebabedead"])
    assert ids.new_id("prj") == "prj_020000000acafebabedead"


def test_ids_are_unique_and_pass_the_audit() -> None:
    made = [ids.new_id("usr") for _ in range(2000)]
    assert len(set(made)) == len(made)
    for value in made:
        assert len(value) == len("usr_") + 22
        check_identifier(value, "target id")
