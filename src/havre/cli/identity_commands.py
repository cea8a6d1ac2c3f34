"""``havre user``, ``havre login`` / ``logout``; registers ``role``, ``token`` and ``access``.

Thin: each command reads its arguments, opens the hub, calls one identity service method.
Secrets are read from files (or standard input with ``-``), never from the command line,
where other users of the machine could read them.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, note, print_mapping, print_table
from havre.core.errors import UsageError
from havre.governance.identity import UserView

user_app = typer.Typer(help="Personal accounts: create, list, suspend, unlock, credentials.")

Email = Annotated[str, typer.Option("--email", help="The person's own professional e-mail.")]
UserArg = Annotated[str, typer.Argument(help="User id (usr_...) or e-mail.")]
PasswordFile = Annotated[
    Path, typer.Option("--password-file", help="File holding the password ('-': stdin).")
]
TrainingDate = Annotated[
    str | None,
    typer.Option("--training-date", help="Date of the training attestation (YYYY-MM-DD)."),
]
TermsVersion = Annotated[
    str | None, typer.Option("--terms-version", help="Version of the signed terms of use.")
]
TermsDate = Annotated[
    str | None,
    typer.Option("--terms-date", help="When the terms were signed (YYYY-MM-DD; default today)."),
]


def register(app: typer.Typer) -> None:
    from havre.cli import access_commands, token_commands

    app.add_typer(user_app, name="user")
    app.command("login")(login)
    app.command("logout")(logout)
    access_commands.register(app)
    token_commands.register(app)


def read_secret(path: Path, what: str = "password") -> str:
    """A secret from a file (or stdin with '-'): one line, its line ending removed."""
    if str(path) == "-":
        text = sys.stdin.readline()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"No {what} file {path}.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read the {what} file {path}: {exc}") from None
        if path.stat().st_mode & 0o077:
            note(f"[yellow]{path} can be read by other users; keep it private (chmod 600).[/]")
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise UsageError(f"The {what} file {path} is empty.")
    return lines[0]


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} expects a date YYYY-MM-DD, got '{value}'.") from None


def show_user(user: UserView, extra: dict[str, Any] | None = None) -> None:
    data = {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "organisation": user.organisation,
        "status": user.status + (" (locked)" if user.locked else ""),
        "second factor": "confirmed" if user.mfa_confirmed else "not confirmed yet",
        "recovery codes left": user.recovery_codes_left,
        "training attested": user.training_attested_on,
        "terms signed": f"{user.terms_signed_on} ({user.terms_version})"
        if user.terms_signed_on
        else None,
        "last sign-in": user.last_login_at,
    }
    print_mapping({**data, **(extra or {})}, title=user.name)
    if user.grants:
        print_table(
            ["grant", "role", "project", "state", "basis"],
            [
                (g.id, g.role.value, g.project_id or "(hub-wide)", g.state, g.basis)
                for g in user.grants
            ],
        )


# -- user ----------------------------------------------------------------------------------------
@user_app.command("add")
def add(
    email: Email,
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation (employer).")],
    password_file: PasswordFile,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Role to grant (repeatable).")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Project the project roles apply to.")
    ] = None,
    training_date: TrainingDate = None,
    terms_version: TermsVersion = None,
    terms_date: TermsDate = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a personal account. Prints its TOTP provisioning URI once."""
    from havre.governance.identity.roles import GLOBAL_ONLY, parse_role

    password = read_secret(password_file)
    roles = []
    for value in role or []:
        parsed = parse_role(value)
        roles.append((parsed, None if parsed in GLOBAL_ONLY else project))
    with open_hub() as hub:
        actor = actor_for(hub, token)
        new = hub.identity.add_user(
            actor,
            email=email,
            name=name,
            organisation=org,
            password=password,
            roles=roles,
            training_attested_on=parse_date(training_date, "--training-date"),
            terms_signed_on=parse_date(terms_date, "--terms-date"),
            terms_version=terms_version,
        )

    def human() -> None:
        show_user(new.user)
        console.print(
            "\nTOTP provisioning URI (shown once; hand it to the person securely, it becomes "
            f"a QR code in their authenticator app):\n{new.totp_uri}"
        )
        pending = [g for g in new.user.grants if g.state == "pending"]
        for grant in pending:
            note(f"Role '{grant.role}' waits for a second administrator:")
            note(f"  havre role approve {grant.id}")

    emit(new.to_dict(), as_json, human)


