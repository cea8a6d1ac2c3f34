"""Step 8: the story written down — ``report.json`` (every step's facts) and ``index.html``.

The page is plain HTML with its CSS in the page: no script, no external asset, and a Content
Security Policy that forbids loading anything, so it opens offline and cannot call out. Every
value goes through ``html.escape`` (names, SQL, reasons and file names come from people and
data): nothing in a value can become markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

FORMAT = "havre-demo-report/1"

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;
color:#1d2433;background:#fff}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:2px solid #2c5aa0;padding-top:1rem}
h3{margin-bottom:.3rem}nav a{margin-right:.8rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #c8cfdb;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.withheld{background:#fde8e8;color:#8a1c1c;font-style:italic}
.ok{color:#17663a;font-weight:600}.bad{color:#8a1c1c;font-weight:600}
pre{background:#f5f7fa;border:1px solid #dde3ec;padding:.5rem;overflow-x:auto;font-size:.8rem}
.muted{color:#5b6577}code{font-size:.85rem}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"

SECTIONS = (
    ("population", "1. The synthetic population"),
    ("ingest", "2. Ingestion: reconciliation and quarantine"),
    ("people", "3a. The people and their accounts"),
    ("projects", "3b. Projects, permits and the risk the reviewer saw"),
    ("workspaces", "4. Workspaces: their person ids do not link"),
    ("queries", "5. Governed queries, and the ones refused"),
    ("releases", "6. Released tables and their check reports"),
    ("audit", "7. Audit log: summary, checkpoint, verification"),
)


def write(folder: Path, document: Mapping[str, Any]) -> tuple[Path, Path]:
    """Writes ``report.json`` and ``index.html`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "report.json"
    data.write_text(
        json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    page = folder / "index.html"
    page.write_text(render(document), encoding="utf-8")
    return data, page


def render(document: Mapping[str, Any]) -> str:
    steps = {step["step"]: step for step in document.get("steps", [])}
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',  # our constant
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Havre demo — {_e(document.get('hub_id', ''))}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Havre — the story of a governed project</h1>",
        _p(
            f"Hub {document.get('hub_id', '')}, {document.get('persons', 0):,} synthetic "
            f"persons (seed {document.get('seed', '')}), generated {document.get('generated_at')}"
            f" in {document.get('seconds', 0):.0f} s. Every figure below comes from the hub's "
            "own services; nothing here is about a real person.",
            "muted",
        ),
        "<nav>"
        + "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in SECTIONS)
        + "</nav>",
    ]
    renderers = {
        "population": _population,
        "ingest": _ingest,
        "people": _people,
        "projects": _projects,
        "workspaces": _workspaces,
        "queries": _queries,
        "releases": _releases,
        "audit": _audit,
    }
    for key, title in SECTIONS:
        parts.append(f'<section id="{key}"><h2>{_e(title)}</h2>')
        step = steps.get(key)
        if step is None:
            parts.append(_p("This step did not run.", "bad"))
        else:
            parts.append(renderers[key](step["facts"]))
            parts.append(_p(f"{step.get('seconds', 0):.1f} s", "muted"))
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# -- sections --------------------------------------------------------------------------------
def _population(facts: Mapping[str, Any]) -> str:
    return _p(
        "The insurer's claims (SNDS-shaped), a hospital group's FHIR export and the opt-out "
        "register, as their sources would send them, with a few dirty records."
    ) + _kv(
        {
            "persons": facts.get("persons"),
            "rows in all files": facts.get("rows"),
            "files": facts.get("files"),
            "dirty records planted": facts.get("defects"),
            "persons with diabetes at the end": facts.get("diabetics_at_end"),
            "hospital patients": facts.get("hospital_patients"),
            "opt-out rate": facts.get("optout_rate"),
        }
    )


def _ingest(facts: Mapping[str, Any]) -> str:
    optouts = facts.get("optouts", {})
    out = [
        _p(
            f"Opt-out register: {optouts.get('lines', 0)} line(s) read, "
            f"{optouts.get('register_entries', 0)} objection(s) in force — their records never "
            "enter the lake."
        )
    ]
    for source in facts.get("sources", []):
        out.append(
            f"<h3>{_e(source['source'])}: data version {_e(source['dataset'])} "
            f"v{_e(source['version'])}</h3>"
        )
        tables = dict(source.get("tables", {}))
        tables["total"] = source.get("total", {})
        out.append(_p("Reconciliation: read = loaded + quarantined + opted out + duplicates."))
        out.append(_grid(tables, "source table"))
        reasons = source.get("quarantine_by_reason", {})
        out.append("<p><b>Quarantine</b> (records held back, with their reason):</p>")
        out.append(_kv(reasons) if reasons else _p("nothing quarantined"))
        out.append(_p(f"Lake rows: {_inline(source.get('lake_rows', {}))}", "muted"))
    return "\n".join(out)


def _people(facts: Mapping[str, Any]) -> str:
    rows = [
        [m["name"], m["part"], ", ".join(m.get("roles", [])), m["email"]]
        for m in facts.get("members", [])
    ]
    return _p(
        "Every account has a password and a TOTP second factor; every action below was taken "
        "through the session of the person whose job it is."
    ) + _table(["person", "part", "hub-wide roles", "e-mail"], rows)


def _projects(facts: Mapping[str, Any]) -> str:
    out: list[str] = []
    for project in facts.get("projects", []):
        out.append(f"<h3>{_e(project['title'])}</h3>")
        out.append(
            _p(
                f"Project {project['project_id']} — {project['access_level']} access, "
                f"lead {project['lead']}."
            )
        )
        out.append(
            _table(
                ["step", "by", "outcome"],
                [[s["step"], s["by"], s["outcome"]] for s in project.get("steps", [])],
            )
        )
        risk = project.get("review_risk", {})
        out.append("<p><b>Re-identification risk the reviewer saw</b></p>")
        out.append(_kv(_risk_figures(risk.get("figures", {}))))
        if risk:
            out.append(
                _p(
                    f"Extract: {risk.get('persons')} persons of {risk.get('population_persons')}"
                    f"; quasi-identifiers: {', '.join(risk.get('quasi_identifiers', []))}."
                )
            )
            if risk.get("suggestion"):
                out.append(_p(f"Suggestion: {risk['suggestion']}", "muted"))
        permit = project.get("permit", {})
        out.append("<p><b>Permit in force</b></p>")
        out.append(
            _kv(
                {
                    "version": permit.get("version"),
                    "status": permit.get("status"),
                    "SHA-256": permit.get("sha256"),
                    "expires": permit.get("expires_at"),
                    "named persons": ", ".join(permit.get("named_persons", [])),
                    "data": f"{permit.get('dataset')} v{permit.get('data_version')}",
                    "period": _inline(permit.get("period", {})),
                    "population": _inline(permit.get("population", {})) or "everyone",
                    "identifiers granted": ", ".join(
                        permit.get("potential_identifiers_granted", [])
                    )
                    or "none",
                    "withheld by the decision": ", ".join(project.get("withheld", [])) or "none",
                    "date policy": permit.get("date_policy"),
                }
            )
        )
        out.append(
            _table(
                ["table", "columns granted"],
                [[t, ", ".join(c)] for t, c in permit.get("tables", {}).items()],
            )
        )
        out.append("<p><b>Risk recorded in the permit</b> (what it grants)</p>")
        out.append(_kv(_risk_figures(project.get("permit_risk", {}))))
    return "\n".join(out)


def _workspaces(facts: Mapping[str, Any]) -> str:
    rows = [
        [
            w["key"],
            w["project_id"],
            w["built_by"],
            w["access_level"],
            w["date_policy"],
            w["persons"],
            w["rows"],
            ", ".join(w.get("withheld", [])) or "—",
            w["objectors_removed"],
        ]
        for w in facts.get("built", [])
    ]
    out = [
        _table(
            [
                "study",
                "project",
                "built by",
                "access",
                "dates",
                "persons",
                "rows",
                "withheld columns",
                "objectors removed",
            ],
            rows,
        )
    ]
    linkage = facts.get("linkage") or {}
    if linkage:
        out.append(
            _p(
                "Each workspace numbers its persons in the order of an HMAC under its own "
                "project key. The hub (the only one holding both keys) checked what a naive "
                "join on person_id would pair:"
            )
        )
        out.append(
            _kv(
                {
                    "persons in each workspace": ", ".join(str(n) for n in linkage["persons"]),
                    "real persons in both": linkage["persons_in_both"],
                    "person ids present in both": linkage["ids_in_both"],
                    "pairs that are truly the same person": linkage["same_person"],
                    "expected by chance": linkage["expected_by_chance"],
                }
            )
        )
    return "\n".join(out)


def _queries(facts: Mapping[str, Any]) -> str:
    out: list[str] = []
    for query in facts.get("queries", []):
        verdict = "refused" if query["refused"] else "ran"
        out.append(f"<h3>{_e(query['title'])} <span class='muted'>({_e(verdict)})</span></h3>")
        out.append(_p(f"{query['by']}, project {query['project_id']} ({query['access_level']})."))
        out.append(f"<pre>{_e(query['sql'])}</pre>")
        if query["refused"]:
            out.append(_p(f"Refused ({query.get('error_code')}): {query.get('error')}", "bad"))
            entry = query.get("audit") or {}
            if entry:
                out.append(
                    _p(
                        f"Audit entry #{entry.get('seq')}: {entry.get('action')} "
                        f"{entry.get('outcome')} by {entry.get('actor')} — {entry.get('reason')}",
                        "muted",
                    )
                )
            continue
        if query["access_level"] == "row-level":
            out.append(
                _p(
                    f"{query['row_count']} row(s) stay in the workspace (row-level access); the "
                    f"report shows their shape only: {_inline(query.get('summary', {}))}."
                )
            )
            continue
        out.append(_table(query.get("columns", []), query.get("rows", [])))
        out.append(
            _p(
                f"{query.get('suppressed_rows', 0)} row(s) withheld (fewer than "
                f"{query.get('threshold')} persons); rules: "
                f"{', '.join(query.get('rules_fired', [])) or 'none'}.",
                "muted",
            )
        )
    return "\n".join(out)


def _releases(facts: Mapping[str, Any]) -> str:
    out: list[str] = []
    for table in facts.get("tables", []):
        out.append(f"<h3>{_e(table['description'])} <code>{_e(table['name'])}</code></h3>")
        out.append(
            _p(
                f"Request {table['request_id']}, project {table['project_id']}: requested by "
                f"{table['requested_by']}, reviewed blind by {', '.join(table['reviewers'])}, "
                f"released by {table['released_by']}."
            )
        )
        out.append(
            _table(
                ["step", "by", "outcome"],
                [[s["step"], s["by"], s["outcome"]] for s in table.get("steps", [])],
            )
        )
        out.append("<p><b>The released table</b> (as downloaded)</p>")
        out.append(_released(table.get("columns", []), table.get("rows", [])))
        policy = table.get("policy", {})
        parameters = policy.get("parameters", {})
        mitigation = table.get("mitigation", {})
        out.append("<p><b>Check report</b></p>")
        out.append(
            _kv(
                {
                    "status": table.get("status"),
                    "policy": policy.get("name"),
                    "threshold (persons)": parameters.get("threshold"),
                    "cells checked": table.get("check_cells"),
                    "withheld by a rule (primary)": table.get("primary_suppressed"),
                    "withheld to protect them (secondary)": table.get("secondary_suppressed"),
                    "protection proven by linear programming": mitigation.get("protected"),
                    "manifest SHA-256": table.get("manifest_sha256"),
                }
            )
        )
        out.append(
            _table(
                ["withheld cell", "margin", "rules", "why"],
                [
                    [
                        " × ".join("Total" if v is None else str(v) for v in w.get("cell", [])),
                        "yes" if w.get("margin") else "",
                        ", ".join(w.get("rules", [])),
                        "; ".join(w.get("reasons", [])),
                    ]
                    for w in table.get("withheld", [])
                ],
            )
        )
    return "\n".join(out)


def _audit(facts: Mapping[str, Any]) -> str:
    verification = facts.get("verification", {})
    ok = bool(verification.get("ok"))
    checkpoint = facts.get("checkpoint", {})
    return "\n".join(
        [
            _p(
                f"Verified by {facts.get('verified_by')}: {verification.get('message')}",
                "ok" if ok else "bad",
            ),
            _kv(
                {
                    "entries": verification.get("entries"),
                    "checkpoints": verification.get("checkpoints"),
                    "first / last seq": f"{verification.get('first_seq')} / "
                    f"{verification.get('last_seq')}",
                    "seconds": verification.get("seconds"),
                }
            ),
            "<p><b>Signed checkpoint</b> (Ed25519 over its canonical JSON)</p>",
            _kv(checkpoint),
            "<p><b>Entries by room</b></p>",
            _kv(facts.get("by_room", {})),
            "<p><b>Entries by outcome</b></p>",
            _kv(facts.get("by_outcome", {})),
            "<p><b>Refusals</b> (outcome denied)</p>",
            _table(
                ["seq", "action", "actor", "project", "reason"],
                [
                    [r["seq"], r["action"], r["actor"], r.get("project_id") or "", r["reason"]]
                    for r in facts.get("refusals", [])
                ],
            ),
            _p("Public key to check the checkpoint outside the hub: audit-public-key.json."),
        ]
    )


# -- helpers ---------------------------------------------------------------------------------
def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _p(text: str, css: str | None = None) -> str:
    klass = f' class="{css}"' if css else ""
    return f"<p{klass}>{_e(text)}</p>"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int | float):
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
        return f'<td class="num">{_e(text)}</td>'
    if isinstance(value, Mapping):
        return f"<td>{_e(_inline(value))}</td>"
    return f"<td>{_e(value)}</td>"


def _table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    if not body:
        return _p("(none)", "muted")
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(mapping: Mapping[str, object]) -> str:
    """A two-column table of names and values, without a header."""
    body = "".join(f"<tr><th>{_e(k)}</th>{_cell(v)}</tr>" for k, v in mapping.items())
    return f"<table><tbody>{body}</tbody></table>" if body else _p("(none)", "muted")


def _grid(rows: Mapping[str, Mapping[str, object]], first: str) -> str:
    columns: list[str] = []
    for values in rows.values():
        columns.extend(c for c in values if c not in columns)
    return _table([first, *columns], [[k, *(v.get(c) for c in columns)] for k, v in rows.items()])


def _released(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The CSV as it left: a withheld cell is empty with ``withheld = true``."""
    if not columns:
        return _p("(empty)", "muted")
    flag = columns.index("withheld") if "withheld" in columns else None
    shown = [c for i, c in enumerate(columns) if i != flag]
    body = []
    for row in rows:
        withheld = flag is not None and row[flag] == "true"
        cells = []
        for i, value in enumerate(row):
            if i == flag:
                continue
            if withheld and value == "":
                cells.append('<td class="withheld">withheld</td>')
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in shown)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _risk_figures(figures: Mapping[str, Any]) -> dict[str, object]:
    keep = (
        "k_anonymity",
        "prosecutor_risk",
        "journalist_risk",
        "marketer_risk",
        "sample_uniqueness",
        "population_uniqueness",
        "l_diversity",
        "assessed_at",
    )
    return {k.replace("_", " "): figures.get(k) for k in keep if k in figures}


def _inline(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in mapping.items())
