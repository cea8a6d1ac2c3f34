"""An embedded engine per test, spilling to the test's temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from havre.core.config import Settings
from havre.lake.engine import DuckDBEngine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(Settings(home=tmp_path / "home", duckdb_memory_limit="512MB"))
    yield engine
    engine.close()
