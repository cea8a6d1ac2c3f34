import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import text

from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDenied,
    StateError,
    UsageError,
)
from havre.governance.identity import NewUser, Role
from havre.governance.identity.testing import People
from havre.governance.identity.totp import secret_of_uri as totp_secret
from havre.hub import Hub

AuditLines = Callable[..., list[dict[str, Any]]]

OPERATOR = Actor.operator("tests")
PASSWORD = "Falaise-Etretat-brume-42"


def add(
    hub: Hub,
    actor: Actor,
    email: str,
    roles: Sequence[tuple[Role, str | None]] = (),
    *,
    password: str = PASSWORD,
    terms_version: str | None = "2027-01",
    training_attested_on: dt.date | None = dt.date(2027, 1, 15),
) -> NewUser:
    return hub.identity.add_user(
        actor,
        email=email,
        name="Jeanne Moreau",
        organisation="Inserm U1018",
        password=password,
        roles=list(roles),
        terms_version=terms_version,
        training_attested_on=training_attested_on,
    )


def test_operator_seats_two_administrators_then_nothing(ihub: Hub, audit_lines: AuditLines) -> None:
    first = add(ihub, OPERATOR, "jeanne.moreau@inserm.fr", [(Role.ADMIN, None)])
    assert first.user.active_grants[0].basis == "bootstrap"
    assert first.totp_uri.startswith("otpauth://totp/")
    assert not first.user.mfa_confirmed
    add(ihub, OPERATOR, "paul.leroy@inserm.fr", [(Role.ADMIN, None)])
    with pytest.raises(PermissionDenied, match="first 2 administrators"):
        add(ihub, OPERATOR, "third.admin@inserm.fr", [(Role.ADMIN, None)])
    with pytest.raises(PermissionDenied, match="operator"):
        add(ihub, OPERATOR, "a.researcher@inserm.fr", [(Role.RESEARCHER, "prj_a")])
    denied = [e for e in audit_lines("user.add") if e["outcome"] == "denied"]
    assert len(denied) == 2
    # the refused accounts do not exist
    with pytest.raises(NotFoundError):
        ihub.identity.show_user(OPERATOR, "third.admin@inserm.fr")


def test_admin_creates_accounts_one_per_person(ihub: Hub, people: People) -> None:
    admin = people.actor(people.admin())
    new = add(ihub, admin, "Luc.Bernard@CHU-Rouen.fr", [(Role.RESEARCHER, "prj_a")])
    assert new.user.email == "luc.bernard@chu-rouen.fr"
    assert [(g.role, g.project_id, g.state) for g in new.user.grants] == [
        (Role.RESEARCHER, "prj_a", "active")
    ]
    with pytest.raises(StateError, match="one account"):
        add(ihub, admin, "luc.bernard@chu-rouen.fr")
    with pytest.raises(UsageError, match="shared mailbox"):
        add(ihub, admin, "contact@chu-rouen.fr")
    with pytest.raises(UsageError, match="not an e-mail"):
        add(ihub, admin, "luc.bernard")
    with pytest.raises(UsageError, match="common"):
        add(ihub, admin, "other.person@chu-rouen.fr", password="Password123456!")
    researcher = people.person([(Role.RESEARCHER, "prj_a")])
    with pytest.raises(PermissionDenied, match="administrator"):
        add(ihub, people.actor(researcher), "someone@chu-rouen.fr")


def test_data_roles_need_training_and_terms(ihub: Hub, people: People) -> None:
    admin = people.actor(people.admin())
    with pytest.raises(StateError, match="training attestation"):
        add(
            ihub,
            admin,
            "no.training@chu-rouen.fr",
            [(Role.RESEARCHER, "prj_a")],
            training_attested_on=None,
        )
    with pytest.raises(StateError, match="signed terms of use"):
        add(ihub, admin, "no.terms@chu-rouen.fr", [(Role.REVIEWER, None)], terms_version=None)
    # a reviewer needs the terms but no training
    add(
        ihub,
        admin,
        "e.lambert@chu-rouen.fr",
        [(Role.REVIEWER, None)],
        training_attested_on=None,
    )
    plain = add(ihub, admin, "l.roux@chu-rouen.fr", training_attested_on=None, terms_version=None)
    with pytest.raises(StateError, match="signed terms of use and a training attestation"):
        ihub.identity.grant_role(admin, plain.user.id, Role.CHECKER)
    with pytest.raises(UsageError, match="future"):
        ihub.identity.attest(admin, plain.user.id, training_attested_on=dt.date(2030, 1, 1))
    ihub.identity.attest(
        admin, plain.user.id, training_attested_on=dt.date(2027, 2, 1), terms_version="2027-01"
    )
    grant = ihub.identity.grant_role(admin, plain.user.id, Role.CHECKER)
    assert grant.state == "active"


