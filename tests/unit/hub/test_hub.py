from collections.abc import Callable

from havre.core.config import Settings
from havre.hub import Hub


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
    second.close()


def test_open_finds_the_same_hub(hub: Hub) -> None:
    reopened = Hub.open(hub.settings)
    assert reopened.hub_id == hub.hub_id
    reopened.close()
