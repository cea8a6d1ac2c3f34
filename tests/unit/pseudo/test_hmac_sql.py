"""The SQL HMAC equals Python's ``hmac``; NIR keys and person ids agree between SQL and Python."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from havre.pseudo.hmac_sql import hmac_hex, hmac_sql, pads_table
from havre.pseudo.nir import (
    is_valid_nir,
    nir_format_ok_sql,
    nir_key,
    nir_key_ok_sql,
    nir_problem,
)
from havre.pseudo.scheme import nir_message, nir_message_sql, person_id_of, person_id_sql


def _sql_hmac(key: bytes, messages: list[str]) -> list[str]:
    con = duckdb.connect()
    con.register("pads", pads_table(key))
    con.register("m", pa.table({"msg": pa.array(messages, pa.string())}))
    rows = con.sql(f"SELECT {hmac_sql('msg', 'pads')} FROM m CROSS JOIN pads").fetchall()
    return [r[0] for r in rows]


@settings(max_examples=25, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=100),
    messages=st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=20),
)
def test_sql_hmac_matches_python(key: bytes, messages: list[str]) -> None:
    assert _sql_hmac(key, messages) == [hmac_hex(key, m) for m in messages]


def _nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


@settings(max_examples=30, deadline=None)
@given(
    sex=st.sampled_from("12"),
    year=st.integers(0, 99),
    month=st.integers(1, 12),
    dept=st.sampled_from(["01", "2A", "2B", "75", "97", "99"]),
    rest=st.integers(0, 999_999),
    tamper=st.booleans(),
)
def test_nir_key_sql_matches_python(
    sex: str, year: int, month: int, dept: str, rest: int, tamper: bool
) -> None:
    nir = _nir(f"{sex}{year:02d}{month:02d}{dept}{rest:06d}")
    if tamper:
        nir = nir[:13] + f"{(int(nir[13:]) % 97) + 1:02d}"
    con = duckdb.connect()
    ok = con.sql(
        f"SELECT {nir_format_ok_sql('n')} AND {nir_key_ok_sql('n')} FROM (SELECT '{nir}' AS n)"
    ).fetchall()[0][0]
    assert ok == is_valid_nir(nir) == (not tamper)


def test_nir_problems() -> None:
    good = _nir("1850578006084")
    assert nir_problem(good) is None
    assert nir_problem("") == "missing"
    assert nir_problem("12345") == "format"
    assert nir_problem(good[:13] + "00" if good[13:] != "00" else good[:13] + "01") == "key"
    # Corsica: 2A counts as 19 in the key
    corsica = "185052A006084"
    assert nir_key(corsica) == 97 - int("1850519006084") % 97


def test_person_id_from_pseudonym_is_the_same_in_sql() -> None:
    key = b"k" * 32
    messages = [nir_message("1850578006084", "1985-05", "1", 1), "omop|src|42"]
    pseudonyms = _sql_hmac(key, messages)
    con = duckdb.connect()
    con.register("p", pa.table({"p": pseudonyms}))
    ids = [r[0] for r in con.sql(f"SELECT {person_id_sql('p')} FROM p").fetchall()]
    assert ids == [person_id_of(p) for p in pseudonyms]
    assert all(0 <= i < 2**63 for i in ids)


def test_message_sql_is_the_python_message() -> None:
    con = duckdb.connect()
    sql = nir_message_sql("'1850578006084'", "'1985-05'", "'1'", "'2'")
    assert con.sql(f"SELECT {sql}").fetchall()[0][0] == nir_message(
        "1850578006084", "1985-05", "1", 2
    )
