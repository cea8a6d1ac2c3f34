"""What a project released before: the records differencing compares a new output with."""

from __future__ import annotations

from sqlalchemy import select

from havre.db import Database
from havre.disclosure.airlock.compute import Earlier
from havre.disclosure.airlock.store import AirlockFiles
from havre.disclosure.models import ReleasedRecordRow
from havre.disclosure.releases import ReleaseRecord


def released_history(db: Database, files: AirlockFiles, project_id: str) -> list[Earlier]:
    """Every table the project released, with its population when the file can be read."""
    with db.transaction() as session:
        rows = session.execute(
            select(ReleasedRecordRow.output_id, ReleasedRecordRow.record)
            .where(ReleasedRecordRow.project_id == project_id)
            .order_by(ReleasedRecordRow.released_at, ReleasedRecordRow.output_id)
        ).all()
    return [
        Earlier(
            ReleaseRecord.model_validate_json(record), files.read_persons(project_id, output_id)
        )
        for output_id, record in rows
    ]
