"""``hub.projects`` reads the lake's catalog: tables, columns and identifier tags of real
data versions (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from havre.core.errors import UsageError
from havre.governance.projects import IdentifierKind, LakeCatalog
from havre.hub import Hub

from .conftest import DECIDED_ON, Cast, application
from .lake_version import publish_omop


def test_submission_and_issue_read_the_lake(phub: Hub, cast: Cast) -> None:
    info = publish_omop(phub)
    catalog = LakeCatalog(phub.lake)
    assert [v.id for v in catalog.versions("snds")] == [info.id]
    assert catalog.versions("nothing") == []
    columns = catalog.columns("snds", 1)
    assert columns["person"]["month_of_birth"] is IdentifierKind.BIRTH_MONTH
    assert columns["condition_occurrence"]["condition_start_date"] is IdentifierKind.EXACT_DATE
    assert columns["person"]["year_of_birth"] is None

    projects = phub.projects
    doc = application([cast.researcher.user_id])
    doc["data"]["tables"]["measurement"] = ["person_id", "value_as_number"]
    pid = projects.create(cast.actor(cast.lead), doc)
    with pytest.raises(UsageError, match=r"data\.tables\.measurement: no such table in snds v1"):
        projects.submit(cast.actor(cast.lead, pid), pid)
    del doc["data"]["tables"]["measurement"]
    projects.update(cast.actor(cast.lead, pid), pid, doc)
    projects.submit(cast.actor(cast.lead, pid), pid)
    projects.check_completeness(cast.actor(cast.steward), pid, True)
    projects.give_opinion(cast.actor(cast.reviewer), pid, "favourable", "Proportionate.")
    projects.decide(
        cast.actor(cast.admin), pid, "authorised", reference="DR-2027-001", decided_on=DECIDED_ON
    )
    permit = projects.issue(cast.actor(cast.steward), pid)
    assert (permit.data_version_id, permit.data_version) == (info.id, 1)
