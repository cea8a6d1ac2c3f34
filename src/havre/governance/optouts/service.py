"""The opt-out register (right to object): import, add, withdraw, list; read at ingestion.

Entries hold a keyed hash of the person's identity under ``pseudo/optout`` — the NIR alone
(the register file has no birth date or sex), or an OMOP source's person id — never the NIR.
Ingestion computes the same hash for every person it reads and keeps objectors out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from havre.audit import AuditLog, Target, audited
from havre.core.actor import Actor
from havre.core.arrays import integers, texts
from havre.core.clock import Clock, SystemClock
from havre.core.config import Settings
from havre.core.errors import NotFoundError, PermissionDenied, UsageError
from havre.core.hashing import sha256_file
from havre.core.ids import new_id
from havre.db import Database
from havre.governance.optouts.actions import OptOutAction
from havre.governance.optouts.models import OptOutRow
from havre.governance.optouts.parse import parse_register, register_scheme
from havre.pseudo.nir import nir_problem, normalize_nir
from havre.pseudo.scheme import SchemeId, omop_message
from havre.pseudo.service import Pseudonymizer

REGISTER = Target("optout_register")
STEWARD = "data_steward"


def require_steward(actor: Actor, what: str) -> None:
    """The register is kept by the hub's data stewards (and its operator)."""
    if actor.is_operator or actor.has_role(STEWARD):
        return
    raise PermissionDenied(
        f"Only a data steward may {what}.",
        hint="ask an administrator for the data_steward role, or run it as the hub's operator",
    )


ACTIVE_SCHEMA = pa.schema([("subject_key", pa.string()), ("key_version", pa.int32())])


