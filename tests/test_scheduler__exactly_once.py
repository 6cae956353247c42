"""Several `kimflow worker` processes on one database: every due timer fires exactly once.

The workers run the real command (APScheduler, claims, one transaction per instance) with their clock frozen
past the due time (KIMFLOW_FIXED_NOW). The timers are created in one transaction while all workers are already
ticking, so they all come due at the same moment for every worker. The proof is the audit trail: one
`timer_fired` event per instance, none missing, none twice.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import PG_URL, deploy
from workflows import instances, schema
from workflows.clock import ManualClock
from workflows.states import InstanceState

ROOT = Path(__file__).resolve().parent.parent
AUDIT = schema.AuditEvent


class Workers:
    """`kimflow worker` processes with their output in files (pipes could fill up and block them)."""

    def __init__(self, count: int, env: dict[str, str], folder: Path) -> None:
        self.logs = [folder / f"worker-{n}.log" for n in range(count)]
        self.processes = []
        for log in self.logs:
            with log.open("wb") as out:
                self.processes.append(subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=ROOT,
                                                       env=env, stdout=out, stderr=subprocess.STDOUT))

    def output(self, n: int) -> str:
        return self.logs[n].read_text(encoding="utf-8", errors="replace")

    def wait_until_ticking(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not all("ticking every" in self.output(n) for n in range(len(self.logs))):
            dead = [n for n, p in enumerate(self.processes) if p.poll() is not None]
            assert not dead, self.output(dead[0])
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)

    def stop(self) -> list[int | None]:
        """SIGTERM, as a service manager stops them: each ends after its current unit of work."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        return codes

    def fired_by_each(self) -> list[int]:
        return [sum(int(n) for n in re.findall(r"fired (\d+) due timers", self.output(n)))
                for n in range(len(self.logs))]


@pytest.fixture
def workers_env(runtime: Runtime, clock: ManualClock) -> dict[str, str]:
    past_due = clock.now() + timedelta(hours=2)
    return {**os.environ, "DATABASE_URL": runtime.settings.database_url, "KIMFLOW_FIXED_NOW": past_due.isoformat(),
            "KIMFLOW_SCHEDULER_INTERVAL": "0.2", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def start_workers(workers_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[int], Workers]]:
    started: list[Workers] = []

    def start(count: int) -> Workers:
        workers = Workers(count, workers_env, tmp_path)
        started.append(workers)
        return workers

    yield start
    for workers in started:
        workers.stop()


def _seed_in_one_transaction(runtime: Runtime, clock: ManualClock, count: int) -> None:
    due = (clock.now() + timedelta(hours=1)).isoformat()
    with runtime.command() as ctx:
        for number in range(count):
            instances.start(ctx, key="timer_burst", business_key=f"F-{number}", variables_in={"faellig": due})


def _counts(runtime: Runtime) -> tuple[int, int]:
    """(timer rows left, timer_fired events so far)."""
    with runtime.command() as ctx:
        left = ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.Timer))
        fired = ctx.session.scalar(sa.select(sa.func.count()).select_from(AUDIT).where(AUDIT.kind == "timer_fired"))
    return int(left or 0), int(fired or 0)


def _wait_until_all_fired(runtime: Runtime, count: int, timeout: float) -> float:
    started = time.monotonic()
    while _counts(runtime) != (0, count):
        assert time.monotonic() - started < timeout, f"after {timeout} s: {_counts(runtime)} of {count}"
        time.sleep(0.25)
    return time.monotonic() - started


def _assert_each_fired_once(runtime: Runtime, count: int) -> None:
    with runtime.command() as ctx:
        per_instance = dict(ctx.session.execute(
            sa.select(AUDIT.instance_id, sa.func.count())
            .where(AUDIT.kind == "timer_fired", AUDIT.element_id == "frist").group_by(AUDIT.instance_id)).all())
        started = set(ctx.session.scalars(sa.select(schema.ProcessInstance.id)))
        states = dict(ctx.session.execute(sa.select(schema.ProcessInstance.state, sa.func.count())
                                          .group_by(schema.ProcessInstance.state)).all())
    assert len(started) == count
    assert set(per_instance) == started  # none missing
    assert {n for n in per_instance.values()} == {1}  # none twice
    assert states == {InstanceState.COMPLETED.value: count}


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (FOR UPDATE SKIP LOCKED claims): set "
                                       "KIMFLOW_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test")
def test_four_workers_fire_5000_timers_due_at_the_same_moment_exactly_once(
        runtime: Runtime, clock: ManualClock, start_workers: Callable[[int], Workers]) -> None:
    deploy(runtime, "timer_burst")
    workers = start_workers(4)
    workers.wait_until_ticking()
    _seed_in_one_transaction(runtime, clock, 5000)
    _wait_until_all_fired(runtime, 5000, timeout=120)
    time.sleep(1.0)  # five more ticks of every worker: nothing fires a second time
    assert workers.stop() == [0, 0, 0, 0]  # SIGTERM ends each one cleanly
    _assert_each_fired_once(runtime, 5000)
    by_worker = workers.fired_by_each()
    assert sum(by_worker) == 5000, by_worker  # each worker's own count agrees with the audit trail
    assert sum(1 for n in by_worker if n) >= 2, by_worker  # they really worked side by side


def test_two_workers_fire_each_timer_once_on_sqlite_too(runtime: Runtime, clock: ManualClock,
                                                         start_workers: Callable[[int], Workers]) -> None:
    """SQLite has one writer at a time (no SKIP LOCKED); several workers on it never fire a timer twice either."""
    deploy(runtime, "timer_burst")
    workers = start_workers(2)
    workers.wait_until_ticking()
    _seed_in_one_transaction(runtime, clock, 300)
    _wait_until_all_fired(runtime, 300, timeout=60)
    time.sleep(0.6)
    assert workers.stop() == [0, 0]
    _assert_each_fired_once(runtime, 300)
    assert sum(workers.fired_by_each()) == 300
