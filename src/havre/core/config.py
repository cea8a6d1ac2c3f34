"""Settings: one typed object, from ``HAVRE_*`` environment variables and ``havre.toml``.

Order of precedence: explicit arguments, then the environment, then ``$HAVRE_HOME/havre.toml``,
then the defaults below. An invalid value is a ``ConfigError`` naming the setting and the
values it accepts.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from havre.core.errors import ConfigError

SETTINGS_FILE = "havre.toml"
DEFAULT_HOME = Path("havre-home")


def home_from_environment() -> Path:
    return Path(os.environ.get("HAVRE_HOME", str(DEFAULT_HOME))).expanduser()


class Settings(BaseSettings):
    """Every knob of a hub. Documented in docs/settings.md (a test keeps it complete)."""

    model_config = SettingsConfigDict(
        env_prefix="HAVRE_",
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
    )

    home: Path = Field(default=DEFAULT_HOME, description="Folder holding the hub.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the governance store; default SQLite in the home.",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="Engine for the data paths."
    )
    spark_master: str = Field(default="local[2]", description="spark.master when engine=spark.")
    key_store: Literal["local", "pkcs11"] = Field(default="local", description="Key store backend.")
    master_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase the local key store derives its master key from."
    )
    master_key_file: Path | None = Field(
        default=None, description="File holding the local master key (32 random bytes)."
    )
    pkcs11_module: Path = Field(
        default=Path("/usr/lib/softhsm/libsofthsm2.so"), description="PKCS#11 library."
    )
    pkcs11_token_label: str = Field(default="havre", description="PKCS#11 token label.")
    pkcs11_pin: SecretStr | None = Field(default=None, description="PKCS#11 user PIN.")
    pkcs11_key_label: str = Field(
        default="havre-master", description="Label of the master key inside the token."
    )
    duckdb_memory_limit: str = Field(default="4GB", description="DuckDB memory_limit.")
    duckdb_threads: int = Field(default=2, ge=1, le=512, description="DuckDB threads.")
    transparent_huge_pages: Literal["off", "system"] = Field(
        default="off",
        description="Transparent huge pages of a process running a data path: off, or the "
        "system's setting.",
    )
    session_idle_minutes: int = Field(default=15, ge=1, description="Idle session expiry.")
    session_absolute_hours: int = Field(default=8, ge=1, description="Absolute session expiry.")
    lockout_threshold: int = Field(
        default=5, ge=3, le=10, description="Consecutive failed sign-ins that lock an account."
    )
    inactivity_days: int = Field(
        default=90, ge=1, description="Days without sign-in after which an account is suspended."
    )
    api_token_max_days: int = Field(
        default=90, ge=1, le=366, description="Longest lifetime of an API token, in days."
    )
    audit_retention_days: int = Field(
        default=366, ge=366, description="How long access records stay online (at least a year)."
    )
    audit_checkpoint_every: int = Field(
        default=1000, ge=1, description="Entries after which an append makes a signed checkpoint."
    )
    audit_checkpoint_minutes: float = Field(
        default=60.0, gt=0, description="Minutes after which an append makes a signed checkpoint."
    )
    disclosure_threshold: int = Field(
        default=10, ge=1, description="Minimum persons per released cell."
    )
    query_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Time limit of a workspace query."
    )
    query_memory_limit: str = Field(default="2GB", description="Memory limit of a workspace query.")
    query_max_rows: int = Field(default=100_000, ge=1, description="Row cap of a query result.")
    workspace_shift_days: int = Field(
        default=180, ge=1, le=3650, description="Largest date offset (days) of shifted dates."
    )
    workspace_cache_size: int = Field(
        default=4, ge=1, le=64, description="Loaded workspaces kept by the query service."
    )
    workspace_cache_idle_minutes: float = Field(
        default=30.0, gt=0, description="Minutes after which an unused loaded workspace is dropped."
    )
    hosting_region: str = Field(default="FR", description="Where the hub is hosted (ISO code).")
    risk_target_k: int = Field(
        default=5, ge=0, description="k the permit review's risk suggestions aim at (0: none)."
    )
    risk_target_risk: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Average prosecutor risk the risk suggestions aim at (0: none).",
    )
    risk_rare_prevalence: float = Field(
        default=0.0005,
        gt=0,
        lt=1,
        description="Share of a data version's persons at or below which a diagnosis is rare.",
    )
    disclosure_policy_file: Path | None = Field(
        default=None, description="The hub's disclosure policy document (TOML or JSON)."
    )
    privacy_budget_epsilon: float = Field(
        default=1.0, gt=0, le=100, description="Each project's total differential privacy budget."
    )
    release_max_rows: int = Field(
        default=5_000_000, ge=1, description="Most person-level rows an airlock output may use."
    )

    @field_validator("duckdb_memory_limit", "query_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        text = value.strip().upper().replace(" ", "")
        units = ("KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB", "B")
        number = text
        for unit in units:
            if text.endswith(unit):
                number = text[: -len(unit)]
                break
        else:
            raise ValueError("a size such as 512MB or 4GB")
        try:
            if float(number) <= 0:
                raise ValueError
        except ValueError:
            raise ValueError("a size such as 512MB or 4GB") from None
        return text

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = _home_hint(init_settings)
        toml_file = home / SETTINGS_FILE
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'havre.db').resolve()}"

    def masked_database_url(self) -> str:
        return mask_url(self.resolved_database_url)


def _home_hint(init_settings: PydanticBaseSettingsSource) -> Path:
    explicit = init_settings().get("home")
    if explicit:
        return Path(str(explicit)).expanduser()
    return home_from_environment()


def mask_url(url: str) -> str:
    """Hide the password of a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given, it has no parsable password
        return url


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation failures into a clear ``ConfigError``."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "?"
            env = f"HAVRE_{name.upper()}"
            accepted = _accepted(error)
            problems.append(f"{name} ({env}): {accepted}; got {error.get('input')!r}")
        raise ConfigError(
            "Invalid setting: " + "; ".join(problems),
            hint="fix the environment variable or havre.toml; see docs/settings.md",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Cannot read {SETTINGS_FILE}: {exc}") from None


def _accepted(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return f"expected {ctx['expected']}"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")
