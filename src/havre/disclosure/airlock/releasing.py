"""Release, download, and a checker's inspection of a candidate.

Release writes the approved files and their provenance manifest to
``$HAVRE_HOME/releases/<project>/<request>/`` and records each released table for later
differencing, in one audited transaction. Before that, it decrypts the candidates and checks
them against the hashes recorded when they were checked, and compares them with whatever the
project released since (another request may have left in between): a new differencing
finding refuses the release. Only a released request can be downloaded, file by file checked
against the manifest, whose own hash is in the governance store.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.errors import (
    DisclosureError,
    IntegrityError,
    PermissionDenied,
    StateError,
    UsageError,
)
from havre.core.hashing import sha256_bytes, sha256_file
from havre.disclosure.airlock.actions import ReleaseAction
from havre.disclosure.airlock.base import AirlockBase
from havre.disclosure.airlock.compute import Earlier
from havre.disclosure.airlock.duties import require_independent_checker, require_releaser
from havre.disclosure.airlock.history import released_history
from havre.disclosure.airlock.manifest import (
    CheckerVerdict,
    OutputProvenance,
    ProvenanceManifest,
    ReleasedFile,
)
from havre.disclosure.airlock.population import overlap
from havre.disclosure.airlock.requesting import parse_json
from havre.disclosure.airlock.states import ReleaseState, Step, require_step
from havre.disclosure.airlock.store import MANIFEST, Part, write_private
from havre.disclosure.airlock.views import DownloadResult, Inspection, ReleaseView
from havre.disclosure.differencing import differencing_findings
from havre.disclosure.models import (
    ReleaseConsolidationRow,
    ReleasedRecordRow,
    ReleaseOutputRow,
    ReleaseRequestRow,
    ReleaseReviewRow,
)
from havre.disclosure.releases import PopulationOverlap, ReleaseRecord
from havre.governance.identity import Role, require_person

CSV = "text/csv"
MEDIA_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}
INSPECTABLE = (ReleaseState.SUBMITTED, ReleaseState.REVIEWED, ReleaseState.APPROVED)


@dataclass
class Prepared:
    row: ReleaseOutputRow
    files: list[tuple[str, str, bytes]]  # (file name, media type, data)
    record: ReleaseRecord | None
    earlier: Earlier | None  # the record with its persons, for the differencing re-check


class ReleasingMixin(AirlockBase):
    def release(self, actor: Actor, request_id: str) -> ReleaseView:
        """Write the approved outputs and their manifest; record what left (see above)."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        details: dict[str, object] = {}
        staged: Path | None = None
        try:
            with self.db.transaction() as session:
                row = self.load(session, request_id)
                user_id = require_releaser(actor, row, team)
                require_step(row.id, ReleaseState(row.state), Step.RELEASE)
                self.require_live(project_id, session)
                outputs = self.outputs(session, row.id)
                reviews = self.reviews(session, row.id, row.round)
                consolidation = self.consolidations(session, row.id)[-1]
            prepared = [self._prepare(project_id, row, output) for output in outputs]
            known = self._recheck(project_id, row, prepared)
            staged = self.files.staging(project_id, request_id)
            released_at = self.now()
            manifest = self._manifest(row, prepared, reviews, consolidation, user_id, released_at)
            total = self._write_files(staged, prepared, manifest)
        except Exception as error:
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            self.record_failure(
                actor, ReleaseAction.RELEASE, request_id, project_id, details, error
            )
            raise
        published: str | None = None
        try:
            with self.audited_request(
                actor, ReleaseAction.RELEASE, request_id, project_id
            ) as scope:
                session = scope.session
                self.lock_project(session, project_id)
                row = self.load(session, request_id, lock=True)
                require_releaser(actor, row, team)
                require_step(row.id, ReleaseState(row.state), Step.RELEASE)
                self.require_live(project_id, session)
                self._nothing_released_since(session, project_id, known)
                for item in prepared:
                    if item.record is not None:
                        session.add(self._record_row(row, item.row, item.record, released_at))
                published = self.files.publish(staged, project_id, request_id)
                row.state = ReleaseState.RELEASED.value
                row.released_at = row.updated_at = released_at
                row.released_by = user_id
                row.release_path = published
                row.manifest_sha256 = sha256_bytes(manifest.to_bytes())
                session.flush()
                scope.details = {
                    "outputs": len(prepared),
                    "files": sum(len(p.files) for p in prepared) + 1,
                    "bytes": total,
                    "manifest_sha256": row.manifest_sha256,
                    "recorded_tables": sum(1 for p in prepared if p.record is not None),
                }
                view = self.view(session, row, actor, team)
        except BaseException:
            target = self.files.released_dir(published) if published else staged
            shutil.rmtree(target, ignore_errors=True)
            raise
        self._after_release(project_id, request_id, prepared)
        return view

    def download(self, actor: Actor, request_id: str, out: Path) -> DownloadResult:
        """Copy a released request's files and manifest into ``out`` (checked first)."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        copied: list[Path] = []
        try:
            with self.audited_request(
                actor, ReleaseAction.DOWNLOAD, request_id, project_id
            ) as scope:
                row = self.load(scope.session, request_id)
                self._require_downloader(actor, row, team)
                if row.state != ReleaseState.RELEASED.value:
                    raise StateError(
                        f"Release request {row.id} is {row.state}: only released outputs can be "
                        "downloaded.",
                        state=row.state,
                    )
                names = self._verified_files(row)
                out.mkdir(parents=True, exist_ok=True)
                clashes = sorted(n for n in names if (out / n).exists())
                if clashes:
                    raise UsageError(
                        f"{out} already holds {', '.join(clashes)}: nothing was copied.",
                        hint="choose an empty folder",
                    )
                source = self.files.released_dir(row.release_path or "")
                total = 0
                for name in names:
                    copied.append(out / name)
                    shutil.copyfile(source / name, out / name)
                    total += (out / name).stat().st_size
                scope.details = {
                    "files": len(names),
                    "bytes": total,
                    "manifest_sha256": row.manifest_sha256,
                }
                assert row.manifest_sha256 is not None
                result = DownloadResult(
                    release_id=row.id,
                    project_id=project_id,
                    out=str(out),
                    files=tuple(names),
                    bytes=total,
                    manifest_sha256=row.manifest_sha256,
                )
        except BaseException:
            for path in copied:
                path.unlink(missing_ok=True)
            raise
        return result

    def inspect(self, actor: Actor, request_id: str, output_name: str) -> Inspection:
        """What a checker looks at: the output's query, its file as it would leave, and the
        figure or model file the researcher attached (audited: it is not released yet)."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        with self.audited_request(actor, ReleaseAction.INSPECT, request_id, project_id) as scope:
            row = self.load(scope.session, request_id)
            require_independent_checker(actor, row, team, "inspect")
            if ReleaseState(row.state) not in INSPECTABLE:
                raise StateError(
                    f"Release request {row.id} is {row.state}: candidates are inspected while "
                    "it is submitted, reviewed or approved.",
                    state=row.state,
                )
            output = next(
                (o for o in self.outputs(scope.session, row.id) if o.name == output_name), None
            )
            if output is None:
                raise UsageError(f"Release request {row.id} has no output {output_name!r}.")
            scope.details = {"output_id": output.id, "kind": output.kind, "round": row.round}
            # read inside the audited block: a candidate that cannot be read is audited too
            read = self.files.read
            spec = read(project_id, request_id, output.id, Part.SPEC)
            return Inspection(
                request_id=request_id,
                name=output.name,
                kind=output.kind,
                sql=parse_json(spec).get("sql") if spec is not None else None,
                content=read(project_id, request_id, output.id, Part.CONTENT),
                attachment_name=output.attachment_name,
                attachment=read(project_id, request_id, output.id, Part.ATTACHMENT),
            )

    # -- helpers ------------------------------------------------------------------------------
    def _prepare(
        self, project_id: str, request: ReleaseRequestRow, output: ReleaseOutputRow
    ) -> Prepared:
        label = f"output {output.name!r} of {request.id}"
        files: list[tuple[str, str, bytes]] = []
        if output.content_sha256 is not None:
            content = self._verified(project_id, request.id, output, Part.CONTENT, label)
            if sha256_bytes(content) != output.content_sha256:
                raise IntegrityError(f"The candidate file of {label} does not match its check.")
            files.append((f"{output.name}.csv", CSV, content))
        if output.attachment_sha256 is not None and output.attachment_name is not None:
            data = self._verified(project_id, request.id, output, Part.ATTACHMENT, label)
            if sha256_bytes(data) != output.attachment_sha256:
                raise IntegrityError(f"The attached file of {label} does not match its check.")
            media = (
                "image/png"
                if output.attachment_name.endswith(".png")
                else (
                    "image/svg+xml"
                    if output.attachment_name.endswith(".svg")
                    else "application/octet-stream"
                )
            )
            files.append((output.attachment_name, media, data))
        record = None
        earlier = None
        raw = self.files.read(project_id, request.id, output.id, Part.RECORD)
        if raw is not None:
            record = ReleaseRecord.model_validate_json(raw)
            earlier = Earlier(record, self.files.read_persons(project_id, output.id))
        return Prepared(output, files, record, earlier)

    def _verified(
        self, project_id: str, request_id: str, output: ReleaseOutputRow, part: Part, label: str
    ) -> bytes:
        data = self.files.read(project_id, request_id, output.id, part)
        if data is None:
            raise IntegrityError(
                f"The candidate file of {label} is missing.",
                hint="return the request so its outputs are checked again",
            )
        return data

    def _recheck(
        self, project_id: str, request: ReleaseRequestRow, prepared: list[Prepared]
    ) -> set[str]:
        """Compare the outputs with what the project released since they were checked; returns
        the ids of every released output considered."""
        history = released_history(self.db, self.files, project_id)
        with self.db.transaction() as session:
            since = set(
                session.execute(
                    select(ReleasedRecordRow.output_id).where(
                        ReleasedRecordRow.project_id == project_id,
                        ReleasedRecordRow.released_at >= request.checked_at,
                    )
                ).scalars()
            )
        newer = [e for e in history if e.record.release_id in since]
        for item in prepared:
            if item.earlier is None:
                continue
            policy = self.policy(item.row.dataset, project_id)
            threshold = policy.params.threshold
            for before in newer:
                pair = _overlaps(item.earlier, before)
                found = differencing_findings(
                    item.earlier.record, [before.record], threshold, pair
                ) or differencing_findings(
                    before.record, [item.earlier.record], threshold, _overlaps(before, item.earlier)
                )
                if found:
                    raise DisclosureError(
                        f"Since release request {request.id} was checked, the project released "
                        f"output {before.record.release_id}; combined with it, output "
                        f"{item.row.name!r} would describe fewer than {threshold} persons.",
                        hint="return the request so its outputs are checked again",
                    )
        return {e.record.release_id for e in history}

    @staticmethod
    def _nothing_released_since(session: Session, project_id: str, known: set[str]) -> None:
        now = set(
            session.execute(
                select(ReleasedRecordRow.output_id).where(
                    ReleasedRecordRow.project_id == project_id
                )
            ).scalars()
        )
        if now - known:
            raise StateError(
                f"Another release of project {project_id} was made while this one was prepared.",
                hint="run the release again: it is compared with that one first",
            )

    def _manifest(
        self,
        row: ReleaseRequestRow,
        prepared: list[Prepared],
        reviews: list[ReleaseReviewRow],
        consolidation: ReleaseConsolidationRow,
        user_id: str,
        released_at: dt.datetime,
    ) -> ProvenanceManifest:
        outputs = []
        for item in prepared:
            output = item.row
            report = parse_json(output.report.encode("utf-8"))
            spec = parse_json(output.spec.encode("utf-8"))
            outputs.append(
                OutputProvenance(
                    output_id=output.id,
                    name=output.name,
                    kind=output.kind,
                    version=output.version,
                    status=output.status,
                    files=tuple(
                        ReleasedFile(name=n, sha256=sha256_bytes(d), bytes=len(d), media_type=m)
                        for n, m, d in item.files
                    ),
                    spec_sha256=output.spec_sha256,
                    sql_sha256=output.sql_sha256,
                    dataset=output.dataset,
                    data_version=output.data_version,
                    data_version_id=output.data_version_id,
                    workspace_version=output.workspace_version,
                    permit_version=output.permit_version,
                    permit_sha256=output.permit_sha256,
                    draws=spec.get("table"),
                    privacy=report.get("privacy"),
                    checks=report,
                )
            )
        assert row.decided_at is not None
        return ProvenanceManifest.model_validate(
            {
                "release_id": row.id,
                "project_id": row.project_id,
                "requested_by": row.requester_user_id,
                "requested_at": row.created_at,
                "context": row.context,
                "round": row.round,
                "checkers": [
                    CheckerVerdict(
                        user_id=r.checker_user_id, verdict=r.verdict, reviewed_at=r.created_at
                    )
                    for r in reviews
                ],
                "consolidated_by": consolidation.by_user_id,
                "agreed": consolidation.agreed,
                "resolution": consolidation.resolution,
                "approved_at": row.decided_at,
                "released_by": user_id,
                "released_at": released_at,
                "outputs": outputs,
            }
        )

    @staticmethod
    def _write_files(staged: Path, prepared: list[Prepared], manifest: ProvenanceManifest) -> int:
        total = 0
        names = set()
        for item in prepared:
            for name, _, data in item.files:
                if name in names or name == MANIFEST:
                    raise IntegrityError(f"Two released files would be named {name}.")
                names.add(name)
                write_private(staged / name, data)
                total += len(data)
        blob = manifest.to_bytes()
        write_private(staged / MANIFEST, blob)
        return total + len(blob)

    @staticmethod
    def _record_row(
        request: ReleaseRequestRow,
        output: ReleaseOutputRow,
        record: ReleaseRecord,
        released_at: dt.datetime,
    ) -> ReleasedRecordRow:
        stamped = record.model_copy(update={"released_at": released_at})
        return ReleasedRecordRow(
            output_id=output.id,
            request_id=request.id,
            project_id=request.project_id,
            kind=record.kind.value,
            dims=canonical_text(list(record.dims)),
            population_base=record.population.base,
            population_hash=record.population.definition_hash,
            record=stamped.model_dump_json(),
            released_at=released_at,
        )

    def _after_release(self, project_id: str, request_id: str, prepared: list[Prepared]) -> None:
        """The released folder holds the files now; only the populations of released tables
        stay (encrypted) for differencing."""
        with self.db.transaction() as session:
            every = [o.id for o in self.outputs(session, request_id, current=False)]
        kept = {p.row.id for p in prepared if p.record is not None}
        self.files.remove_candidates(project_id, request_id)
        self.files.remove_persons(project_id, [i for i in every if i not in kept])

    def _require_downloader(
        self, actor: Actor, row: ReleaseRequestRow, team: frozenset[str]
    ) -> None:
        user_id = require_person(actor, "download released outputs")
        if user_id == row.requester_user_id or user_id in team:
            return
        steward = actor.project_id in (None, row.project_id) and actor.has_role(Role.DATA_STEWARD)
        if not steward:
            raise PermissionDenied(
                f"The outputs of release request {row.id} are downloaded by the project's "
                "named persons and by data stewards.",
            )

    def _verified_files(self, row: ReleaseRequestRow) -> list[str]:
        """The released files, each checked against the manifest, itself checked against the
        hash kept in the governance store."""
        folder = self.files.released_dir(row.release_path or "")
        path = folder / MANIFEST
        if not path.is_file() or sha256_file(path) != row.manifest_sha256:
            raise IntegrityError(
                f"The manifest of release {row.id} is missing or altered ({path}).",
                hint="restore the release folder from a backup",
            )
        manifest = ProvenanceManifest.model_validate_json(path.read_bytes())
        names = []
        for output in manifest.outputs:
            for item in output.files:
                target = folder / item.name
                if not target.is_file() or sha256_file(target) != item.sha256:
                    raise IntegrityError(
                        f"Released file {item.name} of release {row.id} is missing or altered.",
                        hint="restore the release folder from a backup",
                    )
                names.append(item.name)
        return [*names, MANIFEST]


def _overlaps(current: Earlier, before: Earlier) -> dict[str, PopulationOverlap]:
    if current.persons is None or before.persons is None:
        return {}
    if current.record.population.definition_hash == before.record.population.definition_hash:
        return {}
    return {before.record.release_id: overlap(current.persons, before.persons)}
