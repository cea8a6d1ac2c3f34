"""The requester's side: create a request (its outputs computed and checked at once), check it
again or rework it after a return (new output versions), submit it, withdraw it.

Computing outputs runs outside any governance transaction (it queries the workspace, which
may take a while; on SQLite a long transaction would stall every writer of the audit log).
The results are then stored in one audited transaction that checks the permit again and
charges the privacy budget; a refusal before it is audited on its own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from havre.audit import Outcome, Target
from havre.core.actor import Actor
from havre.core.canonical import canonical_text
from havre.core.errors import DisclosureError, HavreError, IntegrityError, StateError, UsageError
from havre.core.hashing import sha256_bytes
from havre.core.ids import new_id
from havre.disclosure.airlock import ledger
from havre.disclosure.airlock.actions import PrivacyAction, ReleaseAction
from havre.disclosure.airlock.attachments import Attachment, check_attachments
from havre.disclosure.airlock.base import AirlockBase
from havre.disclosure.airlock.compute import (
    Candidate,
    Earlier,
    dp_candidate,
    figure_candidate,
    model_candidate,
    table_candidate,
)
from havre.disclosure.airlock.duties import require_requester
from havre.disclosure.airlock.history import released_history
from havre.disclosure.airlock.population import population_base, population_of
from havre.disclosure.airlock.spec import ReleaseSpec, parse_release_spec
from havre.disclosure.airlock.states import ReleaseState, Step, require_step
from havre.disclosure.airlock.store import Part
from havre.disclosure.airlock.views import ReleaseView
from havre.disclosure.models import ReleaseOutputRow, ReleaseRequestRow
from havre.disclosure.report import Status
from havre.governance.identity import require_person
from havre.lake.engine import open_engine


class RequestingMixin(AirlockBase):
    def request(
        self,
        actor: Actor,
        project_id: str,
        spec: ReleaseSpec,
        *,
        attachments: Mapping[str, bytes] | None = None,
        context: str | None = None,
    ) -> ReleaseView:
        """A new request of a person the active permit names: its outputs are computed in the
        workspace and checked at once (state ``pending``)."""
        return self._check_and_store(
            actor, project_id, new_id("rel"), spec, attachments or {}, context, new=True
        )

    def check(
        self,
        actor: Actor,
        request_id: str,
        spec: ReleaseSpec | None = None,
        *,
        attachments: Mapping[str, bytes] | None = None,
    ) -> ReleaseView:
        """Compute and check the outputs again (new versions), with a new spec after a return;
        a returned request goes back to ``pending``."""
        project_id = self.project_of(request_id)
        files: Mapping[str, bytes] = attachments or {}
        if spec is None:
            try:
                with self.db.transaction() as session:
                    self._may_check(actor, self.load(session, request_id))
                spec, files = self._stored_spec(project_id, request_id)
            except HavreError as error:
                details = {"outputs": 0}
                self.record_failure(
                    actor, ReleaseAction.CHECK, request_id, project_id, details, error
                )
                raise
        return self._check_and_store(actor, project_id, request_id, spec, files, None, new=False)

    def submit(self, actor: Actor, request_id: str) -> ReleaseView:
        """Send a checked request to the checkers; refused while an output fails its checks."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        with self.audited_request(actor, ReleaseAction.SUBMIT, request_id, project_id) as scope:
            session = scope.session
            row = self.load(session, request_id, lock=True)
            require_requester(actor, row, "submit it")
            self.permits.require_access(actor, project_id, session=session)
            require_step(row.id, ReleaseState(row.state), Step.SUBMIT)
            outputs = self.outputs(session, row.id)
            failing = sorted(o.name for o in outputs if o.status == Status.FAIL.value)
            if failing:
                raise DisclosureError(
                    f"Release request {row.id} cannot be submitted: output(s) "
                    f"{', '.join(failing)} fail their checks.",
                    hint="rework them (havre release check REQUEST --output-spec FILE) or "
                    "leave them out",
                    failing=failing,
                )
            row.state = ReleaseState.SUBMITTED.value
            row.round += 1
            row.submitted_at = row.updated_at = self.now()
            scope.details = {
                "state": row.state,
                "round": row.round,
                "outputs": len(outputs),
                "review_outputs": sum(1 for o in outputs if o.status == Status.REVIEW.value),
            }
            return self.view(session, row, actor, team)

    def withdraw(self, actor: Actor, request_id: str, reason: str) -> ReleaseView:
        """The requester takes the request back before release; candidates are deleted."""
        project_id = self.project_of(request_id)
        team = self.team(project_id)
        if not reason.strip():
            raise UsageError("Say why the request is withdrawn (--reason).")
        with self.audited_request(actor, ReleaseAction.WITHDRAW, request_id, project_id) as scope:
            session = scope.session
            row = self.load(session, request_id, lock=True)
            require_requester(actor, row, "withdraw it")
            previous = row.state
            require_step(row.id, ReleaseState(previous), Step.WITHDRAW)
            row.state = ReleaseState.WITHDRAWN.value
            row.withdrawn_at = row.updated_at = self.now()
            row.withdraw_reason = reason.strip()[:2000]
            ids = [o.id for o in self.outputs(session, row.id, current=False)]
            scope.details = {"state": row.state, "previous_state": previous, "round": row.round}
            view = self.view(session, row, actor, team)
        self._discard(project_id, request_id, ids)
        return view

    # -- helpers ------------------------------------------------------------------------------
    def _discard(self, project_id: str, request_id: str, output_ids: list[str]) -> None:
        """Data minimisation: what will not leave is not kept."""
        self.files.remove_candidates(project_id, request_id)
        self.files.remove_persons(project_id, output_ids)

    def _stored_spec(
        self, project_id: str, request_id: str
    ) -> tuple[ReleaseSpec, dict[str, bytes]]:
        """The spec of the current outputs, read back from their encrypted candidates."""
        with self.db.transaction() as session:
            rows = self.outputs(session, request_id)
            context = self.load(session, request_id).context
        entries: list[Any] = []
        files: dict[str, bytes] = {}
        for row in rows:
            data = self.files.read(project_id, request_id, row.id, Part.SPEC)
            if data is None:
                raise StateError(
                    f"The candidate files of release request {request_id} are gone.",
                    hint="give the output spec again (--output-spec FILE)",
                )
            entries.append(parse_json(data))
            attached = self.files.read(project_id, request_id, row.id, Part.ATTACHMENT)
            if attached is not None:
                files[row.name] = attached
        return parse_release_spec({"context": context, "outputs": entries}), files

    def _check_and_store(
        self,
        actor: Actor,
        project_id: str,
        request_id: str,
        spec: ReleaseSpec,
        attachments: Mapping[str, bytes],
        context: str | None,
        *,
        new: bool,
    ) -> ReleaseView:
        action = ReleaseAction.CREATE if new else ReleaseAction.CHECK
        details: dict[str, Any] = {"outputs": len(spec.outputs)}
        self.require_justification(actor, action, request_id, project_id)
        written: list[str] = []
        try:
            self.policy_document  # noqa: B018  (a broken policy file stops the request first)
            with self.db.transaction() as session:
                self.permits.require_access(actor, project_id, session=session)
                if not new:
                    self._may_check(actor, self.load(session, request_id))
                self._budget_suffices(session, project_id, spec)
            files = check_attachments(spec, attachments)
            candidates = self._compute(actor, project_id, request_id, spec, files)
            for candidate in candidates:
                written.append(candidate.output_id)
                self._write_candidate(project_id, request_id, candidate)
        except Exception as error:
            self._forget(project_id, request_id, written, whole=new)
            self.record_failure(actor, action, request_id, project_id, details, error)
            raise
        team = self.team(project_id)
        try:
            with self.audited_request(
                actor, action, request_id, project_id, justification_required=True
            ) as scope:
                session = scope.session
                self.permits.require_access(actor, project_id, session=session)
                self.lock_project(session, project_id)
                row, replaced = self._request_row(session, actor, project_id, request_id, new)
                if context is not None or new:
                    row.context = (context if context is not None else spec.context)[:5000]
                self._add_outputs(session, row, candidates)
                self._spend(session, actor, row, candidates)
                scope.details = {
                    "state": row.state,
                    "outputs": [c.summary() for c in candidates],
                    "replaced_outputs": len(replaced),
                }
                view = self.view(session, row, actor, team)
        except BaseException:
            self._forget(project_id, request_id, written, whole=new)
            raise
        self.files.remove_persons(project_id, replaced)
        for output_id in replaced:
            shutil.rmtree(
                self.files.output_dir(project_id, request_id, output_id), ignore_errors=True
            )
        return view

    def _may_check(self, actor: Actor, row: ReleaseRequestRow) -> None:
        require_requester(actor, row, "check its outputs again")
        require_step(row.id, ReleaseState(row.state), Step.CHECK)

    def _forget(self, project_id: str, request_id: str, written: list[str], *, whole: bool) -> None:
        if whole:
            self.files.remove_candidates(project_id, request_id)
        else:
            for output_id in written:
                shutil.rmtree(
                    self.files.output_dir(project_id, request_id, output_id), ignore_errors=True
                )
        self.files.remove_persons(project_id, written)

    def _budget_suffices(self, session: Session, project_id: str, spec: ReleaseSpec) -> None:
        """Refuse before any noise is drawn when the budget cannot pay for the request."""
        needed = sum(o.dp.epsilon for o in spec.outputs if o.dp is not None)
        if not needed:
            return
        budget = ledger.load_budget(session, project_id, self.settings.privacy_budget_epsilon)
        if needed > budget.remaining + 1e-12:
            raise DisclosureError(
                f"Project {project_id} has {budget.remaining:.4g} of its privacy budget left "
                f"({budget.total_epsilon:g} in all); this request needs {needed:.4g}.",
                hint="lower epsilon, use fewer differentially private outputs, or ask a data "
                "steward for a larger budget",
            )

    def _compute(
        self,
        actor: Actor,
        project_id: str,
        request_id: str,
        spec: ReleaseSpec,
        files: Mapping[str, Attachment],
    ) -> list[Candidate]:
        earlier: list[Earlier] = released_history(self.db, self.files, project_id)
        base = population_base(project_id)
        done: dict[str, Candidate] = {}
        for output in spec.ordered():
            output_id = new_id("out")
            if output.kind == "figure":
                assert output.table is not None
                done[output.name] = figure_candidate(
                    output_id, output, done[output.table], files[output.name]
                )
                continue
            assert output.sql is not None
            rows = self.source.evaluate_output(
                actor,
                project_id,
                output.sql,
                person_column=output.person,
                request_id=request_id,
                output_name=output.name,
            )
            policy = self.policy(rows.dataset, project_id)
            if output.kind == "model":
                done[output.name] = model_candidate(
                    output_id, output, rows, policy, files.get(output.name)
                )
                continue
            population = population_of(
                rows.table,
                output.person,
                base,
                {"sql_sha256": rows.sql_sha256, "output": output.name},
            )
            if output.dp is not None:
                done[output.name] = dp_candidate(output_id, output, rows, policy, population)
                continue
            # the cell table is computed on the hub's engine (HAVRE_ENGINE), as every analysis
            engine = open_engine(self.settings)
            try:
                candidate = table_candidate(
                    output_id, output, rows, policy, population, earlier, project_id, engine
                )
            finally:
                engine.close()
            done[output.name] = candidate
            # outputs leaving together are differenced with one another too
            if candidate.record is not None and candidate.status is not Status.FAIL:
                earlier.append(Earlier(candidate.record, population.persons))
        return [done[o.name] for o in spec.outputs]

    def _write_candidate(self, project_id: str, request_id: str, candidate: Candidate) -> None:
        write = self.files.write
        oid = candidate.output_id
        spec_json = canonical_text(candidate.spec.model_dump(mode="json")).encode("utf-8")
        write(project_id, request_id, oid, Part.SPEC, spec_json)
        if candidate.content is not None:
            write(project_id, request_id, oid, Part.CONTENT, candidate.content)
        if candidate.record is not None:
            record = candidate.record.model_dump_json().encode("utf-8")
            write(project_id, request_id, oid, Part.RECORD, record)
        if candidate.attachment is not None:
            write(project_id, request_id, oid, Part.ATTACHMENT, candidate.attachment.data)
        if candidate.population is not None and candidate.record is not None:
            self.files.write_persons(project_id, oid, candidate.population.serialize())

    def _request_row(
        self, session: Session, actor: Actor, project_id: str, request_id: str, new: bool
    ) -> tuple[ReleaseRequestRow, list[str]]:
        now = self.now()
        if new:
            row = ReleaseRequestRow(
                id=request_id,
                project_id=project_id,
                requester_user_id=require_person(actor, "request a release"),
                state=ReleaseState.PENDING.value,
                round=0,
                context="",
                justification=(actor.justification or "").strip(),
                created_at=now,
                updated_at=now,
                checked_at=now,
            )
            session.add(row)
            session.flush()
            return row, []
        row = self.load(session, request_id, lock=True)
        self._may_check(actor, row)
        replaced = []
        for output in self.outputs(session, request_id):
            output.current = False
            replaced.append(output.id)
        row.state = ReleaseState.PENDING.value
        row.updated_at = row.checked_at = now
        return row, replaced

    def _add_outputs(
        self, session: Session, row: ReleaseRequestRow, candidates: list[Candidate]
    ) -> None:
        versions = dict(
            session.execute(
                select(ReleaseOutputRow.name, func.max(ReleaseOutputRow.version))
                .where(ReleaseOutputRow.request_id == row.id)
                .group_by(ReleaseOutputRow.name)
            ).all()
        )
        permit = self.permits.current(row.project_id, session=session)
        assert permit is not None  # require_access passed in this transaction
        for candidate in candidates:
            spec = candidate.spec
            source = candidate.provenance
            attachment = candidate.attachment
            content = candidate.content
            session.add(
                ReleaseOutputRow(
                    id=candidate.output_id,
                    request_id=row.id,
                    name=spec.name,
                    version=int(versions.get(spec.name) or 0) + 1,
                    current=True,
                    kind=spec.kind,
                    spec=canonical_text(spec.stored()),
                    spec_sha256=spec.sha256,
                    sql_sha256=source.sql_sha256 if source else None,
                    status=candidate.status.value,
                    report=canonical_text(candidate.report),
                    dataset=source.dataset if source else None,
                    data_version=source.data_version if source else None,
                    data_version_id=source.data_version_id if source else None,
                    workspace_version=source.workspace_version if source else None,
                    permit_version=source.permit_version if source else permit.version,
                    permit_sha256=source.permit_sha256 if source else permit.sha256,
                    population_hash=(
                        candidate.population.ref.definition_hash if candidate.population else None
                    ),
                    content_sha256=sha256_bytes(content) if content is not None else None,
                    content_bytes=len(content) if content is not None else None,
                    attachment_name=attachment.name if attachment else None,
                    attachment_sha256=attachment.sha256 if attachment else None,
                    attachment_bytes=len(attachment.data) if attachment else None,
                    dp_epsilon=candidate.epsilon,
                    created_at=self.now(),
                )
            )
        session.flush()

    def _spend(
        self, session: Session, actor: Actor, row: ReleaseRequestRow, candidates: list[Candidate]
    ) -> None:
        noisy = [c for c in candidates if c.epsilon is not None]
        if not noisy:
            return
        budget = ledger.load_budget(session, row.project_id, self.settings.privacy_budget_epsilon)
        for candidate in noisy:
            assert candidate.epsilon is not None
            budget = ledger.spend(
                session,
                budget,
                epsilon=candidate.epsilon,
                request_id=row.id,
                output_id=candidate.output_id,
                description=f"noisy counts {candidate.spec.name} of {row.id}",
                user_id=row.requester_user_id,
                at=self.now(),
            )
            self.audit.append(
                session,
                actor,
                PrivacyAction.SPEND,
                Target("project", row.project_id),
                Outcome.OK,
                details={
                    "request_id": row.id,
                    "output_id": candidate.output_id,
                    "epsilon": candidate.epsilon,
                    "spent": round(budget.spent, 6),
                    "remaining": round(budget.remaining, 6),
                    "total": budget.total_epsilon,
                },
                project_id=row.project_id,
            )


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:  # written by the hub itself: a damaged file
        raise IntegrityError(f"A stored output spec cannot be read: {exc}") from None
