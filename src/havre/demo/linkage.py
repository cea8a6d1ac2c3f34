"""The check that two projects' person ids do not link, made with the hub's own knowledge.

A researcher holding both extracts would join them on ``person_id``. Each workspace numbers
its persons 1, 2, ... in the order of an HMAC under its own project key, so the same integer
in both is the same person only by chance. Only the hub can check this: it recomputes, for
every person of the data version, the project key of each workspace (the SQL HMAC the
extraction runs, over the lake's hub pseudonyms) and reads each workspace's encrypted mapping
(project key → integer). Everything stays in memory; the audit log records the check
(``demo.linkage_check``, by the operator who holds the keys) with its counts only.

Chance level: a person in both workspaces, numbered uniformly at random among ``n_a`` and
``n_b`` persons, gets the same integer with probability ``1 / max(n_a, n_b)``; the expected
number of such coincidences is ``persons_in_both / max(n_a, n_b)`` — about one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from havre.audit import Target, audited
from havre.core.actor import Actor
from havre.core.errors import StateError
from havre.demo.actions import DemoAction
from havre.governance.projects import workspace_key_name
from havre.hub import Hub
from havre.keys.parquet import ParquetCrypto
from havre.pseudo.hmac_sql import hmac_sql
from havre.workspace import registry
from havre.workspace.pseudonyms import ProjectSecrets


@dataclass(frozen=True)
class LinkageCheck:
    projects: list[str]
    persons: list[int]  # persons numbered in each workspace
    persons_in_both: int  # the same real persons in both workspaces
    ids_in_both: int  # integers present in both workspaces: what a naive join would pair
    same_person: int  # of those pairs, how many are truly the same person
    expected_by_chance: float


def check_linkage(hub: Hub, first: str, second: str) -> LinkageCheck:
    operator = Actor.operator("demo: check that two projects' person ids do not link")
    target = Target("workspace", f"{first}+{second}")
    with audited(hub.db, hub.audit, operator, DemoAction.LINKAGE_CHECK, target) as scope:
        connection = duckdb.connect(":memory:", config={"threads": hub.settings.duckdb_threads})
        try:
            numbered = [
                _numbered(hub, connection, project, i) for i, project in enumerate((first, second))
            ]
            rows = connection.sql(
                "SELECT count(*) AS both_, count(*) FILTER (WHERE a.pid = b.pid) AS same "
                "FROM ids_0 a JOIN ids_1 b USING (hub_pseudonym)"
            ).fetchall()
            shared = connection.sql(
                "SELECT count(*) FROM (SELECT pid FROM ids_0 INTERSECT SELECT pid FROM ids_1)"
            ).fetchall()
        finally:
            connection.close()
        persons_in_both, same = int(rows[0][0]), int(rows[0][1])
        check = LinkageCheck(
            projects=[first, second],
            persons=numbered,
            persons_in_both=persons_in_both,
            ids_in_both=int(shared[0][0]),
            same_person=same,
            expected_by_chance=round(persons_in_both / max(max(numbered), 1), 3),
        )
        scope.details = {k: v for k, v in asdict(check).items() if k != "projects"}
    return check


def _numbered(hub: Hub, connection: duckdb.DuckDBPyConnection, project: str, index: int) -> int:
    """Registers ``ids_<index>`` (hub_pseudonym, pid) for the persons the workspace numbered."""
    files = hub.workspaces.files
    with hub.db.transaction() as session:
        row = registry.current(session, project)
    if row is None:
        raise StateError(
            f"Project {project} has no workspace to check.",
            hint="build both workspaces first",
        )
    label = f"{project}@v{row.version}"
    manifest = files.read_manifest(row.path, row.manifest_sha256, label)
    key, version = hub.keys.data_key(workspace_key_name(project), manifest.pseudonym_key_version)
    secrets = ProjectSecrets.derive(key, version, manifest.shift_days)
    crypto = ParquetCrypto(hub.keys)
    try:
        mapping = files.open_file(row.path, manifest.pseudonyms, crypto, label).read()
    finally:
        crypto.clear_cache()
    persons = hub.lake.open(row.dataset, row.data_version).read("person", ["hub_pseudonym"])
    connection.register(f"pads_{index}", secrets.pseudonym_pads())
    connection.register(f"mapping_{index}", mapping)
    connection.register(f"lake_{index}", persons)
    project_key = hmac_sql("l.hub_pseudonym", f"pads_{index}")
    connection.execute(
        f"CREATE TABLE ids_{index} AS SELECT l.hub_pseudonym, m.project_person_id AS pid "
        f"FROM lake_{index} l CROSS JOIN pads_{index} "
        f"JOIN mapping_{index} m ON m.project_key = {project_key}"
    )
    for name in (f"pads_{index}", f"mapping_{index}", f"lake_{index}"):
        connection.unregister(name)
    return int(mapping.num_rows)