@dataclass(frozen=True)
class OptOutEntry:
    id: str
    scheme: str
    subject_key_prefix: str
    objected_on: dt.date
    source: str
    recorded_at: dt.datetime
    active: bool
    withdrawn_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ImportResult:
    file_sha256: str
    lines: int
    added: int
    reactivated: int
    already_present: int
    duplicates_in_file: int
    scheme: str  # whose objections the file listed: by NIR, or by an OMOP source's person

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ChangeResult:
    entry_id: str
    changed: bool
    state: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class OptOutRegister:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        pseudonymizer: Pseudonymizer,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.pseudo = pseudonymizer
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    # -- changes ---------------------------------------------------------------------------
    def import_file(self, actor: Actor, path: Path) -> ImportResult:
        """Add every objection of a register file (``NIR;DATE_OPPOSITION``, or
        ``SOURCE_NAME;PERSON_ID;DATE_OPPOSITION`` for OMOP sources' persons); all or nothing."""
        with audited(self.db, self.audit, actor, OptOutAction.IMPORT, REGISTER) as scope:
            require_steward(actor, "import the opt-out register")
            scheme = self.pseudo.scheme(register_scheme(path))
            parsed = parse_register(path, scheme.scheme_id, self.settings, self.pseudo.pads(scheme))
            digest = sha256_file(path)
            source = f"file:{digest[:16]}"
            existing = {
                row.subject_key: row
                for row in scope.session.execute(
                    select(OptOutRow).where(
                        OptOutRow.scheme == scheme.scheme_id.value,
                        OptOutRow.key_version == scheme.key_version,
                    )
                ).scalars()
            }
            added = reactivated = present = 0
            keys = parsed.subjects.column("subject_key").to_pylist()
            dates = parsed.subjects.column("objected_on").to_pylist()
            for key, objected_on in zip(keys, dates, strict=True):
                row = existing.get(key)
                if row is None:
                    scope.session.add(
                        self._row(
                            key, scheme.scheme_id, scheme.key_version, objected_on, source, actor
                        )
                    )
                    added += 1
                elif row.withdrawn_at is not None and objected_on > row.withdrawn_at.date():
                    row.withdrawn_at, row.withdrawn_by = None, None
                    row.objected_on, row.source = objected_on, source
                    reactivated += 1
                else:
                    present += 1
            result = ImportResult(
                digest,
                parsed.lines,
                added,
                reactivated,
                present,
                parsed.duplicates_in_file,
                scheme.scheme_id.value,
            )
            scope.details = {
                "file_sha256": digest,
                "scheme": scheme.scheme_id.value,
                "lines": parsed.lines,
                "added": added,
                "reactivated": reactivated,
                "already_present": present,
                "duplicates_in_file": parsed.duplicates_in_file,
            }
        return result

    def add(
        self,
        actor: Actor,
        nir: str,
        objected_on: dt.date | None = None,
        source: str = "manual",
    ) -> ChangeResult:
        """Record one person's objection, identified by their NIR (15 characters with key)."""
        scheme_id, key = self._nir_subject(nir)
        return self._add(actor, scheme_id, key, objected_on, source)

    def add_omop(
        self,
        actor: Actor,
        source_name: str,
        person_id: str,
        objected_on: dt.date | None = None,
        source: str = "manual",
    ) -> ChangeResult:
        """Record an objection for a person known only by an OMOP source's ``person_id``."""
        message = _omop_subject(source_name, person_id)
        return self._add(actor, SchemeId.OPTOUT_OMOP, message, objected_on, source)

    def remove(self, actor: Actor, nir: str) -> ChangeResult:
        """Withdraw an objection (the person consents again). The entry is kept, marked."""
        scheme_id, message = self._nir_subject(nir)
        return self._remove(actor, scheme_id, message)

    def remove_omop(self, actor: Actor, source_name: str, person_id: str) -> ChangeResult:
        message = _omop_subject(source_name, person_id)
        return self._remove(actor, SchemeId.OPTOUT_OMOP, message)

    # -- reading ---------------------------------------------------------------------------
    def entries(self, actor: Actor, *, include_withdrawn: bool = False) -> list[OptOutEntry]:
        with audited(self.db, self.audit, actor, OptOutAction.LIST, REGISTER) as scope:
            require_steward(actor, "list the opt-out register")
            query = select(OptOutRow).order_by(OptOutRow.recorded_at, OptOutRow.id)
            if not include_withdrawn:
                query = query.where(OptOutRow.withdrawn_at.is_(None))
            rows = list(scope.session.execute(query).scalars())
            scope.details = {"entries": len(rows), "include_withdrawn": include_withdrawn}
            return [_entry(row) for row in rows]

    def active_subjects(self, scheme_id: SchemeId, session: Session | None = None) -> pa.Table:
        """The current objectors of a scheme as Arrow (``subject_key``, ``key_version``).

        For the data paths (ingestion, workspace extraction), inside their own audited action.
        """
        query = select(OptOutRow.subject_key, OptOutRow.key_version).where(
            OptOutRow.scheme == scheme_id.value, OptOutRow.withdrawn_at.is_(None)
        )
        if session is None:
            with self.db.transaction() as own:
                rows = own.execute(query).all()
        else:
            rows = session.execute(query).all()
        return pa.table(
            {
                "subject_key": texts([r[0] for r in rows]),
                "key_version": integers([r[1] for r in rows], pa.int32()),
            },
            schema=ACTIVE_SCHEMA,
        )

    def count_active(self) -> int:
        with self.db.transaction() as session:
            return len(
                session.execute(select(OptOutRow.id).where(OptOutRow.withdrawn_at.is_(None))).all()
            )

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _nir_subject(nir: str) -> tuple[SchemeId, str]:
        problem = nir_problem(nir)
        if problem is not None:
            # the value itself is never echoed: it is an identifier
            raise UsageError(
                f"The NIR given is not valid ({problem}).",
                hint="give the 15-character NIR, key included",
            )
        return SchemeId.OPTOUT_NIR, normalize_nir(nir)[:13]

    def _add(
        self,
        actor: Actor,
        scheme_id: SchemeId,
        message: str,
        objected_on: dt.date | None,
        source: str,
    ) -> ChangeResult:
        with audited(self.db, self.audit, actor, OptOutAction.ADD, REGISTER) as scope:
            require_steward(actor, "record an objection")
            scheme = self.pseudo.scheme(scheme_id)
            key = self.pseudo.pseudonym(scheme, message)
            when = objected_on or self.clock.now().date()
            row = self._find(scope.session, scheme_id, message)
            if row is None:
                row = self._row(key, scheme_id, scheme.key_version, when, source[:120], actor)
                scope.session.add(row)
                changed = True
            elif row.withdrawn_at is not None:
                row.withdrawn_at, row.withdrawn_by = None, None
                row.objected_on, row.source = when, source[:120]
                changed = True
            else:
                changed = False
            scope.target = Target("optout", row.id)
            scope.details = {"scheme": scheme_id.value, "changed": changed}
            return ChangeResult(row.id, changed, "active")

    def _remove(self, actor: Actor, scheme_id: SchemeId, message: str) -> ChangeResult:
        with audited(self.db, self.audit, actor, OptOutAction.REMOVE, REGISTER) as scope:
            require_steward(actor, "withdraw an objection")
            row = self._find(scope.session, scheme_id, message)
            if row is None or row.withdrawn_at is not None:
                raise NotFoundError("No active objection for this person in the register.")
            row.withdrawn_at = self.clock.now()
            row.withdrawn_by = actor.name
            scope.target = Target("optout", row.id)
            scope.details = {"scheme": scheme_id.value}
            return ChangeResult(row.id, True, "withdrawn")

    def _find(self, session: Session, scheme_id: SchemeId, message: str) -> OptOutRow | None:
        """The entry of a person, under whichever key version it was recorded with."""
        versions = sorted(
            {
                int(v)
                for v in session.execute(
                    select(OptOutRow.key_version).where(OptOutRow.scheme == scheme_id.value)
                ).scalars()
            }
        )
        for version in versions:
            subject = self.pseudo.pseudonym(self.pseudo.scheme(scheme_id, version), message)
            row = session.execute(
                select(OptOutRow).where(
                    OptOutRow.scheme == scheme_id.value,
                    OptOutRow.key_version == version,
                    OptOutRow.subject_key == subject,
                )
            ).scalar_one_or_none()
            if row is not None:
                return row
        return None

    def _row(
        self,
        key: str,
        scheme_id: SchemeId,
        key_version: int,
        objected_on: dt.date,
        source: str,
        actor: Actor,
    ) -> OptOutRow:
        return OptOutRow(
            id=new_id("opt"),
            subject_key=key,
            scheme=scheme_id.value,
            key_version=key_version,
            objected_on=objected_on,
            source=source,
            recorded_at=self.clock.now(),
            recorded_by=actor.name,
            withdrawn_at=None,
            withdrawn_by=None,
        )


def _omop_subject(source_name: str, person_id: str) -> str:
    """The message of an OMOP person's objection. ``person_id`` is an integer (OMOP's
    BIGINT), written as ingestion reads it: '007' and '7' name the same person."""
    name, number = source_name.strip(), person_id.strip()
    if not name or not number:
        raise UsageError("An OMOP objection needs the source name and the person_id.")
    if not re.fullmatch(r"[+-]?[0-9]+", number) or not -(2**63) <= int(number) < 2**63:
        raise UsageError(
            f"--person-id {number!r} is not an OMOP person_id.",
            hint="an OMOP person_id is an integer (BIGINT), as in the source's person table",
        )
    return omop_message(name, number)


def _entry(row: OptOutRow) -> OptOutEntry:
    return OptOutEntry(
        id=row.id,
        scheme=row.scheme,
        subject_key_prefix=row.subject_key[:12],
        objected_on=row.objected_on,
        source=row.source,
        recorded_at=row.recorded_at,
        active=row.withdrawn_at is None,
        withdrawn_at=row.withdrawn_at,
    )
