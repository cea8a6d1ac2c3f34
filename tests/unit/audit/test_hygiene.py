"""No patient data in audit details: generated NIRs, phones, e-mails and free text are refused;
the ordinary facts of an action pass."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from havre.audit import HubAction, Target
from havre.audit.hygiene import (
    REDACTED,
    PatientDataInAudit,
    check_details,
    check_identifier,
    nir_key_is_valid,
    redact,
)
from havre.core.actor import Actor
from havre.hub import Hub


@st.composite
def nirs(draw: st.DrawFn) -> str:
    """A NIR with a valid key: sex, year, month, department (2A/2B too), commune, order."""
    sex = draw(st.sampled_from("12"))
    year = f"{draw(st.integers(0, 99)):02d}"
    month = f"{draw(st.integers(1, 12)):02d}"
    department = draw(st.sampled_from(["2A", "2B"]) | st.integers(1, 95).map(lambda d: f"{d:02d}"))
    commune = f"{draw(st.integers(1, 999)):03d}"
    order = f"{draw(st.integers(1, 999)):03d}"
    body = sex + year + month + department + commune + order
    numeric = body.replace("2A", "19", 1) if department == "2A" else body
    numeric = numeric.replace("2B", "18", 1) if department == "2B" else numeric
    key = 97 - int(numeric) % 97
    nir = f"{body}{key:02d}"
    assert nir_key_is_valid(nir)
    if draw(st.booleans()):  # as people write it: 1 85 07 75 123 456 78
        nir = " ".join([nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]])
    if draw(st.booleans()):
        nir = nir[:13] if " " not in nir else nir.rsplit(" ", 1)[0]  # without its key
    return nir


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéè", min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(
    nir=nirs(),
    prefix=st.sampled_from(["", "patient ", "nir=", "id:"]),
    key=st.sampled_from(["value", "note", "file"]),
)
def test_nirs_are_refused_anywhere(nir: str, prefix: str, key: str) -> None:
    for details in ({key: prefix + nir}, {"items": [1, prefix + nir]}, {"a": {"b": nir}}):
        with pytest.raises(PatientDataInAudit, match="NIR"):
            check_details(details)
    with pytest.raises(PatientDataInAudit):
        check_identifier(nir, "target id")
    assert nir not in (redact(f"row 12: {nir} is not a date") or "")


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=13, max_size=40))
def test_free_text_is_refused(text_words: list[str]) -> None:
    with pytest.raises(PatientDataInAudit):
        check_details({"comment": " ".join(text_words)})


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=201, max_size=400))
def test_long_strings_are_refused(value: str) -> None:
    with pytest.raises(PatientDataInAudit):
        check_details({"value": value})


@pytest.mark.parametrize(
    "details",
    [
        {"phone": "0612345678"},
        {"contact": "+33 6 12 34 56 78"},
        {"contact": "06.12.34.56.78"},
        {"who": "jeanne.martin@example.fr"},
        {"birth_date": "1985-07-12"},
        {"ben_nir_psa": "abc"},
        {"rows": list(range(201))},
        {"Bad Key": 1},
        {"nested": {"justification": "x"}},
        {"deep": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
        {"blob": b"bytes"},
        {f"k{i}": "x" * 150 for i in range(150)},  # more than 16 KiB
    ],
)
def test_other_shapes_are_refused(details: dict[str, object]) -> None:
    with pytest.raises(PatientDataInAudit):
        check_details(details)


@settings(max_examples=300, deadline=None)
@given(
    # under a key that is not a digest's, a digest with a run of 13+ digits may hide a NIR and
    # is refused on purpose (next test): about one random digest in a few thousand has one
    digest=st.binary(min_size=32, max_size=32)
    .map(lambda b: hashlib.sha256(b).hexdigest())
    .filter(lambda d: re.search(r"[0-9]{13}", d) is None),
    ident=st.uuids().map(str),
    count=st.integers(min_value=0, max_value=10**12),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
)
def test_facts_about_actions_pass(digest: str, ident: str, count: int, ratio: float) -> None:
    check_details(
        {
            "file_sha256": digest,
            "root_hash": "sha256:" + digest,
            "request": ident,
            "rows": count,
            "ratio": ratio,
            "dataset": "ds_01hx3kqz9r8m2b7c4d5e6f7g8h",
            "columns": ["person_id", "year_of_birth", "gender_concept_id"],
            "period": {"start": "2024-01-01", "end": "2024-12-31"},
            "query": "cohort incidence by department",
        }
    )


def test_a_digest_hiding_a_nir_is_still_refused() -> None:
    nir = "185077512345678"[:13]
    full = nir + f"{97 - int(nir) % 97:02d}"
    hidden = ("ab" + full).ljust(64, "c")
    for key in ("root_hash", "digest", "previous"):
        with pytest.raises(PatientDataInAudit):
            check_details({key: hidden})
        with pytest.raises(PatientDataInAudit):
            check_details({key: "sha256:" + hidden})
    with pytest.raises(PatientDataInAudit):  # not exactly a SHA-256 digest: checked
        check_details({"file_sha256": hidden[:-1]})
    with pytest.raises(PatientDataInAudit):
        check_details({"file_sha256": hidden.upper()})
    check_details({"file_sha256": uuid.uuid4().hex * 2})


@settings(max_examples=300, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32).map(lambda b: hashlib.sha256(b).hexdigest()))
def test_any_sha256_digest_passes_under_a_digest_key(digest: str) -> None:
    check_details({"report_sha256": digest, "sql_sha256": digest})


def test_a_computed_digest_with_a_nir_shaped_run_passes_under_a_digest_key() -> None:
    # a risk report's digest seen in a test run: a 28-digit run, NIR-shaped with a valid key
    seen = "467afeadc7613485509374240786256721724dac118bdd31427fc29f12aa9090"
    check_details({"report_sha256": seen, "terms_sha256": seen})
    with pytest.raises(PatientDataInAudit):
        check_details({"report_hash": seen})


def test_redaction_keeps_the_rest_of_the_reason() -> None:
    reason = "Value '1 85 07 75 123 456 78' in column x; write to dpo@example.fr"
    assert redact(reason) == f"Value '{REDACTED}' in column x; write to {REDACTED}"
    assert redact(None) is None


def test_nothing_personal_reaches_the_stored_entry(sqlite_hub: Hub) -> None:
    actor = Actor.operator("patient 185077512345678 asked")
    with sqlite_hub.db.transaction() as session:
        record = sqlite_hub.audit.append(
            session, actor, HubAction.OPEN, Target.hub(), reason="bad row 2850775123456"
        )
    assert "185077512345678" not in str(record.justification)
    assert "2850775123456" not in str(record.reason)
    assert sqlite_hub.audit_trail.verify().ok
    with pytest.raises(PatientDataInAudit), sqlite_hub.db.transaction() as session:
        sqlite_hub.audit.append(session, actor, HubAction.OPEN, Target("person", "1850775123456"))
