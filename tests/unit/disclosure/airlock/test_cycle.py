"""The full airlock cycle on both governance stores: request (outputs computed in the
workspace and checked), submit, two blind reviews, consolidation, release with provenance,
download; and no withheld value anywhere it could leak."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import select

from havre.core.hashing import sha256_bytes, sha256_file
from havre.disclosure.models import ReleasedRecordRow, ReleaseOutputRow
from havre.scenarios.governed import GovernedProject

from .conftest import AGE, PNG, as_, audit_lines, researcher, spec

BANDS = (
    "SELECT person_id, gender_concept_id AS sex, "
    "CASE WHEN year_of_birth < 1932 THEN 'A' WHEN year_of_birth < 1970 THEN 'B' ELSE 'C' END "
    "AS band FROM person"
)
# amounts with odd decimals, so that a withheld total is a string found nowhere by chance
COST = (
    "SELECT person_id, gender_concept_id AS sex, "
    "CASE WHEN year_of_birth < 1932 THEN 'A' WHEN year_of_birth < 1970 THEN 'B' ELSE 'C' END "
    "AS band, person_id * 1.0 + 0.123457 AS cost FROM person"
)
MODEL = b'{"model": "linear", "weights": [40.1, 1.3]}'


def cycle_spec() -> Any:
    # outputs of a request are checked in order, each against those before it: the sum table
    # goes first (after a released count table of the same persons, its complementary cells
    # could not get the amount protection the engine asks of every withheld cell)
    return spec(
        {
            "name": "cost_by_sex_band",
            "kind": "sum",
            "sql": COST,
            "dims": ["sex", "band"],
            "value": "cost",
        },
        {"name": "by_sex_band", "kind": "count", "sql": BANDS, "dims": ["sex", "band"]},
        {"name": "figure_1", "kind": "figure", "table": "by_sex_band", "file": "figure1.png"},
        {
            "name": "age_model",
            "kind": "model",
            "sql": AGE,
            "model": "linear regression of age on sex",
            "coefficients": [
                {"name": "intercept", "estimate": 40.1, "std_error": 1.2},
                {"name": "sex_female", "estimate": 1.3, "std_error": 0.8},
            ],
            "file": "model.json",
        },
    )


def test_full_cycle(governed: GovernedProject, tmp_path: Path) -> None:
    g = governed
    airlock = g.hub.airlock
    first, second, third = g.checkers

    created = airlock.request(
        researcher(g),
        g.project_id,
        cycle_spec(),
        attachments={"figure_1": PNG, "age_model": MODEL},
    )
    rid = created.id
    assert created.state == "pending" and created.allowed_next == ("check", "submit", "withdraw")
    statuses = {o.name: o.status for o in created.outputs}
    assert statuses == {
        "by_sex_band": "pass",
        "cost_by_sex_band": "pass",
        "figure_1": "review",
        "age_model": "review",
    }
    counts = created.output("by_sex_band").report
    assert counts["mitigation"]["primary_suppressed"] > 0
    assert counts["mitigation"]["secondary_suppressed"] > 0
    assert counts["mitigation"]["protected"] is True
    failing = [c for c in counts["cells"] if c["status"] == "fail"]
    assert failing and all(c["value"] is None for c in failing)
    assert {"threshold", "secondary"} <= {r for c in failing for r in c["rules"]}
    model = created.output("age_model")
    assert model.report["residual_dof"] == 198 and model.report["n_observations"] == 200
    assert created.output("figure_1").attachment == {
        "name": "figure_1.png",
        "sha256": sha256_bytes(PNG),
        "bytes": len(PNG),
    }

    submitted = airlock.submit(researcher(g), rid)
    assert (submitted.state, submitted.round) == ("submitted", 1)

    # blind review: nobody but its author sees a review until both are in
    after_first = airlock.review(as_(g, first), rid, "approve", comment="Checked against table 1.")
    assert after_first.state == "submitted" and len(after_first.reviews) == 1
    assert airlock.show(as_(g, second), rid).reviews_hidden == 1
    assert airlock.show(as_(g, second), rid).reviews == ()
    assert airlock.show(researcher(g), rid).reviews_hidden == 1
    reviewed = airlock.review(as_(g, second), rid, "approve")
    assert reviewed.state == "reviewed" and len(reviewed.reviews) == 2
    assert len(airlock.show(as_(g, third), rid).reviews) == 2
    # the team waits for the consolidated outcome
    assert airlock.show(researcher(g), rid).reviews_hidden == 2

    approved = airlock.approve(as_(g, first), rid)
    assert approved.state == "approved" and approved.decided_by == first.user_id
    assert len(airlock.show(researcher(g), rid).reviews) == 2

    released = airlock.release(as_(g, first), rid)
    assert released.state == "released" and released.manifest_sha256
    folder = g.hub.home / "releases" / g.project_id / rid
    assert sha256_file(folder / "manifest.json") == released.manifest_sha256

    out = tmp_path / "download"
    got = airlock.download(researcher(g), rid, out)
    assert sorted(got.files) == sorted(
        [
            "by_sex_band.csv",
            "cost_by_sex_band.csv",
            "figure_1.png",
            "age_model.csv",
            "age_model.model.json",
            "manifest.json",
        ]
    )
    assert (out / "figure_1.png").read_bytes() == PNG
    assert (out / "age_model.model.json").read_bytes() == MODEL

    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["release_id"] == rid and manifest["project_id"] == g.project_id
    assert {c["user_id"] for c in manifest["checkers"]} == {first.user_id, second.user_id}
    assert manifest["consolidated_by"] == first.user_id and manifest["agreed"] is True
    assert manifest["released_by"] == first.user_id
    permit = g.hub.projects.permits.current(g.project_id)
    assert permit is not None
    by_name = {o["name"]: o for o in manifest["outputs"]}
    table = by_name["by_sex_band"]
    assert table["permit_version"] == permit.version and table["permit_sha256"] == permit.sha256
    assert table["dataset"] == "snds" and table["data_version"] == 1
    assert table["sql_sha256"] == sha256_bytes(BANDS.encode())
    assert table["checks"]["policy"]["rules"][0] == "threshold"
    assert by_name["figure_1"]["draws"] == "by_sex_band"
    for entry in manifest["outputs"]:
        for item in entry["files"]:
            assert sha256_file(out / item["name"]) == item["sha256"]

    csv = pacsv.read_csv(
        out / "by_sex_band.csv",
        convert_options=pacsv.ConvertOptions(column_types={"sex": pa.string()}),
    )
    assert csv.column_names == ["sex", "band", "persons", "withheld"]
    withheld = csv.column("withheld").to_pylist()
    persons = csv.column("persons").to_pylist()
    assert any(withheld)
    assert all((p is None) == w for p, w in zip(persons, withheld, strict=True))

    actions = [(e["action"], e["outcome"]) for e in audit_lines(g.hub, "release.")]
    assert actions == [
        ("release.create", "ok"),
        ("release.submit", "ok"),
        ("release.review", "ok"),
        ("release.review", "ok"),
        ("release.approve", "ok"),
        ("release.consolidate", "ok"),
        ("release.release", "ok"),
        ("release.download", "ok"),
    ]
    evaluated = audit_lines(g.hub, "workspace.evaluate")
    assert [e["outcome"] for e in evaluated] == ["ok"] * 3  # two tables and the model
    assert all(e["details"]["request_id"] == rid for e in evaluated)

    _no_withheld_value_anywhere(g, rid, created.output("cost_by_sex_band").report, folder)


def _no_withheld_value_anywhere(
    g: GovernedProject, rid: str, report: dict[str, Any], folder: Path
) -> None:
    """Compute the true totals of the withheld cells in the workspace, then search for them in
    the reports, the audit log, the stored records and the released files."""
    result = g.hub.workspaces.query(
        researcher(g),
        g.project_id,
        f"SELECT CAST(sex AS VARCHAR) AS sex, band, sum(cost) AS total FROM ({COST}) GROUP BY ALL",
    )
    truth = {(str(s), b): t for s, b, t in result.rows()}
    withheld = [tuple(c["cell"]) for c in report["cells"] if c["value"] is None]
    secrets = [truth[cell] for cell in withheld if cell in truth]  # interior cells
    assert secrets, "the sum table must withhold some interior cells"
    needles = {f"{v:.3f}" for v in secrets} | {repr(v) for v in secrets}

    haystacks: list[str] = []
    with g.hub.db.transaction() as session:
        for row in session.execute(select(ReleaseOutputRow)).scalars():
            haystacks += [row.report, row.spec]
        haystacks += [r.record for r in session.execute(select(ReleasedRecordRow)).scalars()]
    haystacks += [json.dumps(e) for e in audit_lines(g.hub)]
    haystacks += [p.read_text("utf-8", errors="replace") for p in folder.iterdir()]
    for needle in needles:
        assert not any(needle in text for text in haystacks), f"withheld value {needle} leaked"
