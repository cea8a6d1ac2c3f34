"""Data versions: encrypted, immutable, published atomically, verified when opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from havre.core.errors import IntegrityError, KeyStoreError, NotFoundError, StateError
from havre.core.hashing import sha256_file
from havre.hub import Hub
from havre.lake import IdentifierKind

from .helpers import PEOPLE, REJECTS, make_lake, publish


def test_publish_then_open(hub: Hub) -> None:
    lake = make_lake(hub)
    info = publish(lake, hub)
    assert (info.dataset, info.version, info.counts.loaded) == ("demo", 1, 3)
    version = lake.open("demo")
    assert version.tables == ["person"]
    assert version.read("person").equals(PEOPLE)
    assert version.quarantine().to_table().equals(REJECTS)
    assert version.column_tags("person") == {"commune": IdentifierKind.COMMUNE}
    version.verify()
    con = duckdb.connect()
    con.register("person", version.dataset("person"))
    assert con.sql("SELECT sum(person_id) FROM person").fetchall() == [(6,)]
    second = publish(lake, hub, delivery="e" * 64)
    assert second.version == 2
    assert [v.version for v in lake.versions("demo")] == [1, 2]
    assert lake.find_delivery("demo", "d" * 64) == info
    assert lake.find_delivery("demo", "f" * 64) is None
    with pytest.raises(NotFoundError):
        lake.open("demo", 9)


def test_files_need_the_key(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    lake = make_lake(hub)
    info = publish(lake, hub)
    files = sorted((lake.root / info.path).rglob("*.parquet"))
    assert len(files) == 2
    for file in files:
        assert b"75056" not in file.read_bytes()
        with pytest.raises(OSError):
            pq.read_table(file)
    hub.keys.destroy(info.key_name)
    lake.crypto.clear_cache()
    hub.keys.forget_cache()
    with pytest.raises((KeyStoreError, OSError)):
        make_lake(hub).open("demo").read("person")


def test_tampering_is_detected(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    lake = make_lake(hub)
    info = publish(lake, hub)
    folder = lake.root / info.path
    part = next((folder / "tables" / "person").glob("*.parquet"))
    part.write_bytes(part.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="checksum"):
        lake.open("demo").verify()
    manifest = folder / "manifest.json"
    document = json.loads(manifest.read_text())
    document["tables"][0]["rows"] = 4
    manifest.write_text(json.dumps(document))
    with pytest.raises(IntegrityError, match="manifest"):
        lake.open("demo")


def test_one_writer_per_dataset(sqlite_hub: Hub) -> None:
    lake = make_lake(sqlite_hub)
    with lake.begin("demo"):
        with pytest.raises(StateError, match="Another ingest"):
            lake.begin("demo").__enter__()


def test_leftovers_of_a_crash_are_invisible_and_cleaned(sqlite_hub: Hub, tmp_path: Path) -> None:
    hub = sqlite_hub
    lake = make_lake(hub)
    # a child process starts a version, writes a file, and dies without publishing
    code = (
        "import os, pyarrow as pa\n"
        "from havre.core.config import load_settings\n"
        "from havre.hub import Hub\n"
        "from havre.lake import Lake\n"
        "hub = Hub.open(load_settings())\n"
        "lake = Lake(hub.settings, hub.db, hub.keys)\n"
        "builder = lake.begin('demo').__enter__()\n"
        "builder.write_table('person', pa.table({'a': [1]}).to_reader())\n"
        "os._exit(9)\n"
    )
    env = {**os.environ, "HAVRE_HOME": str(hub.home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert done.returncode == 9
    assert (lake.root / "demo" / ".staging" / "v0001").exists()
    # an orphan version folder, as if a crash came between rename and commit
    (lake.root / "demo" / "v0001").mkdir()
    assert lake.versions("demo") == []
    info = publish(lake, hub)
    assert info.version == 1
    assert not any((lake.root / "demo" / ".staging").iterdir())
    assert lake.open("demo").read("person").equals(PEOPLE)


def test_files_written_elsewhere_are_adopted_and_registered(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    """Another engine's encrypted files (Spark's) enter a version as write_table's do."""
    lake = make_lake(sqlite_hub)
    with lake.begin("demo") as builder:
        properties = lake.crypto.encryption_properties(builder.key_name)
        written = []
        for number, part in enumerate((PEOPLE.slice(0, 2), PEOPLE.slice(2))):
            path = tmp_path / f"part-{number}-c000.zstd.parquet"
            pq.write_table(part, path, encryption_properties=properties)
            written.append(path)
        files = builder.adopt_table("person", written)
        assert [f.path for f in files] == [
            "tables/person/part-00000.parquet",
            "tables/person/part-00001.parquet",
        ]
        assert [f.rows for f in files] == [2, 1] and not any(p.exists() for p in written)
        for item in files:
            target = builder.staging / item.path
            assert item.sha256 == sha256_file(target) and item.bytes == target.stat().st_size
        assert builder.staged_dataset(files).to_table().equals(PEOPLE)
