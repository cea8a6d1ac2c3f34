"""Transparent huge pages: off for a process running a data path, unless the hub says not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes
from havre.core.config import Settings
from havre.lake.engine import PR_GET_THP_DISABLE, PR_SET_THP_DISABLE, huge_pages_off
libc = ctypes.CDLL(None)
# the flag is inherited (the test's own process may have turned it off): start from "system"
libc.prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0)
before = libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)
off = huge_pages_off(Settings())
print(before, int(off), libc.prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0))
"""


def _probe(setting: str | None, tmp_path: os.PathLike[str]) -> list[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(tmp_path)
    if setting is not None:
        env["HAVRE_TRANSPARENT_HUGE_PAGES"] = setting
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return [int(n) for n in done.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_off_by_default_and_left_alone_when_asked(tmp_path: os.PathLike[str]) -> None:
    assert _probe(None, tmp_path) == [0, 1, 1]
    assert _probe("system", tmp_path) == [0, 0, 0]


def test_an_unknown_value_is_refused(tmp_path: os.PathLike[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, "HAVRE_HOME": str(tmp_path), "HAVRE_TRANSPARENT_HUGE_PAGES": "on"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "transparent_huge_pages" in done.stderr
