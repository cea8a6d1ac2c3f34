"""Record ids: the SQL computes the keyed bijection the Python reference does, in 64 bits."""

from __future__ import annotations

import duckdb
import pytest

from havre.ingest.ids import MAX_SUB, PRIME, RecordIds


@pytest.mark.parametrize("seed", range(5))
def test_sql_ids_match_the_reference_and_never_collide(seed: int) -> None:
    ids = RecordIds() if seed else RecordIds(k1=PRIME - 1, k2=PRIME - 1)  # largest keys
    con = duckdb.connect()
    # positions as the ingest makes them (file_id * 2^32 + line), up to the largest allowed
    con.execute(
        "CREATE TABLE p AS SELECT CAST(f AS BIGINT) * 4294967296 + l AS pos "
        "FROM range(0, 4096, 511) AS a(f), range(1, 4294967295, 429496729) AS b(l)"
    )
    rows = con.sql(
        f"SELECT pos, {ids.sql('pos')} AS a, {ids.sql('pos', MAX_SUB - 1)} AS b FROM p"
    ).fetchall()
    assert rows
    for pos, a, b in rows:
        assert (a, b) == (ids.of(pos), ids.of(pos, MAX_SUB - 1))
        assert 0 < a <= PRIME and 0 < b <= PRIME
    produced = [a for _, a, _ in rows] + [b for _, _, b in rows]
    assert len(set(produced)) == len(produced)


def test_sub_rows_are_bounded() -> None:
    with pytest.raises(ValueError, match="sub"):
        RecordIds().sql("pos", MAX_SUB)
