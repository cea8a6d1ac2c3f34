"""Each workspace is encrypted with its project's own key; closing the project destroys the
key, and the workspace becomes unreadable."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from havre.core.errors import KeyStoreError, PermissionDenied, StateError
from havre.governance.projects import workspace_key_name
from havre.hub import Hub
from havre.keys import KeyPurpose, KeyState
from havre.keys.parquet import ParquetCrypto
from havre.workspace import registry

from .conftest import WHY, HubWorld, audit_lines


def test_closure_makes_the_workspace_unreadable(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project()
    researcher = sqlite_world.actor(sqlite_world.researcher, project, WHY)
    hub.workspaces.build(researcher, project)
    hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert hub.workspaces.loaded()  # the service holds the loaded workspace

    folder = hub.settings.home / "workspaces" / project / "v0001"
    person_file = folder / "tables" / "person.parquet"
    info = hub.keys.info(workspace_key_name(project))
    assert info.purpose is KeyPurpose.WORKSPACE
    # its own key: the lake's and other projects' keys do not open it
    with pytest.raises(OSError):
        pq.read_table(person_file)
    assert (
        pq.read_table(
            person_file, decryption_properties=ParquetCrypto(hub.keys).decryption_properties()
        ).num_rows
        == 200
    )

    hub.projects.close(sqlite_world.actor(sqlite_world.lead, project), project, "Study finished.")
    info = hub.keys.info(workspace_key_name(project))
    assert all(v.state is KeyState.DESTROYED for v in info.versions)

    with pytest.raises(PermissionDenied, match="closed"):
        hub.workspaces.query(researcher, project, "SELECT count(*) FROM person")
    assert not hub.workspaces.loaded()  # the refusal dropped the plaintext from memory
    with pytest.raises((KeyStoreError, OSError)):
        pq.read_table(
            person_file, decryption_properties=ParquetCrypto(hub.keys).decryption_properties()
        )
    with pytest.raises(KeyStoreError):
        hub.workspaces.files.read_manifest(f"{project}/v0001", _manifest_sha(hub, project), project)
    status = hub.workspaces.status(sqlite_world.actor(sqlite_world.steward), project)
    assert status.built and not status.readable and status.tables == ()

    steward = sqlite_world.actor(sqlite_world.steward, None, "Closure of the project.")
    purged = hub.workspaces.purge(steward, project)
    assert purged.versions == 1 and not folder.parent.exists()
    assert [line["outcome"] for line in audit_lines(hub, "workspace.purge")] == ["ok"]


def test_purge_waits_for_closure(sqlite_world: HubWorld) -> None:
    hub = sqlite_world.hub
    project = sqlite_world.active_project()
    steward = sqlite_world.actor(sqlite_world.steward, None, WHY)
    hub.workspaces.build(steward, project)
    with pytest.raises(StateError, match="not closed"):
        hub.workspaces.purge(steward, project)
    with pytest.raises(PermissionDenied):
        hub.workspaces.purge(sqlite_world.actor(sqlite_world.researcher, project, WHY), project)
    assert [line["outcome"] for line in audit_lines(hub, "workspace.purge")] == [
        "denied",
        "denied",
    ]


def _manifest_sha(hub: Hub, project: str) -> str:
    with hub.db.transaction() as session:
        rows = registry.versions(session, project)
    return rows[-1].manifest_sha256