@user_app.command("list")
def list_users(
    status: Annotated[
        str | None, typer.Option("--status", help="Only 'active' or 'suspended' accounts.")
    ] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List accounts (administrators, auditors, operator)."""
    with open_hub() as hub:
        users = hub.identity.list_users(actor_for(hub, token), status)
    rows = [
        (
            u.id,
            u.email,
            u.name,
            u.status + (" locked" if u.locked else ""),
            "yes" if u.mfa_confirmed else "no",
            ", ".join(
                f"{g.role}@{g.project_id}" if g.project_id else g.role.value
                for g in u.active_grants
            ),
        )
        for u in users
    ]
    emit(
        {"users": [u.to_dict() for u in users]},
        as_json,
        lambda: print_table(["id", "email", "name", "status", "mfa", "roles"], rows),
    )


@user_app.command("show")
def show(user: UserArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Show one account, with every role it holds or held."""
    with open_hub() as hub:
        view = hub.identity.show_user(actor_for(hub, token), user)
    emit(view.to_dict(), as_json, lambda: show_user(view))


@user_app.command("suspend")
def suspend(
    user: UserArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Suspend an account; its sessions and API tokens end."""
    with open_hub() as hub:
        view = hub.identity.suspend_user(actor_for(hub, token), user, reason)
    emit(view.to_dict(), as_json, lambda: console.print(f"Suspended {view.id}."))


@user_app.command("reinstate")
def reinstate(user: UserArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Lift a suspension (an administrator)."""
    with open_hub() as hub:
        view = hub.identity.reinstate_user(actor_for(hub, token), user)
    emit(view.to_dict(), as_json, lambda: console.print(f"Reinstated {view.id}."))


@user_app.command("unlock")
def unlock(user: UserArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Lift a lockout after failed sign-ins (administrator or operator)."""
    with open_hub() as hub:
        view = hub.identity.unlock_user(actor_for(hub, token), user)
    emit(view.to_dict(), as_json, lambda: console.print(f"Unlocked {view.id}."))


@user_app.command("attest")
def attest(
    user: UserArg,
    training_date: TrainingDate = None,
    terms_version: TermsVersion = None,
    terms_date: TermsDate = None,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a training attestation and/or signed terms of use (an administrator)."""
    with open_hub() as hub:
        view = hub.identity.attest(
            actor_for(hub, token),
            user,
            training_attested_on=parse_date(training_date, "--training-date"),
            terms_signed_on=parse_date(terms_date, "--terms-date"),
            terms_version=terms_version,
        )
    emit(view.to_dict(), as_json, lambda: show_user(view))


@user_app.command("password")
def change_password(
    current_password_file: Annotated[
        Path, typer.Option("--current-password-file", help="File holding the current password.")
    ],
    password_file: PasswordFile,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change your own password (other sessions and your API tokens end)."""
    current = read_secret(current_password_file, "current password")
    new = read_secret(password_file)
    with open_hub() as hub:
        hub.identity.change_password(actor_for(hub, token), current, new)
    emit({"changed": True}, as_json, lambda: console.print("Password changed."))


@user_app.command("reset-password")
def reset_password(
    user: UserArg, password_file: PasswordFile, token: TokenOption = None, as_json: JsonFlag = False
) -> None:
    """Set a new password for someone else (an administrator); their sessions and tokens end."""
    password = read_secret(password_file)
    with open_hub() as hub:
        hub.identity.reset_password(actor_for(hub, token), user, password)
    emit({"reset": True}, as_json, lambda: console.print("Password reset."))


@user_app.command("reset-totp")
def reset_totp(user: UserArg, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """New second factor for someone who lost theirs (an administrator). Prints the URI once."""
    with open_hub() as hub:
        uri = hub.identity.reset_totp(actor_for(hub, token), user)
    emit({"totp_uri": uri}, as_json, lambda: console.print(f"TOTP provisioning URI (once):\n{uri}"))


@user_app.command("recovery-codes")
def recovery_codes(token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """New single-use recovery codes for yourself (earlier ones stop working). Shown once."""
    with open_hub() as hub:
        codes = hub.identity.new_recovery_codes(actor_for(hub, token))

    def human() -> None:
        console.print("Recovery codes (each works once; keep them offline):")
        for code in codes:
            console.print(f"  {code}")

    emit({"recovery_codes": codes}, as_json, human)


# -- sign-in -------------------------------------------------------------------------------------
def login(
    email: Email,
    password_file: PasswordFile,
    totp: Annotated[
        str | None, typer.Option("--totp", help="Code from the authenticator app.")
    ] = None,
    recovery_code: Annotated[
        str | None, typer.Option("--recovery-code", help="A recovery code instead of --totp.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Sign in with password and second factor; prints a session token."""
    password = read_secret(password_file)
    with open_hub() as hub:
        result = hub.identity.authenticate(email, password, totp, recovery_code=recovery_code)

    def human() -> None:
        for line in result.notes:
            note(line)
        console.print(
            f"Signed in. Session token (until {result.session.expires_at:%H:%M} UTC "
            f"if idle, {result.session.absolute_expires_at:%H:%M} UTC at the latest):"
        )
        console.print(result.token)

    emit(result.to_dict(), as_json, human)


def logout(token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """End the session of a session token."""
    if not token:
        raise UsageError("Which session? Give --token.")
    with open_hub() as hub:
        info = hub.identity.logout(token)
    emit({"session_id": info.id, "ended": True}, as_json, lambda: console.print("Signed out."))
