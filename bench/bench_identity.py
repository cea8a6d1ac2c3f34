"""Identity: sign-in latency at the real argon2id cost, the unknown-account timing match,
bearer-token resolution per request, and the inactivity sweep over many accounts.

(1) ``authenticate`` (password + TOTP, a session opened) median latency; (2) median latency
of a refused sign-in for an unknown e-mail over that of a wrong password (must stay near 1);
(3) ``actor_from_token`` median latency (what every API request pays); (4) ``suspend_inactive``
over a hub of many accounts, all idle (rows inserted directly: hashing thousands of
passwords would measure argon2, not the sweep). SQLite, in process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import BenchResult
from havre.core.actor import Actor
from havre.core.clock import FixedClock
from havre.core.config import load_settings
from havre.core.errors import AuthenticationError
from havre.governance.identity import Role
from havre.governance.identity.models import UserRow
from havre.governance.identity.passwords import hash_password
from havre.governance.identity.testing import People
from havre.governance.identity.totp import code_at
from havre.hub import Hub

SCALES = {
    # sign-ins, token resolutions, idle accounts swept
    "small": (5, 200, 500),
    "full": (30, 5_000, 5_000),
}
SIGN_IN_TARGET = 1.0  # seconds, the person waits for it once a session
TOKEN_TARGET = 0.05  # seconds per request (one write transaction: last use, idle expiry)
# A daily sweep suspends a handful of accounts; 5,000 at once (a hub's whole population
# idle, e.g. after a migration) must still finish in a couple of minutes. One audit entry per
# account dominates the time.
SWEEP_TARGET = 120.0


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(AuthenticationError):
        call()
    return time.perf_counter() - started


def run(scale: str) -> BenchResult:
    sign_ins, resolutions, idle_accounts = SCALES[scale]
    result = BenchResult("identity", scale)
    clock = FixedClock(dt.datetime(2027, 6, 1, 8, 0, 5, tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory() as tmp:
        hub, _ = Hub.init(load_settings(home=Path(tmp) / "home"), clock=clock)
        with hub:
            people = People(hub.identity)
            person = people.person([(Role.RESEARCHER, "prj_bench")])

            latencies: list[float] = []
            for _ in range(sign_ins):
                clock.advance(seconds=30)
                code = code_at(person.secret, clock.now())
                sign = partial(hub.identity.authenticate, person.email, person.password, code)
                latencies.append(_timed(sign))
            sign_in = statistics.median(latencies)
            result.add(
                "sign_in_median", sign_in, "s", f"<= {SIGN_IN_TARGET}", sign_in <= SIGN_IN_TARGET
            )

            wrong: list[float] = []
            unknown: list[float] = []
            for attempt in range(max(3, sign_ins // 3)):
                clock.advance(minutes=1)
                email, guess = f"x{attempt}@e.org", f"not the password {attempt}"
                wrong.append(_timed(partial(hub.identity.authenticate, person.email, guess, "1")))
                unknown.append(_timed(partial(hub.identity.authenticate, email, guess, "1")))
                hub.identity.unlock_user(Actor.operator(), person.user_id)
            ratio = statistics.median(unknown) / statistics.median(wrong)
            result.add("unknown_vs_wrong_password", ratio, "ratio", "0.5-2", 0.5 < ratio < 2)

            people.sign_in(person)
            token = person.token
            per_call = []
            for _ in range(resolutions):
                clock.advance(seconds=1)
                per_call.append(
                    _timed(lambda: hub.identity.actor_from_token(token, project_id="prj_bench"))
                )
            median = statistics.median(per_call)
            result.add(
                "actor_from_token_median", median, "s", f"<= {TOKEN_TARGET}", median <= TOKEN_TARGET
            )

            digest = hash_password("bench-password-never-used-1")
            with hub.db.transaction() as session:
                now = clock.now()
                session.add_all(
                    UserRow(
                        id=f"usr_bench{i:08d}",
                        email=f"idle{i}@bench.example",
                        name=f"Idle Person{i}",
                        organisation="Bench",
                        status="active",
                        password_hash=digest,
                        password_changed_at=now,
                        created_at=now,
                        active_since=now,
                        created_by=None,
                        created_by_name="bench",
                        failed_attempts=0,
                    )
                    for i in range(idle_accounts)
                )
            clock.advance(days=91)
            started = time.perf_counter()
            suspended = hub.identity.suspend_inactive(Actor.operator())
            sweep = time.perf_counter() - started
            ok = len(suspended) >= idle_accounts and (scale != "full" or sweep <= SWEEP_TARGET)
            result.add("suspend_inactive_seconds", sweep, "s", f"<= {SWEEP_TARGET} at full", ok)
            result.add("suspend_inactive_accounts", len(suspended), "accounts")
            result.add("suspend_inactive_rate", len(suspended) / sweep, "accounts/s")
    result.notes.append(
        "argon2id t=3 m=64MiB p=4 (RFC 9106 low memory); SQLite WAL synchronous=FULL; "
        "one audit entry per suspended account"
    )
    return result
