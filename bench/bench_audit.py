"""Audit trail: append throughput with durable commits on SQLite, and verification rate.

(1) audited actions per second when a caller batches (``append_many``, 100 per transaction,
SQLite WAL with ``synchronous=FULL``), and, for information, one transaction per action;
(2) ``verify`` over a log of 20k (small) or 500k (full) entries with checkpoints every 1,000,
in process and as ``havre audit verify`` in a child process (wall time, CPU time, peak
memory), on SQLite and on PostgreSQL (a throw-away database on ``HAVRE_BENCH_POSTGRES_URL``,
by default the local server's ``test`` database as admin), and, for information, on SQLite with
entries that have no stored canonical text (as entries appended before migration 0008).

CPU time beside wall time, and the load average before each verification: the machine may be
shared. In process, the CPU time is this process's (every thread) and, on PostgreSQL, that of
the server processes serving the verification (when the server runs on this machine).
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from bench.common import BenchResult, havre_child
from havre.audit import HubAction, PendingEntry, Target
from havre.core.actor import Actor
from havre.core.config import load_settings
from havre.hub import Hub

SCALES = {
    # batched actions, unbatched actions, log size for verification
    "small": (2_000, 200, 20_000),
    "full": (20_000, 1_000, 500_000),
}
BATCH = 100
APPEND_TARGET = 2_000.0
VERIFY_TARGET = 100_000.0
POSTGRES_ADMIN_URL = os.environ.get(
    "HAVRE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _actions(count: int, start: int) -> list[PendingEntry]:
    actor = Actor(
        user_id="usr_bench",
        name="Bench Researcher",
        roles=frozenset({"researcher"}),
        project_id="prj_bench",
        justification="benchmark of the audit trail",
        session_id="ses_bench",
        client_address="10.0.0.7",
    )
    kinds = (HubAction.OPEN, HubAction.KEY_CREATE, HubAction.SETTINGS_CHANGE)
    return [
        PendingEntry(
            actor,
            kinds[i % 3],
            Target("dataset", f"ds_{i % 97}"),
            details={"rows": i * 7, "columns": ["person_id_hash", "year"], "query": f"{i:064x}"},
        )
        for i in range(start, start + count)
    ]


def _fill(hub: Hub, count: int, batch: int) -> float:
    """Append ``count`` entries, ``batch`` per transaction; returns seconds."""
    started = time.perf_counter()
    done = 0
    while done < count:
        size = min(batch, count - done)
        with hub.db.transaction() as session:
            hub.audit.append_many(session, _actions(size, done))
        done += size
    return time.perf_counter() - started


def _calibration() -> float:
    """Seconds for 10M iterations of an empty Python loop: how busy the machine was."""
    started = time.perf_counter()
    for _ in range(10_000_000):
        pass
    return time.perf_counter() - started


def _postgres_database() -> tuple[str, Callable[[], None]] | None:
    """A fresh PostgreSQL database for the benchmark, and how to drop it (None: unreachable)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"havre_bench_audit_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        return None

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, drop


