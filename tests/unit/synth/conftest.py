"""Synthetic deliveries shared by the synth tests (generated once per test session)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from havre.synth import SynthManifest, SynthOptions, generate
from havre.synth.options import SCALES

MEDIUM_PERSONS = SCALES["medium"]  # the medium population: 100,000 persons
Sql = Callable[[str], list[tuple[object, ...]]]


@pytest.fixture(scope="session")
def deliver(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., SynthManifest]:
    def make(name: str, **values: object) -> SynthManifest:
        out = tmp_path_factory.mktemp("synth") / name
        options: dict[str, object] = {"persons": 3_000, "seed": 7, "out": out, "workers": 1}
        options.update(values)
        return generate(SynthOptions(**options))  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def clean_delivery(deliver: Callable[..., SynthManifest]) -> SynthManifest:
    return deliver("clean", optout_rate=0.02)


@pytest.fixture(scope="session")
def dirty_delivery(deliver: Callable[..., SynthManifest]) -> SynthManifest:
    return deliver("dirty", persons=2_000, dirty_rate=0.03, optout_rate=0.03)


@pytest.fixture(scope="session")
def parquet_delivery(deliver: Callable[..., SynthManifest]) -> SynthManifest:
    return deliver(
        "parquet",
        persons=1_500,
        file_format="parquet",
        dirty_rate=0.03,
        start=dt.date(2019, 1, 1),
        end=dt.date(2022, 12, 31),
    )


@pytest.fixture(scope="session")
def medium_delivery(deliver: Callable[..., SynthManifest]) -> SynthManifest:
    """A population large enough for gradients to show."""
    return deliver("medium", persons=MEDIUM_PERSONS, seed=11)


def csv_view(path: Path) -> str:
    """DuckDB table expression reading a clean delivery CSV, every column as text."""
    return f"read_csv('{path}', delim=';', header=true, all_varchar=true, quote='', escape='')"


@pytest.fixture(scope="session")
def sql() -> Sql:
    """Run SQL where ``{name}`` placeholders are not used: callers format paths in."""

    def run(statement: str) -> list[tuple[object, ...]]:
        return duckdb.sql(statement).fetchall()

    return run


@pytest.fixture(scope="session")
def view() -> Callable[[SynthManifest, str], str]:
    """``view(manifest, "snds/IR_BEN_R.csv")``: a table expression over that file."""

    def make(manifest: SynthManifest, name: str) -> str:
        return csv_view(manifest.path.parent / name)

    return make
