"""What the airlock returns to the faces: typed, read-only views (never rows)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from havre.disclosure.models import (
    ReleaseConsolidationRow,
    ReleaseOutputRow,
    ReleaseRequestRow,
    ReleaseReviewRow,
)


@dataclass(frozen=True)
class OutputView:
    id: str
    name: str
    version: int
    kind: str
    status: str
    report: dict[str, Any]
    spec: dict[str, Any]
    spec_sha256: str
    sql_sha256: str | None
    dataset: str | None
    data_version: int | None
    workspace_version: int | None
    permit_version: int
    content_sha256: str | None
    attachment: dict[str, Any] | None
    dp_epsilon: float | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ReleaseOutputRow) -> OutputView:
        attachment = None
        if row.attachment_name is not None:
            attachment = {
                "name": row.attachment_name,
                "sha256": row.attachment_sha256,
                "bytes": row.attachment_bytes,
            }
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            kind=row.kind,
            status=row.status,
            report=json.loads(row.report),
            spec=json.loads(row.spec),
            spec_sha256=row.spec_sha256,
            sql_sha256=row.sql_sha256,
            dataset=row.dataset,
            data_version=row.data_version,
            workspace_version=row.workspace_version,
            permit_version=row.permit_version,
            content_sha256=row.content_sha256,
            attachment=attachment,
            dp_epsilon=row.dp_epsilon,
            created_at=row.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReviewView:
    round: int
    checker_user_id: str
    verdict: str
    verdicts: dict[str, Any]
    comment: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ReleaseReviewRow) -> ReviewView:
        return cls(
            round=row.round,
            checker_user_id=row.checker_user_id,
            verdict=row.verdict,
            verdicts=json.loads(row.verdicts),
            comment=row.comment,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ConsolidationView:
    round: int
    by_user_id: str
    outcome: str
    agreed: bool
    resolution: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ReleaseConsolidationRow) -> ConsolidationView:
        return cls(
            round=row.round,
            by_user_id=row.by_user_id,
            outcome=row.outcome,
            agreed=row.agreed,
            resolution=row.resolution,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ReleaseView:
    id: str
    project_id: str
    state: str
    requester_user_id: str
    round: int
    context: str
    justification: str
    created_at: dt.datetime
    checked_at: dt.datetime
    submitted_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    decided_at: dt.datetime | None
    decided_by: str | None
    released_at: dt.datetime | None
    released_by: str | None
    withdrawn_at: dt.datetime | None
    outputs: tuple[OutputView, ...]
    reviews: tuple[ReviewView, ...]
    reviews_hidden: int  # reviews of this round the viewer may not see yet (blind review)
    consolidations: tuple[ConsolidationView, ...]
    allowed_next: tuple[str, ...]
    manifest_sha256: str | None = None

    @property
    def status_counts(self) -> dict[str, int]:
        counts = {"pass": 0, "fail": 0, "review": 0}
        for output in self.outputs:
            counts[output.status] = counts.get(output.status, 0) + 1
        return counts

    def output(self, name: str) -> OutputView:
        for candidate in self.outputs:
            if candidate.name == name:
                return candidate
        raise KeyError(f"no output {name!r} in release request {self.id}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outputs_status"] = self.status_counts
        return data

    @classmethod
    def build(
        cls,
        row: ReleaseRequestRow,
        outputs: list[ReleaseOutputRow],
        reviews: list[ReviewView],
        hidden: int,
        consolidations: list[ReleaseConsolidationRow],
        allowed_next: list[str],
    ) -> ReleaseView:
        return cls(
            id=row.id,
            project_id=row.project_id,
            state=row.state,
            requester_user_id=row.requester_user_id,
            round=row.round,
            context=row.context,
            justification=row.justification,
            created_at=row.created_at,
            checked_at=row.checked_at,
            submitted_at=row.submitted_at,
            reviewed_at=row.reviewed_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            released_at=row.released_at,
            released_by=row.released_by,
            withdrawn_at=row.withdrawn_at,
            outputs=tuple(OutputView.of(o) for o in outputs),
            reviews=tuple(reviews),
            reviews_hidden=hidden,
            consolidations=tuple(ConsolidationView.of(c) for c in consolidations),
            allowed_next=tuple(allowed_next),
            manifest_sha256=row.manifest_sha256,
        )


@dataclass(frozen=True)
class ReleaseSummary:
    id: str
    project_id: str
    state: str
    requester_user_id: str
    round: int
    outputs: int
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DownloadResult:
    release_id: str
    project_id: str
    out: str
    files: tuple[str, ...]
    bytes: int
    manifest_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Inspection:
    """What a checker looks at before judging an output: its query, its file, its table."""

    request_id: str
    name: str
    kind: str
    sql: str | None
    content: bytes | None  # the CSV as it would be released
    attachment_name: str | None
    attachment: bytes | None


@dataclass(frozen=True)
class BudgetView:
    project_id: str
    total_epsilon: float
    spent_epsilon: float
    remaining_epsilon: float
    set_by: str | None
    entries: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
