"""k and l agree with pycanon's on random small tables."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycanon import anonymity

from havre.core.config import Settings
from havre.disclosure.risk import assess, declare, register
from havre.lake.engine import DuckDBEngine


@pytest.fixture(scope="module")
def shared_engine() -> Iterator[DuckDBEngine]:
    with tempfile.TemporaryDirectory() as home:
        engine = DuckDBEngine(Settings(home=Path(home), duckdb_memory_limit="256MB"))
        yield engine
        engine.close()


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], list[str]]:
    rows = draw(st.integers(min_value=1, max_value=60))
    qi_count = draw(st.integers(min_value=1, max_value=3))
    sensitive_count = draw(st.integers(min_value=1, max_value=2))
    data: dict[str, list[object]] = {}
    qi = [f"q{i}" for i in range(qi_count)]
    sensitive = [f"s{i}" for i in range(sensitive_count)]
    for name in qi + sensitive:
        levels = draw(st.integers(min_value=1, max_value=4))
        if draw(st.booleans()):
            values: st.SearchStrategy[object] = st.integers(0, levels - 1)
        else:
            values = st.sampled_from(["a", "b", "c", "d"][:levels])
        data[name] = draw(st.lists(values, min_size=rows, max_size=rows))
    return pd.DataFrame(data), qi, sensitive


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_k_and_l_agree_with_pycanon(
    shared_engine: DuckDBEngine, table: tuple[pd.DataFrame, list[str], list[str]]
) -> None:
    frame, qi, sensitive = table
    relation = register(shared_engine, pa.Table.from_pandas(frame, preserve_index=False))
    result = assess(relation, declare(qi, sensitive))
    assert result.k == anonymity.k_anonymity(frame, qi)
    assert result.l == anonymity.l_diversity(frame, qi, sensitive)
    for diversity in result.diversity:
        attribute = diversity.attribute
        assert diversity.distinct_l == anonymity.l_diversity(frame, qi, [attribute])
        # pycanon truncates exp(entropy) to an integer
        expected = anonymity.entropy_l_diversity(frame, qi, [attribute])
        assert expected in {
            math.floor(diversity.entropy_l - 1e-9),
            math.floor(diversity.entropy_l + 1e-9),
        }
    sizes = frame.groupby(qi, dropna=False).size()
    assert result.records == len(frame)
    assert result.histogram.classes == len(sizes)
    assert result.unique_share == pytest.approx(int((sizes == 1).sum()) / len(frame))
    assert result.prosecutor.average == pytest.approx(len(sizes) / len(frame))
