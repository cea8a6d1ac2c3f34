from pathlib import Path

import pytest

from havre.core.config import load_settings, mask_url
from havre.core.errors import ConfigError


def test_defaults_use_sqlite_in_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/havre.db"
    assert settings.engine == "duckdb"
    assert settings.key_store == "local"


def test_invalid_value_names_setting_and_accepted_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVRE_ENGINE", "oracle")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "HAVRE_ENGINE" in message
    assert "'duckdb' or 'spark'" in message


def test_memory_size_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVRE_DUCKDB_MEMORY_LIMIT", "plenty")
    with pytest.raises(ConfigError, match="HAVRE_DUCKDB_MEMORY_LIMIT"):
        load_settings()


def test_toml_in_home_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "havre.toml").write_text('engine = "spark"\nduckdb_threads = 1\n')
    monkeypatch.setenv("HAVRE_HOME", str(home))
    assert load_settings().engine == "spark"
    monkeypatch.setenv("HAVRE_ENGINE", "duckdb")
    settings = load_settings()
    assert settings.engine == "duckdb"
    assert settings.duckdb_threads == 1


def test_unknown_setting_in_toml_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "havre.toml").write_text("enigne = 'spark'\n")
    monkeypatch.setenv("HAVRE_HOME", str(home))
    with pytest.raises(ConfigError, match="enigne"):
        load_settings()


def test_password_is_masked() -> None:
    masked = mask_url("postgresql+psycopg://havre:s3cret@db.example/havre")
    assert "s3cret" not in masked
    assert "***" in masked
