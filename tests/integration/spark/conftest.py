"""Spark parity tests: one Spark engine (one JVM) for a module; the same inputs go to DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from havre.core.config import Settings
from havre.lake.engine import DuckDBEngine

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("spark-home")
    return Settings(home=home, engine="spark", spark_master="local[2]")


@pytest.fixture(scope="module")
def spark(spark_settings: Settings) -> Iterator[object]:
    from havre.lake.spark import SparkEngine

    engine = SparkEngine(spark_settings)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def duck(make_settings: Callable[..., Settings]) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(make_settings())
    try:
        yield engine
    finally:
        engine.close()
