"""``havre demo`` on a small population, run once for the module with ``--keep``: every step
is in the report, the report shows each part, cells are suppressed and say why, the two
projects' ids do not link, refusals are audited, the audit log verifies, and the credentials
file lets a tester act as each person through the command line."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from havre.cli.demo_commands import _human
from havre.cli.main import main
from havre.core.errors import UsageError
from havre.demo import report
from havre.demo.story import MARKER, DemoOptions, DemoResult, run
from havre.demo.summary import summarize
from havre.governance.identity import passwords
from havre.governance.identity.testing import FAST_TEST_HASHER

PERSONS = 500
STEPS = [
    "hub",
    "people",
    "population",
    "ingest",
    "projects",
    "workspaces",
    "queries",
    "releases",
    "audit",
    "report",
]


@dataclass
class Ran:
    home: Path
    result: DemoResult
    report: dict[str, Any]
    html: str
    progress: list[str]
    credentials: dict[str, Any]

    def facts(self, step: str) -> Any:
        return next(s["facts"] for s in self.report["steps"] if s["step"] == step)

    def user(self, email_start: str) -> dict[str, Any]:
        return next(u for u in self.credentials["users"] if u["email"].startswith(email_start))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    home = tmp_path_factory.mktemp("demo") / "hub"
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("HAVRE_") and name != "HAVRE_TEST_POSTGRES_URL":
                patch.delenv(name)
        patch.setattr(passwords, "HASHER", FAST_TEST_HASHER)
        result = run(DemoOptions(home=home, persons=PERSONS, seed=11, keep=True), lines.append)
    folder = home / "report"
    yield Ran(
        home=home,
        result=result,
        report=json.loads((folder / "report.json").read_text(encoding="utf-8")),
        html=(folder / "index.html").read_text(encoding="utf-8"),
        progress=lines,
        credentials=json.loads((home / "demo-credentials.json").read_text(encoding="utf-8")),
    )


Cli = Callable[..., tuple[int, Any]]


@pytest.fixture
def cli(ran: Ran, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``havre ARGS --json`` on the kept hub, as a tester types it: its exit code and JSON."""

    def invoke(*args: str, token: str | None = None) -> tuple[int, Any]:
        monkeypatch.setenv("HAVRE_HOME", str(ran.home))
        if token is None:
            monkeypatch.delenv("HAVRE_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HAVRE_TOKEN", token)
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main([*args, "--json"])
        out = capsys.readouterr().out
        return int(ended.value.code or 0), json.loads(out) if out.strip() else None

    return invoke


def test_every_step_is_in_the_report_and_was_shown(ran: Ran) -> None:
    assert ran.report["format"] == report.FORMAT
    assert [s["step"] for s in ran.report["steps"]] == STEPS
    assert ran.report["hub_id"] == ran.result.hub_id and ran.report["persons"] == PERSONS
    for number in range(1, 9):
        assert any(line.startswith(f"{number}. ") for line in ran.progress), number


def test_reconciliation_and_quarantine(ran: Ran) -> None:
    population, ingest = ran.facts("population"), ran.facts("ingest")
    assert population["persons"] == PERSONS and population["defects"] > 0
    sources = {s["source"]: s for s in ingest["sources"]}
    assert set(sources) == {"snds", "fhir"}
    for source in sources.values():
        total = source["total"]
        accounted = (
            total["loaded"] + total["quarantined"] + total["opted_out"] + total["duplicates"]
        )
        assert total["read"] == accounted > 0
    assert sum(sum(s["quarantine_by_reason"].values()) for s in sources.values()) > 0
    assert ingest["optouts"]["register_entries"] > 0


def test_projects_reach_permits_with_the_risk_the_reviewer_saw(ran: Ran) -> None:
    projects = ran.facts("projects")["projects"]
    assert [p["access_level"] for p in projects] == ["row-level", "aggregate-only"]
    for project in projects:
        assert project["permit"]["status"] == "active"
        assert 0 <= project["review_risk"]["figures"]["journalist_risk"] <= 1
        assert project["permit_risk"]["k_anonymity"] >= 1
        steps = [s["step"] for s in project["steps"]]
        assert steps[:4] == ["application", "submission", "completeness", "ethics opinion"]
    # the birth month was asked for and withheld by the decision
    assert projects[0]["withheld"] == ["birth_month"]
    assert "birth_month" not in projects[0]["permit"]["potential_identifiers_granted"]


