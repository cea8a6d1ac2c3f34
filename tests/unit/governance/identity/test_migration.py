from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from havre.db.models import metadata
from havre.hub import Hub

IDENTITY_TABLES = {
    "users",
    "user_totp",
    "user_recovery_codes",
    "role_grants",
    "user_sessions",
    "api_tokens",
    "access_campaigns",
    "access_campaign_items",
}


def _tables_of(diff: object) -> set[str]:
    names = set()
    stack = [diff]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple) and item and str(item[0]).startswith("modify_"):
            names.add(str(item[2]))  # ("modify_type", schema, table, column, ...)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif hasattr(item, "table") and getattr(item.table, "name", None):
            names.add(item.table.name)
        elif hasattr(item, "name") and isinstance(getattr(item, "name", None), str):
            names.add(item.name)
    return names


def test_migration_0003_matches_the_models(ihub: Hub) -> None:
    with ihub.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, metadata)
    ours = [d for d in diffs if _tables_of(d) & IDENTITY_TABLES]
    assert ours == []
    present = set(metadata.tables) & IDENTITY_TABLES
    assert present == IDENTITY_TABLES
