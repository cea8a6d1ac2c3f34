"""The operator CLI in the exact forms scripts and auditors use (in-process, SQLite)."""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pyotp
import pytest

from havre.cli.main import main
from havre.governance.identity.totp import secret_of_uri as totp_secret


def havre(
    capsys: pytest.CaptureFixture[str], *args: str, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    argv = list(args) + (["--token", token] if token else [])
    with pytest.raises(SystemExit) as ended:
        main(argv)
    out = capsys.readouterr().out
    code = int(ended.value.code or 0)
    return code, json.loads(out) if "--json" in argv and out.strip() else {}


TRAINED = (dt.date.today() - dt.timedelta(days=30)).isoformat()


def secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return str(path)


def code(secret: str, steps_ahead: int = 0) -> str:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * steps_ahead)
    return str(pyotp.TOTP(secret).at(when))


def test_user_login_token_and_review_as_scripts_use_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert havre(capsys, "init", "--json")[0] == 0
    pw_admin = secret_file(tmp_path, "admin.pw", "Falaise-Etretat-brume-42")
    rc, admin = havre(
        capsys,
        "user", "add", "--email", "claire.fabre@hdh.example", "--name", "Claire Fabre",
        "--org", "Havre Hub", "--role", "admin", "--password-file", pw_admin,
        "--terms-version", "2027-01", "--json",
    )  # fmt: skip
    assert rc == 0, admin
    assert admin["totp_uri"].startswith("otpauth://totp/Havre:")
    assert admin["grants"][0]["basis"] == "bootstrap"
    admin_secret = totp_secret(admin["totp_uri"])
    rc, login = havre(
        capsys, "login", "--email", "claire.fabre@hdh.example", "--password-file", pw_admin,
        "--totp", code(admin_secret), "--json",
    )  # fmt: skip
    assert rc == 0 and login["token"].startswith("hvs_") and login["enrolment_confirmed"]
    admin_token = login["token"]

    pw_res = secret_file(tmp_path, "res.pw", "marée haute à Fécamp")
    rc, researcher = havre(
        capsys,
        "user", "add", "--email", "hugo.blanc@univ-rouen.example", "--name", "Hugo Blanc",
        "--org", "Université de Rouen", "--role", "researcher", "--project", "prj_diab",
        "--password-file", pw_res, "--training-date", TRAINED, "--terms-version", "2027-01",
        "--json", token=admin_token,
    )  # fmt: skip
    assert rc == 0, researcher
    # without a token (the operator) no account but the first administrators
    rc, _ = havre(
        capsys, "user", "add", "--email", "x.y@univ-rouen.example", "--name", "X Y", "--org",
        "U", "--role", "researcher", "--project", "prj_diab", "--password-file", pw_res, "--json",
    )  # fmt: skip
    assert rc == 5

    rc, login = havre(
        capsys, "login", "--email", "hugo.blanc@univ-rouen.example", "--password-file", pw_res,
        "--totp", code(totp_secret(researcher["totp_uri"])), "--json",
    )  # fmt: skip
    research_token = login["token"]
    rc, api = havre(
        capsys, "token", "create", "--name", "nightly", "--project", "prj_diab", "--days", "7",
        "--json", token=research_token,
    )  # fmt: skip
    assert rc == 0 and api["token"].startswith("hvt_") and api["project_id"] == "prj_diab"
    rc, listed = havre(capsys, "token", "list", "--json", token=research_token)
    assert [t["id"] for t in listed["tokens"]] == [api["id"]]
    assert "token" not in listed["tokens"][0]
    # scripts may pass the token in the environment instead of the command line
    monkeypatch.setenv("HAVRE_TOKEN", research_token)
    rc, from_env = havre(capsys, "token", "list", "--json")
    assert rc == 0 and from_env == listed
    monkeypatch.delenv("HAVRE_TOKEN")

    rc, review = havre(capsys, "access", "review", "--json", token=admin_token)
    assert rc == 0
    rights = {(r["email"], r["role"], r["project_id"]) for r in review["rights"]}
    assert rights == {
        ("claire.fabre@hdh.example", "admin", None),
        ("hugo.blanc@univ-rouen.example", "researcher", "prj_diab"),
    }
    rc, mine = havre(
        capsys, "access", "review", "--user", researcher["id"], "--json", token=research_token
    )
    assert rc == 0 and [r["role"] for r in mine["rights"]] == ["researcher"]
    assert [t["id"] for t in mine["tokens"]] == [api["id"]]
    rc, by_project = havre(capsys, "access", "review", "--project", "prj_diab", "--json")
    assert rc == 0 and by_project["users"] == 2

    rc, users = havre(capsys, "user", "list", "--json", token=admin_token)
    assert {u["email"] for u in users["users"]} == {
        "claire.fabre@hdh.example",
        "hugo.blanc@univ-rouen.example",
    }
    rc, shown = havre(capsys, "user", "show", "hugo.blanc@univ-rouen.example", "--json")
    assert rc == 0 and shown["mfa_confirmed"] is True

    # the operator suspends; the API token stops working; only an admin reinstates
    assert havre(capsys, "user", "suspend", researcher["id"], "--json")[0] == 0
    rc, error = havre(capsys, "token", "list", "--json", token=api["token"])
    assert rc == 4 and error["error"] == "authentication_failed"
    assert havre(capsys, "user", "reinstate", researcher["id"], "--json")[0] == 5
    assert havre(capsys, "user", "reinstate", researcher["id"], "--json", token=admin_token)[0] == 0


def test_failed_logins_lock_and_operator_unlocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    havre(capsys, "init", "--json")
    pw = secret_file(tmp_path, "pw", "Falaise-Etretat-brume-42")
    wrong = secret_file(tmp_path, "wrong", "not the password, sorry")
    rc, admin = havre(
        capsys, "user", "add", "--email", "ines.roy@hdh.example", "--name", "Ines Roy", "--org",
        "Hub", "--role", "admin", "--password-file", pw, "--terms-version", "1", "--json",
    )  # fmt: skip
    rc, error = havre(
        capsys, "login", "--email", "ines.roy@hdh.example", "--password-file", wrong, "--totp",
        "123456", "--json",
    )  # fmt: skip
    assert rc == 4 and error["error"] == "authentication_failed"
    rc, unknown = havre(
        capsys, "login", "--email", "nobody@hdh.example", "--password-file", wrong, "--totp",
        "123456", "--json",
    )  # fmt: skip
    assert rc == 4 and unknown["message"] == error["message"]
    rc, shown = havre(capsys, "user", "show", admin["id"], "--json")
    assert shown["failed_attempts"] == 1
    rc, unlocked = havre(capsys, "user", "unlock", admin["id"], "--json")
    assert rc == 0 and unlocked["failed_attempts"] == 0
    rc, missing = havre(capsys, "login", "--email", "ines.roy@hdh.example", "--password-file",
                        str(tmp_path / "none"), "--totp", "1", "--json")  # fmt: skip
    assert rc == 2 and "No password file" in missing["message"]
