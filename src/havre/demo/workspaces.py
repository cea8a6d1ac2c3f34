"""Step 4: each project's researcher builds their workspace from the permit in force; the
status shows what it holds; the hub checks that the two projects' person ids do not link."""

from __future__ import annotations

from dataclasses import dataclass, field

from havre.demo.cast import Cast
from havre.demo.linkage import LinkageCheck, check_linkage
from havre.demo.projects import ProjectStory
from havre.hub import Hub

BUILD_WHY = {
    "complications": "Build the cohort extract the permit grants for the complications study.",
    "territories": "Build the extract the permit grants for the territorial follow-up study.",
}


@dataclass(frozen=True)
class WorkspaceFacts:
    key: str
    project_id: str
    built_by: str
    version: int
    permit_version: int
    dataset: str
    data_version: int
    access_level: str
    date_policy: str
    persons: int
    rows: int
    bytes: int
    tables: dict[str, int]  # table -> rows
    withheld: list[str]  # granted columns a workspace never carries
    optouts_checked: bool
    objectors_removed: int
    seconds: float


@dataclass(frozen=True)
class Workspaces:
    built: list[WorkspaceFacts] = field(default_factory=list)
    linkage: LinkageCheck | None = None


def build(hub: Hub, cast: Cast, stories: list[ProjectStory]) -> Workspaces:
    facts: list[WorkspaceFacts] = []
    for story in stories:
        who = "researcher_a" if story.key == "complications" else "researcher_b"
        actor = cast.actor(who, story.project_id, BUILD_WHY[story.key])
        made = hub.workspaces.build(actor, story.project_id)
        status = hub.workspaces.status(actor, story.project_id)
        facts.append(
            WorkspaceFacts(
                key=story.key,
                project_id=story.project_id,
                built_by=cast[who].character.name,
                version=made.version,
                permit_version=made.permit_version,
                dataset=made.dataset,
                data_version=made.data_version,
                access_level=status.access_level or story.access_level,
                date_policy=status.date_policy or "",
                persons=made.persons,
                rows=made.rows,
                bytes=made.bytes,
                tables={t.name: t.rows for t in made.tables},
                withheld=list(status.withheld),
                optouts_checked=made.optouts_checked,
                objectors_removed=made.objectors_removed,
                seconds=made.seconds,
            )
        )
    linkage = check_linkage(hub, stories[0].project_id, stories[1].project_id)
    return Workspaces(built=facts, linkage=linkage)
