"""A crash mid-ingest leaves no version behind, and the next run succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from havre.core.actor import Actor
from havre.hub import Hub

from .deliveries import snds_tables, write_snds
from .services import services

CHILD = """
import os, sys, time
from pathlib import Path
from havre.core.actor import Actor
from havre.core.config import load_settings
from havre.governance.optouts import OptOutRegister
from havre.hub import Hub
from havre.ingest.pipeline import Ingestion
from havre.lake import Lake
from havre.lake import staging
from havre.pseudo import Pseudonymizer

mode, ready, delivery = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if mode == "writing":
    original = staging.VersionBuilder.write_table
    def write_table(self, name, data, **options):
        files = original(self, name, data, **options)
        ready.write_text("writing")
        time.sleep(60)  # killed here, half of the tables written
        return files
    staging.VersionBuilder.write_table = write_table
else:
    rename = os.rename
    def crash_after_rename(source, target):
        rename(source, target)
        os._exit(9)  # the version folder is in place, its registry row never committed
    staging.os.rename = crash_after_rename
hub = Hub.open(load_settings())
pseudo = Pseudonymizer(hub.keys)
lake = Lake(hub.settings, hub.db, hub.keys)
register = OptOutRegister(hub.db, hub.audit, pseudo, hub.settings)
Ingestion(hub.settings, hub.db, hub.audit, lake, register, pseudo).ingest(
    Actor.operator(), delivery, "snds")
"""


def _child(hub: Hub, mode: str, ready: Path, delivery: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HAVRE_HOME": str(hub.home)}
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(ready), str(delivery)], env=env)


@pytest.mark.slow
def test_killed_ingest_leaves_nothing_and_the_rerun_succeeds(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    hub = sqlite_hub
    delivery = write_snds(tmp_path / "snds", snds_tables(dirty=True))
    ready = tmp_path / "ready"
    child = _child(hub, "writing", ready, delivery)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert child.poll() is None, "the ingest ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    s = services(hub)
    assert s.lake.versions() == []
    staged = list((hub.home / "lake" / "snds" / ".staging").rglob("*.parquet"))
    assert staged, "the kill came while files were being written"

    crash = _child(hub, "renamed", ready, delivery)
    assert crash.wait(timeout=120) == 9
    assert (hub.home / "lake" / "snds" / "v0001").is_dir()
    assert s.lake.versions() == []  # a folder without its registry row is not a version

    result = s.ingestion.ingest(Actor.operator(), delivery, "snds")
    assert (result.created, result.version) == (True, 1)
    version = s.lake.open("snds")
    version.verify()
    assert version.read("person").num_rows == result.lake_rows["person"]
    assert not list((hub.home / "lake" / "snds" / ".staging").iterdir())
    again = s.ingestion.ingest(Actor.operator(), delivery, "snds")
    assert not again.created
