from collections.abc import Callable

import pytest
from alembic import command

from havre.core.config import Settings
from havre.core.errors import NotInitializedError
from havre.db import Database
from havre.db.migrate import HEAD_REVISION, alembic_config, current_revision, script_head
from havre.hub import Hub


def downgrade(database: Database, revision: str) -> None:
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_init_twice_is_harmless(make_settings: Callable[..., Settings], database_url: str) -> None:
    settings = make_settings(database_url=database_url)
    first, report1 = Hub.init(settings)
    first.close()
    second, report2 = Hub.init(settings)
    assert report1.created and not report2.created
    assert report1.hub_id == report2.hub_id
    status = second.status()
    assert status.audit_entries == 1
    assert status.schema_revision == status.schema_head
    assert (status.engine, status.spark_master) == ("duckdb", None)
    spark = settings.model_copy(update={"engine": "spark", "spark_master": "spark://h:7077"})
    with Hub.open(spark) as other:  # named, not started: status starts no engine
        assert other.status().spark_master == "spark://h:7077"
    second.close()


def test_open_finds_the_same_hub(hub: Hub) -> None:
    reopened = Hub.open(hub.settings)
    assert reopened.hub_id == hub.hub_id
    reopened.close()


def test_an_older_schema_is_named_and_init_upgrades_it(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    hub, _ = Hub.init(settings)
    head = hub.status().schema_head
    downgrade(hub.db, "0007_airlock")  # as a hub made by an earlier Havre
    hub.close()
    with pytest.raises(NotInitializedError, match="0007_airlock") as refused:
        Hub.open(settings)
    assert "havre init" in (refused.value.hint or "")
    upgraded, report = Hub.init(settings)
    assert not report.created and upgraded.status().schema_revision == head
    upgraded.close()
    Hub.open(settings).close()


def test_the_head_revision_is_the_newest_migration_script() -> None:
    # a new migration must move HEAD_REVISION, or every hub would refuse to open
    assert script_head() == HEAD_REVISION


def test_the_revision_is_read_as_alembic_writes_it(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    hub, _ = Hub.init(make_settings(database_url=database_url))
    assert current_revision(hub.db) == HEAD_REVISION
    downgrade(hub.db, "0008_audit_canonical")
    assert current_revision(hub.db) == "0008_audit_canonical"
    downgrade(hub.db, "base")
    assert current_revision(hub.db) is None
    hub.close()
