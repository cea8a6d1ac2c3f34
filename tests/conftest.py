"""Shared fixtures: hubs in temporary homes, on SQLite and PostgreSQL; SoftHSM2 tokens."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from havre.core.config import Settings, load_settings
from havre.hub import Hub

POSTGRES_ADMIN_URL = os.environ.get(
    "HAVRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's HAVRE_* variables or writes in the working directory."""
    for name in list(os.environ):
        if name.startswith("HAVRE_") and name != "HAVRE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HAVRE_HOME", str(tmp_path / "havre-home"))


def _postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards. Unreachable PostgreSQL is a failure."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"havre_t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable ({type(exc).__name__}); "
            "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Parametrizes a test over both governance stores."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'governance.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: object) -> Settings:
        values: dict[str, object] = {"home": tmp_path / "havre-home"}
        values.update(overrides)
        return load_settings(**values)

    return factory


@pytest.fixture
def hub(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Hub]:
    """A fresh hub, on SQLite and on PostgreSQL."""
    created, _ = Hub.init(make_settings(database_url=database_url))
    try:
        yield created
    finally:
        created.close()


@pytest.fixture
def sqlite_hub(make_settings: Callable[..., Settings]) -> Iterator[Hub]:
    """A fresh hub on SQLite only (for tests that are not about the governance store)."""
    created, _ = Hub.init(make_settings())
    try:
        yield created
    finally:
        created.close()


@pytest.fixture(scope="session")
def _softhsm_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SoftHSM2 configuration per test run: the library reads it once per process."""
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.exists():
        pytest.fail("SoftHSM2 is not installed; run scripts/system-deps.sh")
    directory = tmp_path_factory.mktemp("softhsm")
    tokens = directory / "tokens"
    tokens.mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(config)
    return config


@pytest.fixture(scope="session")
def _softhsm_session_token(_softhsm_config: Path) -> dict[str, str]:
    label = f"havre-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            "123456",
            "--so-pin",
            "654321",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(_softhsm_config)},
    )
    return {"module": str(SOFTHSM_MODULE), "label": label, "pin": "123456"}


@pytest.fixture
def softhsm_token(_softhsm_session_token: dict[str, str]) -> dict[str, str]:
    """The run's SoftHSM2 token, with a master key label of this test's own.

    SoftHSM2 reads its token list once per process, so tests share one token and are kept
    apart by the label of their master key.
    """
    return {**_softhsm_session_token, "key_label": f"master-{uuid.uuid4().hex[:8]}"}
