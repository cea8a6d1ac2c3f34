"""``havre audit ...``: verify, checkpoints, proofs, search, export, archives, keys, roles.

Thin: each command opens the hub (or, for the outsider's checks, only reads files) and calls
one service. ``verify`` exits 7 when the trail is damaged, after printing its report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from havre.audit.actions import all_actions
from havre.audit.entry import Outcome
from havre.audit.query import AuditQuery, parse_moment, verify_export
from havre.audit.signing import TrustedKeys, require_keys
from havre.cli.context import TokenOption, actor_for, open_hub
from havre.cli.output import JsonFlag, console, emit, err_console, note, print_mapping, print_table
from havre.core.errors import IntegrityError, UsageError

audit_app = typer.Typer(help="The audit trail: verify, checkpoints, proofs, search, export.")

PublicKey = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="Public key file from 'havre audit public-key' (default: the hub's key store).",
    ),
]
Archives = Annotated[
    list[Path] | None,
    typer.Option("--archive", help="Archive file of a removed range (repeat for each)."),
]
Justification = Annotated[
    str | None, typer.Option("--justification", help="Why you read the trail (recorded).")
]
Out = Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    archive: Archives = None,
    public_key: PublicKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute chain, Merkle roots and signatures; exit 7 naming the first damage."""
    with open_hub() as hub:
        report = hub.audit_trail.verify(archive_files=archive or [], public_key_file=public_key)
    data = report.to_dict()

    def human() -> None:
        for line in report.notes:
            note(line)
        if report.ok:
            rate = f" ({report.entries_per_second:,.0f} entries/s)" if report.entries > 1000 else ""
            console.print(
                f"[green]Intact:[/green] {report.entries} entries, {report.checkpoints} "
                f"checkpoint(s), {report.archives} archive(s){rate}."
            )
        else:
            err_console.print(
                f"[bold red]Damaged:[/bold red] first bad entry {report.first_bad_seq} "
                f"({report.damage}): {report.message}"
            )

    emit(data, as_json, human)
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)