def test_secrets_are_never_stored_or_audited_in_clear(ihub: Hub, people: People) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    codes = ihub.identity.new_recovery_codes(people.actor(person))
    api = ihub.identity.create_token(people.actor(person), name="nightly", days=5)
    secrets = [person.password, person.secret, person.token, api.token, *codes]
    dump = []
    with ihub.db.transaction() as session:
        for table in (
            "users",
            "user_totp",
            "user_recovery_codes",
            "user_sessions",
            "api_tokens",
            "audit_entries",
        ):
            for row in session.execute(text(f"SELECT * FROM {table}")):
                dump.append(repr(tuple(row)))
    everything = "\n".join(dump)
    for secret in secrets:
        assert secret not in everything
        assert secret.replace("-", "") not in everything


def test_suspend_ends_credentials_and_reinstate_needs_an_admin(
    ihub: Hub, people: People, audit_lines: AuditLines
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    api = ihub.identity.create_token(people.actor(person), name="nightly", days=5)
    view = ihub.identity.suspend_user(OPERATOR, person.email, "left the team")
    assert view.status == "suspended"
    for token in (person.token, api.token):
        with pytest.raises(AuthenticationError, match=r"revoked|suspended"):
            ihub.identity.actor_from_token(token)
    with pytest.raises(PermissionDenied, match="operator"):
        ihub.identity.reinstate_user(OPERATOR, person.user_id)
    with pytest.raises(StateError, match="reinstate"):
        ihub.identity.grant_role(people.actor(people.admin()), person.user_id, Role.CHECKER)
    ihub.identity.reinstate_user(people.actor(people.admin()), person.user_id)
    people.sign_in(person)
    assert people.actor(person, "prj_a").has_role(Role.RESEARCHER)
    suspended = audit_lines("user.suspend")[-1]
    assert suspended["outcome"] == "ok"
    assert suspended["details"] == {"sessions_ended": 1, "tokens_revoked": 1}


def test_password_change_and_reset(ihub: Hub, people: People, clock: FixedClock) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    actor = people.actor(person)
    with pytest.raises(AuthenticationError, match="current password"):
        ihub.identity.change_password(actor, "not-my-password-at-all", "brume sur la falaise")
    ihub.identity.change_password(actor, person.password, "brume sur la falaise")
    # the session that changed it stays usable
    assert ihub.identity.actor_from_token(person.token).user_id == person.user_id
    person.password = "brume sur la falaise"
    clock.advance(seconds=30)
    people.sign_in(person)
    admin = people.actor(people.admin())
    ihub.identity.reset_password(admin, person.user_id, "marée haute à Fécamp")
    with pytest.raises(AuthenticationError, match="revoked"):
        ihub.identity.actor_from_token(person.token)
    with pytest.raises(PermissionDenied, match="Separation of duties"):
        ihub.identity.reset_password(admin, admin.user_id or "", "marée haute à Fécamp")


def test_totp_reset_makes_enrolment_start_over(
    ihub: Hub, people: People, clock: FixedClock
) -> None:
    person = people.person([(Role.RESEARCHER, "prj_a")])
    admin = people.actor(people.admin())
    uri = ihub.identity.reset_totp(admin, person.user_id)
    assert not ihub.identity.show_user(admin, person.user_id).mfa_confirmed
    person.secret = totp_secret(uri)
    clock.advance(seconds=60)
    people.sign_in(person)
    assert ihub.identity.show_user(admin, person.user_id).mfa_confirmed


def test_list_and_show_are_for_admins_auditors_and_self(ihub: Hub, people: People) -> None:
    researcher = people.person([(Role.RESEARCHER, "prj_a")])
    auditor = people.person([(Role.AUDITOR, None)])
    assert len(ihub.identity.list_users(people.actor(auditor))) == 3
    assert ihub.identity.show_user(people.actor(researcher), researcher.user_id).id
    with pytest.raises(PermissionDenied):
        ihub.identity.list_users(people.actor(researcher))
    with pytest.raises(PermissionDenied):
        ihub.identity.show_user(people.actor(researcher), auditor.user_id)
    assert [u.status for u in ihub.identity.list_users(OPERATOR, "suspended")] == []
