import json
import subprocess
import sys
from pathlib import Path


def havre(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVRE_")}
    env["HAVRE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "havre.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_init_twice_then_status_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = havre("init", "--json", home=home)
    assert first.returncode == 0, first.stderr
    second = havre("init", "--json", home=home)
    assert second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["hub_id"] == json.loads(second.stdout)["hub_id"]
    assert json.loads(second.stdout)["created"] is False
    status = havre("status", "--json", home=home)
    data = json.loads(status.stdout)
    for field in ("home", "database_url", "schema_revision", "key_store", "engine"):
        assert field in data
    assert data["engine"] == "duckdb"


def test_status_without_hub_is_a_clear_error(tmp_path: Path) -> None:
    result = havre("status", "--json", home=tmp_path / "nowhere")
    assert result.returncode == 12
    assert json.loads(result.stdout)["error"] == "hub_not_initialized"
    assert "havre init" in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "havre.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("havre ")