def _load() -> float:
    """The one-minute load average (how busy the machine was)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(hub: Hub) -> float | None:
    """CPU seconds of the PostgreSQL processes connected to the hub's database now (the pool
    keeps verification's connections open), read from /proc: None on SQLite or when the
    server is not on this machine."""
    if hub.db.dialect == "sqlite":
        return None
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(hub.settings.resolved_database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            pids = connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            ticks = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return None
    finally:
        engine.dispose()
    return ticks / os.sysconf("SC_CLK_TCK")


def _verify(result: BenchResult, hub: Hub, label: str, log_size: int) -> None:
    """Grow the log to ``log_size`` entries, then verify it in process and in a child."""
    size = hub.status().audit_entries
    _fill(hub, max(0, log_size - size), 2000)
    load, own, server = _load(), _own_cpu(), _server_cpu(hub)
    report = hub.audit_trail.verify()
    if not report.ok:
        raise RuntimeError(f"benchmark log does not verify: {report.message}")
    result.add(
        f"{label}: verify {report.entries:,} entries, {report.checkpoints} checkpoints "
        "(in process)",
        report.entries_per_second,
        "entries/s",
        f">= {VERIFY_TARGET:,.0f}",
        report.entries_per_second >= VERIFY_TARGET,
    )
    result.add(f"{label}: verify (in process): wall time", report.seconds, "s")
    result.add(f"{label}: verify (in process): CPU time of Python", _own_cpu() - own, "s")
    server_after = _server_cpu(hub)
    if server is not None and server_after is not None:
        result.add(
            f"{label}: verify (in process): CPU time of the server", server_after - server, "s"
        )
    result.add(f"{label}: verify (in process): load average before", load, "")
    env = {"HAVRE_HOME": str(hub.home), "HAVRE_DATABASE_URL": hub.settings.resolved_database_url}
    load = _load()
    child = havre_child(["audit", "verify", "--json"], env=env)
    if child.returncode != 0:
        raise RuntimeError(f"havre audit verify failed: {child.stderr}")
    measured = json.loads(child.stdout)
    result.add(
        f"{label}: havre audit verify (child): verification rate",
        measured["entries_per_second"],
        "entries/s",
        f">= {VERIFY_TARGET:,.0f}",
        measured["entries_per_second"] >= VERIFY_TARGET,
    )
    result.add(f"{label}: havre audit verify (child): wall time incl. start-up", child.seconds, "s")
    result.add(
        f"{label}: havre audit verify (child): CPU time of the child", child.cpu_seconds, "s"
    )
    result.add(f"{label}: havre audit verify (child): load average before", load, "")
    result.add(
        f"{label}: havre audit verify (child): peak memory", child.peak_rss_bytes / 2**20, "MiB"
    )


def _verify_without_stored_text(result: BenchResult, hub: Hub) -> None:
    """For information: entries appended before migration 0008 have no stored text and are
    verified from their columns (the path every entry took before). Drops a trigger to
    simulate them: only on the benchmark's own throw-away hub."""
    with hub.db.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(text("UPDATE audit_entries SET canonical = NULL"))
    report = hub.audit_trail.verify()
    if not report.ok:
        raise RuntimeError(f"benchmark log does not verify: {report.message}")
    result.add(
        "SQLite: verify from the columns alone (entries older than the stored text; information)",
        report.entries_per_second,
        "entries/s",
    )


def run(scale: str) -> BenchResult:
    batched, unbatched, log_size = SCALES[scale]
    result = BenchResult("audit", scale)
    result.add("calibration: 10M empty Python loop iterations", _calibration(), "s")
    with tempfile.TemporaryDirectory(prefix="havre-bench-audit-") as tmp:
        home = Path(tmp) / "hub"
        hub, _ = Hub.init(load_settings(home=home, audit_checkpoint_every=1000))
        with hub:
            seconds = _fill(hub, batched, BATCH)
            rate = batched / seconds
            result.add(
                f"append, {BATCH} per transaction (SQLite, synchronous=FULL)",
                rate,
                "actions/s",
                f">= {APPEND_TARGET:,.0f}",
                rate >= APPEND_TARGET,
            )
            seconds = _fill(hub, unbatched, 1)
            result.add(
                "append, one transaction each (information)", unbatched / seconds, "actions/s"
            )
            _verify(result, hub, "SQLite", log_size)
            _verify_without_stored_text(result, hub)
        postgres = _postgres_database()
        if postgres is None:
            result.notes.append(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: not measured")
        else:
            url, drop = postgres
            try:
                settings = load_settings(
                    home=Path(tmp) / "pg-hub", database_url=url, audit_checkpoint_every=1000
                )
                pg_hub, _ = Hub.init(settings)
                with pg_hub:
                    _verify(result, pg_hub, "PostgreSQL", log_size)
            finally:
                drop()
        result.notes.append(
            f"logs of {log_size:,} entries; {BATCH} actions per transaction for the batched "
            "rate; checkpoints every 1,000 entries (signed inside the appends); the "
            "calibration loop takes about 0.2 s on an idle core"
        )
    return result
