"""The headline of each step, for the command line (the report holds everything)."""

from __future__ import annotations

from typing import Any

from havre.demo.story import DemoResult


def summarize(result: DemoResult) -> dict[str, Any]:
    steps = {s["step"]: s["facts"] for s in result.steps}
    population = steps["population"]
    ingest = steps["ingest"]
    linkage = steps["workspaces"].get("linkage") or {}
    audit = steps["audit"]
    return {
        "home": str(result.home.resolve()),
        "hub_id": result.hub_id,
        "kept": result.kept,
        "seconds": round(result.seconds, 1),
        "report": str(result.report.resolve()) if result.report else None,
        "credentials": str(result.credentials.resolve()) if result.credentials else None,
        "population": {
            "persons": population["persons"],
            "rows": population["rows"],
            "dirty_records": population["defects"],
        },
        "ingest": {
            "optouts": ingest["optouts"]["register_entries"],
            **{
                s["source"]: {
                    **s["total"],
                    "version": s["version"],
                    "quarantine_by_reason": s["quarantine_by_reason"],
                }
                for s in ingest["sources"]
            },
        },
        "people": len(steps["people"]["members"]),
        "projects": [
            {
                "id": p["project_id"],
                "title": p["title"],
                "access_level": p["access_level"],
                "permit_version": p["permit"]["version"],
                "review_journalist_risk": p["review_risk"]
                .get("figures", {})
                .get("journalist_risk"),
                "permit_journalist_risk": p["permit_risk"].get("journalist_risk"),
            }
            for p in steps["projects"]["projects"]
        ],
        "linkage": {
            "ids_in_both": linkage.get("ids_in_both"),
            "same_person": linkage.get("same_person"),
            "expected_by_chance": linkage.get("expected_by_chance"),
        },
        "queries": [
            {
                "key": q["key"],
                "refused": q["refused"],
                "rows": q["row_count"],
                "withheld_rows": q["suppressed_rows"],
                "error": q["error"],
                "audited_seq": (q.get("audit") or {}).get("seq"),
            }
            for q in steps["queries"]["queries"]
        ],
        "releases": [
            {
                "name": t["name"],
                "request_id": t["request_id"],
                "primary_suppressed": t["primary_suppressed"],
                "secondary_suppressed": t["secondary_suppressed"],
                "reviewers": t["reviewers"],
                "why": sorted({why for w in t["withheld"] for why in w["reasons"]}),
            }
            for t in steps["releases"]["tables"]
        ],
        "audit": {
            "ok": audit["verification"]["ok"],
            "entries": audit["entries"],
            "checkpoint": audit["checkpoint"]["number"],
            "tree_size": audit["checkpoint"]["tree_size"],
            "root_hash": audit["checkpoint"]["root_hash"],
            "refusals": len(audit["refusals"]),
        },
        "step_seconds": {s["step"]: round(s["seconds"], 1) for s in result.steps},
    }