def test_person_ids_do_not_link(ran: Ran) -> None:
    linkage = ran.facts("workspaces")["linkage"]
    cohort, everyone = linkage["persons"]
    assert 0 < cohort < everyone
    assert linkage["persons_in_both"] == cohort  # the cohort's persons are in both extracts
    assert linkage["ids_in_both"] > 0  # a naive join would pair that many ids...
    # ...but almost none are the same person: as many as chance gives (well under one)
    assert linkage["expected_by_chance"] < 1
    assert linkage["same_person"] <= 3


def test_queries_ran_and_forbidden_ones_were_refused_and_audited(ran: Ran) -> None:
    outcomes = {q["key"]: q for q in ran.facts("queries")["queries"]}
    assert not outcomes["prevalence"]["refused"] and not outcomes["cohort"]["refused"]
    assert outcomes["cohort"]["rows"] == []  # row-level rows never leave in the report
    refused = [q for q in outcomes.values() if q["refused"]]
    assert {q["key"] for q in refused} == {"file_read", "rows_in_aggregate_only"}
    audit = ran.facts("audit")
    denied = {r["seq"]: r for r in audit["refusals"]}
    for query in refused:
        entry = query["audit"]
        assert entry["action"] == "workspace.query" and entry["outcome"] == "denied"
        assert denied[entry["seq"]]["action"] == "workspace.query"


def test_releases_were_reviewed_blind_and_suppressed_cells_say_why(ran: Ran) -> None:
    tables = ran.facts("releases")["tables"]
    assert len(tables) == 2
    for table in tables:
        assert table["status"] == "pass"
        assert len(table["reviewers"]) == 2 and len(set(table["reviewers"])) == 2
        assert table["reviews_hidden_before_both"] == 0  # the first reviewer saw only theirs
        assert table["requested_by"] not in table["reviewers"]
        withheld_rows = [row for row in table["rows"] if row[-1] == "true"]
        assert len(withheld_rows) == table["primary_suppressed"] + table["secondary_suppressed"]
        assert all(row[-2] == "" for row in withheld_rows)  # no value of a withheld cell
        for name in table["files"]:
            assert (ran.home / "report" / "released" / name).is_file()
    assert any(t["primary_suppressed"] > 0 and t["secondary_suppressed"] > 0 for t in tables)
    rules = {r for t in tables for w in t["withheld"] for r in w["rules"]}
    assert {"threshold", "secondary"} <= rules
    reasons = {why for t in tables for w in t["withheld"] for why in w["reasons"]}
    assert "fewer than 10 persons" in reasons
    assert any(why.startswith("complementary suppression") for why in reasons)


def test_audit_verifies_with_a_signed_checkpoint(ran: Ran) -> None:
    audit = ran.facts("audit")
    assert audit["verification"]["ok"] is True
    assert audit["verification"]["checkpoints"] >= 1
    assert audit["checkpoint"]["signature"] and audit["checkpoint"]["tree_size"] > 50
    assert audit["by_outcome"]["denied"] >= 2
    published = json.loads((ran.home / "report" / "audit-checkpoint.json").read_text())
    assert published == audit["checkpoint"]


def test_the_html_report_holds_each_part(ran: Ran) -> None:
    html = ran.html
    for key, title in report.SECTIONS:
        assert f'<section id="{key}">' in html
        assert title in html
    for part in (
        "Reconciliation",
        "Quarantine",
        "Re-identification risk the reviewer saw",
        "Permit in force",
        "pairs that are truly the same person",
        "Refused (",
        "The released table",
        "Check report",
        'class="withheld"',
        "fewer than 10 persons",
        "complementary suppression",
        "Signed checkpoint",
        "The audit trail is intact.",
    ):
        assert part in html, part
    assert "This step did not run." not in html
    # self-contained: no script, nothing loaded from elsewhere
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "default-src 'none'" in html
    for project in ran.facts("projects")["projects"]:
        assert project["project_id"] in html


def test_report_values_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    document = {
        "hub_id": hostile,
        "steps": [
            {
                "step": "queries",
                "seconds": 0.1,
                "facts": {
                    "queries": [
                        {
                            "key": "k",
                            "title": hostile,
                            "by": '"><img src=x onerror=alert(1)>',
                            "project_id": "prj",
                            "access_level": "aggregate-only",
                            "sql": "SELECT '</pre><script>x</script>'",
                            "refused": False,
                            "columns": [hostile],
                            "rows": [[hostile]],
                        }
                    ]
                },
            }
        ],
    }
    page = report.render(document)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "This step did not run." in page  # the other sections say so