@audit_app.command("checkpoint")
def checkpoint(token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """Sign a checkpoint of the log now (tree size, Merkle root, time)."""
    with open_hub() as hub:
        made = hub.audit_trail.checkpoint(actor_for(hub, token))
    data = made.to_dict()
    emit(data, as_json, lambda: print_mapping(data, title=f"Checkpoint {made.number}"))


@audit_app.command("checkpoints")
def checkpoints(as_json: JsonFlag = False) -> None:
    """List the signed checkpoints."""
    with open_hub() as hub:
        data = [c.to_dict() for c in hub.audit_trail.checkpoints()]
    emit(
        data,
        as_json,
        lambda: print_table(
            ["number", "tree size", "time", "root", "key"],
            [
                [c["number"], c["tree_size"], c["time"], c["root_hash"][:16] + "…", c["key"]]
                for c in data
            ],
        ),
    )


@audit_app.command("proof")
def proof(
    seq: Annotated[int, typer.Argument(help="Sequence number of the entry.")],
    checkpoint_number: Annotated[
        int | None, typer.Option("--checkpoint", help="Checkpoint number (default: latest).")
    ] = None,
    archive: Archives = None,
    out: Out = None,
    token: TokenOption = None,
    justification: Justification = None,
    as_json: JsonFlag = False,
) -> None:
    """Inclusion proof of an entry in a signed checkpoint (check it with verify-proof)."""
    with open_hub() as hub:
        actor = actor_for(hub, token, justification=justification)
        document = hub.audit_trail.inclusion_proof(
            actor, seq, checkpoint_number=checkpoint_number, archive_files=archive or []
        )
    _write_document(document, out, as_json, f"Entry {seq}: {len(document['path'])} hashes")


@audit_app.command("consistency")
def consistency(
    old_size: Annotated[int, typer.Argument(help="Tree size of the old checkpoint you hold.")],
    new_size: Annotated[
        int | None, typer.Argument(help="Tree size of a later checkpoint (default: latest).")
    ] = None,
    out: Out = None,
    as_json: JsonFlag = False,
) -> None:
    """Consistency proof: the log at NEW_SIZE extends the log at OLD_SIZE."""
    with open_hub() as hub:
        document = hub.audit_trail.consistency_proof(old_size, new_size)
    _write_document(
        document, out, as_json, f"{old_size} → {document['new_size']}: {len(document['proof'])}"
    )


@audit_app.command("verify-proof")
def verify_proof(
    file: Annotated[Path, typer.Argument(help="Proof file (from 'proof' or 'consistency').")],
    public_key: PublicKey = None,
    held: Annotated[
        Path | None,
        typer.Option("--held-checkpoint", help="An old checkpoint you kept (JSON), to compare."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a proof offline; with --public-key no hub is needed. Exit 7 if it fails."""
    from havre.audit.proofs import verify_document

    document = _read_json(file)
    held_checkpoint = _read_json(held) if held is not None else None
    keys = _keys(public_key)
    result = verify_document(document, keys, held_checkpoint)
    emit(result.to_dict(), as_json, lambda: _say(result.ok, result.message))
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


@audit_app.command("search")
def search(
    user: Annotated[str | None, typer.Option("--user", help="User id or actor name.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project id.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Action, or a prefix ending in '.'.")
    ] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="ok, denied or error.")] = None,
    target_kind: Annotated[str | None, typer.Option("--target-kind")] = None,
    target_id: Annotated[str | None, typer.Option("--target-id")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From (ISO date/time).")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before (ISO; a date: that whole day).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Latest N matches.")] = 100,
    token: TokenOption = None,
    justification: Justification = None,
    as_json: JsonFlag = False,
) -> None:
    """Find entries by user, project, action, outcome, target and time."""
    query = AuditQuery(
        user=user,
        project=project,
        action=action,
        outcome=_outcome(outcome),
        target_kind=target_kind,
        target_id=target_id,
        since=parse_moment(since) if since else None,
        until=parse_moment(until, end=True) if until else None,
        limit=limit,
    )
    with open_hub() as hub:
        found = hub.audit_trail.search(actor_for(hub, token, justification=justification), query)
    data = [{**r.to_dict()} for r in found]
    emit(
        data,
        as_json,
        lambda: print_table(
            ["seq", "time", "actor", "action", "target", "outcome", "project"],
            [
                [
                    r["seq"],
                    r["ts"],
                    r["actor"]["user_id"] or r["actor"]["name"],
                    r["action"],
                    f"{r['target']['kind']}:{r['target']['id'] or ''}",
                    r["outcome"],
                    r["project_id"],
                ]
                for r in data
            ],
        ),
    )


@audit_app.command("export")
def export(
    since: Annotated[str | None, typer.Option("--since", help="From (ISO date/time).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before (ISO date/time).")] = None,
    out: Out = None,
    token: TokenOption = None,
    justification: Justification = None,
) -> None:
    """Write entries (one JSON line each, with their hashes) to stdout or --out."""
    start = parse_moment(since) if since else None
    end = parse_moment(until, end=True) if until else None
    with open_hub() as hub:
        actor = actor_for(hub, token, justification=justification)
        window, lines = hub.audit_trail.export(actor, start, end)
        handle = out.open("w", encoding="utf-8") if out is not None else sys.stdout
        try:
            for line in lines:
                handle.write(line)
        finally:
            if out is not None:
                handle.close()
    if window is None:
        note("No entry in that period.")
    else:
        note(f"Exported entries {window.first_seq} to {window.last_seq} ({window.entries}).")


@audit_app.command("verify-export")
def verify_export_command(
    file: Annotated[Path, typer.Argument(help="A file written by 'havre audit export'.")],
    before_hash: Annotated[
        str | None,
        typer.Option("--before-hash", help="Trusted hash of the entry before the range."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-verify an exported range as a chain, without the hub. Exit 7 if it fails."""
    try:
        with file.open("r", encoding="utf-8") as handle:
            result = verify_export(handle, before_hash)
    except OSError as exc:
        raise UsageError(f"Cannot read {file}: {exc.strerror}.") from None
    emit(result.to_dict(), as_json, lambda: _say(result.ok, result.message))
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


@audit_app.command("archive")
def archive(
    before: Annotated[str, typer.Option("--before", help="Archive entries older than this.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: $HAVRE_HOME/audit-archives).")
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Also remove the archived entries (needs the owner).")
    ] = False,
    token: TokenOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write entries older than the retention to a signed archive file."""
    with open_hub() as hub:
        directory = out or hub.home / "audit-archives"
        record = hub.audit_trail.archive(
            actor_for(hub, token), parse_moment(before), directory, remove=remove
        )
    data = {**record.to_dict(), "path": str(directory / record.file_name)}
    emit(data, as_json, lambda: print_mapping(data, title=f"Archive {record.number}"))


@audit_app.command("archives")
def archives(as_json: JsonFlag = False) -> None:
    """List the archive records."""
    with open_hub() as hub:
        data = [a.to_dict() for a in hub.audit_trail.archives()]
    emit(
        data,
        as_json,
        lambda: print_table(
            ["number", "entries", "first", "last", "removed", "file"],
            [
                [
                    a["number"],
                    a["entry_count"],
                    a["first_seq"],
                    a["last_seq"],
                    a["removed"],
                    a["file_name"],
                ]
                for a in data
            ],
        ),
    )


@audit_app.command("verify-archive")
def verify_archive(
    file: Annotated[Path, typer.Argument(help="An archive file.")],
    public_key: PublicKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Check an archive file offline: signature, chain, count. Exit 7 if it fails."""
    from havre.audit.archive import verify_archive_file

    result = verify_archive_file(file, _keys(public_key))
    emit(result.to_dict(), as_json, lambda: _say(result.ok, result.message))
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


@audit_app.command("public-key")
def public_key(out: Out = None, as_json: JsonFlag = False) -> None:
    """Export the audit signing public key(s), for anyone to verify checkpoints offline."""
    with open_hub() as hub:
        document = hub.audit_trail.public_keys()
    if out is not None:
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        note(f"Wrote {out}.")
    if as_json:
        emit(document, True)
    elif out is None:
        for item in document["keys"]:
            typer.echo(f"# {item['key_id']}")
            typer.echo(item["pem"], nl=False)


@audit_app.command("actions")
def actions(as_json: JsonFlag = False) -> None:
    """List the typed audit actions."""
    data = all_actions()  # the hub (imported by the CLI) imports every room's services

    def human() -> None:
        for name in data:
            console.print(name)

    emit(data, as_json, human)


@audit_app.command("app-role")
def app_role(
    name: Annotated[str, typer.Argument(help="The application's PostgreSQL role.")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the GRANTs now (as the database owner).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """PostgreSQL GRANTs that let the application only INSERT and SELECT audit rows."""
    from havre.audit.privileges import app_role_statements, apply_app_role

    if apply:
        with open_hub() as hub:
            statements = apply_app_role(hub.db, name)
    else:
        statements = app_role_statements(name)
    data = {"role": name, "applied": apply, "statements": statements}

    def human() -> None:  # plain text, to paste into psql
        for statement in statements:
            typer.echo(statement + ";")

    emit(data, as_json, human)


def _outcome(value: str | None) -> Outcome | None:
    if value is None:
        return None
    try:
        return Outcome(value.strip().lower())
    except ValueError:
        raise UsageError(f"Unknown outcome '{value}'.", hint="use ok, denied or error") from None


def _keys(public_key: Path | None) -> TrustedKeys:
    if public_key is not None:
        return require_keys(TrustedKeys.from_file(public_key))
    with open_hub() as hub:
        return hub.audit_trail.trusted_keys()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON.") from None


def _write_document(
    document: dict[str, Any], out: Path | None, as_json: bool, summary: str
) -> None:
    if out is not None:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        note(f"Wrote {out} ({summary}).")
        if as_json:
            emit(document, True)
        return
    if as_json:
        emit(document, True)
    else:
        print_mapping({k: v for k, v in document.items() if k not in ("entry",)})


def _say(ok: bool, message: str) -> None:
    if ok:
        console.print(f"[green]OK:[/green] {message}")
    else:
        err_console.print(f"[bold red]FAILED:[/bold red] {message}")
