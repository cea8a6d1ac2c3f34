"""Objectors are found by hashing each person once, not once per (person, objection) pair."""

from __future__ import annotations

import secrets
from typing import cast

import duckdb
import pyarrow as pa

from havre.ingest.context import IngestContext
from havre.ingest.persons import objectors
from havre.pseudo.hmac_sql import hmac_hex, pads_table


class _Engine:
    def __init__(self) -> None:
        self.connection = duckdb.connect(config={"threads": 2})

    def execute(self, statement: str) -> None:
        self.connection.execute(statement)


def test_objectors_of_many_persons_against_a_large_register() -> None:
    engine = _Engine()
    con = engine.connection
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)  # the key was rotated
    versions = {1: pads_table(old), 2: pads_table(new)}
    con.register(
        "optout_pads",
        pa.table(
            {
                "key_version": pa.array(list(versions), pa.int32()),
                "ipad": [p.column("ipad")[0].as_py() for p in versions.values()],
                "opad": [p.column("opad")[0].as_py() for p in versions.values()],
            }
        ),
    )
    nirs = [f"{i:013d}" for i in range(30_000)]
    objected = {nirs[i]: (old if i % 2 else new) for i in range(0, 6_000, 3)}
    con.register(
        "optout_register",
        pa.table(
            {
                "subject_key": [hmac_hex(key, nir) for nir, key in objected.items()],
                "key_version": pa.array(
                    [1 if key is old else 2 for key in objected.values()], pa.int32()
                ),
            }
        ),
    )
    con.register("people", pa.table({"nir": nirs + nirs[:100]}))
    ctx = cast(IngestContext, type("Ctx", (), {"execute": engine.execute})())
    # hashing in the join condition took minutes here (60M HMACs); the speed is measured by
    # bench_ingest, this test checks the answer
    out = objectors(ctx, "people", "nir", "true", "found")
    found = {row[0] for row in con.sql(f"SELECT msg FROM {out}").fetchall()}
    assert found == set(objected)