def test_credentials_file_is_private_and_complete(ran: Ran) -> None:
    path = ran.home / "demo-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users, projects = ran.credentials["users"], ran.credentials["projects"]
    assert len(users) == 12
    for user in users:
        assert {"email", "roles", "projects", "totp_secret", "token"} <= set(user)
        assert user["token"].startswith("hvt_") and user["roles"]
    assert {p["access_level"] for p in projects} == {"row-level", "aggregate-only"}
    assert {p["id"] for p in projects} == {pid for user in users for pid in user["projects"]}
    roles = {role for user in users for role in user["roles"]}
    assert roles >= {"admin", "data_steward", "reviewer", "checker", "auditor", "researcher"}


def test_a_tester_acts_as_each_person_with_the_cli(ran: Ran, cli: Cli) -> None:
    for user in ran.credentials["users"]:
        code, shown = cli("user", "show", user["email"], token=user["token"])
        assert code == 0, shown
        assert shown["email"] == user["email"]

    aggregate = next(p for p in ran.credentials["projects"] if p["access_level"] != "row-level")
    researcher = next(u for u in ran.credentials["users"] if aggregate["id"] in u["projects"]
                      and "researcher" in u["roles"])  # fmt: skip
    code, result = cli(
        "query",
        "--project",
        aggregate["id"],
        "--sql",
        "SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1",
        "--justification",
        "Testing the kept demo hub.",
        token=researcher["token"],
    )
    assert code == 0, result
    assert result["columns"] == ["gender_concept_id", "n"]

    code, found = cli("audit", "search", "--outcome", "denied", token=ran.user("aurelie")["token"])
    assert code == 0, found
    assert "workspace.query" in json.dumps(found)

    code, requests = cli("release", "list", token=ran.user("camille")["token"])
    assert code == 0, requests
    assert json.dumps(requests).count('"released"') >= 2

    # a made-up token is refused
    code, refused = cli("release", "list", token="hvt_" + "0" * 43)
    assert code == 4 and refused["error"] == "authentication_failed"


def test_the_kept_hub_verifies_from_the_cli(cli: Cli) -> None:
    code, verified = cli("audit", "verify")
    assert code == 0, verified
    assert verified["ok"] is True and verified["checkpoints"] >= 1


def test_a_folder_that_is_not_a_demo_hub_is_never_deleted(tmp_path: Path) -> None:
    home = tmp_path / "mine"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(UsageError, match="not a demo hub"):
        run(DemoOptions(home=home, persons=100), lambda _: None)
    assert (home / "thesis.tex").read_text() == "years of work"
    assert not (home / MARKER).exists()


def test_without_keep_a_rerun_starts_fresh_and_only_the_report_stays(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    home.mkdir()
    (home / MARKER).write_text("{}")  # an earlier demo's folder, with what it left
    (home / "report").mkdir()
    (home / "report" / "index.html").write_text("old report")
    (home / "hub.json").write_text('{"hub_id": "hub_old"}')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "HASHER", FAST_TEST_HASHER)
        result = run(DemoOptions(home=home, persons=150, seed=3), lambda _: None)
    assert sorted(p.name for p in home.iterdir()) == [MARKER, "report"]
    assert result.credentials is None and result.hub_id != "hub_old"
    assert json.loads((home / "report" / "report.json").read_text())["hub_id"] == result.hub_id
    assert "old report" not in (home / "report" / "index.html").read_text()


def test_the_command_line_summary(ran: Ran, capsys: pytest.CaptureFixture[str]) -> None:
    data = summarize(ran.result)
    json.dumps(data)  # what --json prints
    assert data["kept"] is True and data["credentials"].endswith("demo-credentials.json")
    assert data["audit"]["ok"] is True and data["people"] == 12
    assert [q["key"] for q in data["queries"] if q["refused"]] == [
        "file_read",
        "rows_in_aggregate_only",
    ]
    capsys.readouterr()
    _human(data)
    out = capsys.readouterr().out
    for number in range(1, 9):
        assert f"  {number}. " in out, number
    assert "audit log intact" in out and "REFUSED" in out and "why: " in out
