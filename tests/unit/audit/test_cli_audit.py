"""``havre audit ...`` end to end on one hub; the outsider's checks run without any hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from havre.cli.main import app

runner = CliRunner()


def havre(*args: str) -> dict | list:  # type: ignore[type-arg]
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "havre-home"
    monkeypatch.setenv("HAVRE_HOME", str(home))
    havre("init", "--json")
    return home


def test_checkpoint_proof_and_outsider_checks(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = havre("audit", "checkpoint", "--json")
    assert isinstance(first, dict) and first["tree_size"] == 1
    second = havre("audit", "checkpoint", "--json")
    assert isinstance(second, dict) and second["tree_size"] == 2
    listed = havre("audit", "checkpoints", "--json")
    assert [c["number"] for c in listed] == [1, 2]  # type: ignore[index]

    key_file = tmp_path / "audit-key.json"
    runner.invoke(app, ["audit", "public-key", "--out", str(key_file)])
    held = tmp_path / "held-checkpoint.json"
    held.write_text(json.dumps(first), encoding="utf-8")
    proof_file = tmp_path / "proof.json"
    proof = havre("audit", "proof", "2", "--out", str(proof_file), "--json")
    assert isinstance(proof, dict)
    assert proof["tree_size"] == 2 and proof["leaf_index"] == 1
    consistency_file = tmp_path / "consistency.json"
    havre("audit", "consistency", "1", "--out", str(consistency_file), "--json")

    # an outsider: no hub at all, only the files and the public key
    monkeypatch.setenv("HAVRE_HOME", str(tmp_path / "nowhere"))
    check = havre("audit", "verify-proof", str(proof_file), "--public-key", str(key_file), "--json")
    assert isinstance(check, dict) and check["ok"] is True
    check = havre(
        "audit",
        "verify-proof",
        str(consistency_file),
        "--public-key",
        str(key_file),
        "--held-checkpoint",
        str(held),
        "--json",
    )
    assert isinstance(check, dict) and check["ok"] and check["checks"]["held_matches"]

    forged = json.loads(proof_file.read_text(encoding="utf-8"))
    forged["entry"]["actor"]["name"] = "someone else"
    proof_file.write_text(json.dumps(forged), encoding="utf-8")
    result = runner.invoke(
        app, ["audit", "verify-proof", str(proof_file), "--public-key", str(key_file), "--json"]
    )
    assert result.exit_code == 7
    assert json.loads(result.stdout)["checks"]["entry_hash"] is False


def test_search_export_and_verify_export(home: Path, tmp_path: Path) -> None:
    havre("audit", "checkpoint", "--json")
    found = havre("audit", "search", "--action", "hub.", "--json")
    assert [e["action"] for e in found] == ["hub.init"]  # type: ignore[index]
    found = havre("audit", "search", "--outcome", "ok", "--since", "2000-01-01", "--json")
    assert len(found) == 3  # init, checkpoint, the first search
    exported = tmp_path / "trail.jsonl"
    result = runner.invoke(app, ["audit", "export", "--out", str(exported)])
    assert result.exit_code == 0, result.output
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2, 3, 4]
    check = havre("audit", "verify-export", str(exported), "--before-hash", "0" * 64, "--json")
    assert isinstance(check, dict) and check["ok"] and check["entries"] == 4
    result = runner.invoke(app, ["audit", "export"])  # to stdout
    assert result.stdout.count("\n") == 5


def test_verify_keys_actions_and_roles(home: Path) -> None:
    report = havre("audit", "verify", "--json")
    assert isinstance(report, dict) and report["ok"] and report["entries"] == 1
    actions = havre("audit", "actions", "--json")
    assert {"hub.init", "audit.checkpoint", "audit.archive"} <= set(actions)  # type: ignore[arg-type]
    keys = havre("audit", "public-key", "--json")
    assert isinstance(keys, dict) and keys["keys"][0]["key_id"] == "audit/signing@1"
    grants = havre("audit", "app-role", "havre_app", "--json")
    assert isinstance(grants, dict)
    assert any("REVOKE UPDATE, DELETE, TRUNCATE" in s for s in grants["statements"])
    result = runner.invoke(app, ["audit", "app-role", "Robert'); DROP TABLE x;--"])
    assert result.exit_code != 0
