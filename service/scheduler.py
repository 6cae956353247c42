"""The scheduler: APScheduler drives the engine layer's due work, every `scheduler_interval_seconds` (default 1).

Two jobs, each on that interval and never overlapping itself:

- timers: due BPMN timers (intermediate, boundary, event subprocess), timer start events and retries of failed
  steps. A batch is claimed in one short transaction, then each instance fires in a transaction of its own;
  full batches are followed at once by the next, so a backlog drains at full speed.
- housekeeping: expired external-task locks are released, overdue tasks escalated, follow-up reminders
  (Wiedervorlage) sent in the app, then the e-mail outbox is delivered (after those commits).

Both run once at start-up, so what came due while no worker ran is caught up at once (each timer once). The
scheduler runs inside `kimflow serve` (embedded default) or in `kimflow worker` processes; any number of them
share one PostgreSQL, since every claim skips what another worker holds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import SQLAlchemyError

from service import mailer
from service.runtime import Runtime
from workflows import calendar, escalations, external_tasks, timers
from workflows.clock import Clock, ManualClock, SystemClock, as_utc
from workflows.context import Ctx
from workflows.errors import KimflowError

log = logging.getLogger("kimflow.scheduler")
BATCH = 200  # due rows claimed at once
GROUP = 20  # instances fired in one transaction
FIXED_NOW = "KIMFLOW_FIXED_NOW"
FAILURES = (KimflowError, SQLAlchemyError)  # a failed unit of work is logged; the next tick tries again


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def clock_from_env(env: Mapping[str, str] | None = None) -> Clock:
    """The real clock, or for tests a frozen one: KIMFLOW_FIXED_NOW=2026-03-29T09:00:00+02:00."""
    fixed = (os.environ if env is None else env).get(FIXED_NOW)
    if not fixed:
        return SystemClock()
    return ManualClock(as_utc(datetime.fromisoformat(fixed)))


# --- the jobs ------------------------------------------------------------------------------------------------


def tick(runtime: Runtime, *, batch: int = BATCH, budget_seconds: float = 30.0,
         stopping: threading.Event | None = None) -> int:
    """Fire what is due now, batch after batch while full ones come back (within a time budget).

    Returns the units fired (instances and start timers). A batch once claimed is fired to its end; only a
    stop request gives the rest of it back.
    """
    stopping = stopping or threading.Event()
    name, fired, started = worker_id(), 0, time.monotonic()
    while not stopping.is_set() and time.monotonic() - started < budget_seconds:
        try:
            with runtime.command() as ctx:
                rows = timers.claim(ctx, limit=batch, worker_id=name)
        except FAILURES:
            log.exception("claiming due timers failed; the next tick tries again")
            break
        fired += _fire_batch(runtime, timers.groups(rows), name, stopping)
        if len(rows) < batch:
            break
    if fired:
        log.info("fired %d due timers and retries", fired)
    return fired


def _fire_batch(runtime: Runtime, units: list[list[Any]], name: str, stopping: threading.Event) -> int:
    """Fire the units of a claimed batch, GROUP at a time in one transaction (commits are what costs); if one
    of a group cannot run now, the group rolls back and its units go one by one, so only that one waits. On a
    stop request the units not yet fired are given back at once."""
    fired = done = 0
    while done < len(units) and not stopping.is_set():
        group = units[done:done + GROUP]
        try:
            with runtime.command() as ctx:
                reports = []
                for unit in group:
                    if stopping.is_set():
                        break
                    reports.append(timers.fire_claimed(ctx, unit, worker_id=name))
            fired += sum(r.fired_instances + r.started_instances for r in reports)
            done += len(reports)
        except FAILURES:  # one of them cannot run now, or the database failed: each on its own then
            fired += sum(_fire_unit(runtime, unit, name) for unit in group)
            done += len(group)
    if done < len(units):
        _unclaim(runtime, [row for unit in units[done:] for row in unit], name)
    return fired


def _fire_unit(runtime: Runtime, unit: list[Any], name: str) -> int:
    """One instance (or start timer) in a transaction of its own; if it cannot run now, it waits a little (if
    even that fails, the database is gone: the claim expires and another worker takes it over)."""
    try:
        try:
            with runtime.command() as ctx:
                report = timers.fire_claimed(ctx, unit, worker_id=name)
        except KimflowError as error:
            log.info("instance %s could not fire now (%s); it tries again shortly", unit[0].instance_id, error)
            with runtime.command() as ctx:
                report = timers.back_off(ctx, unit, worker_id=name)
        except SQLAlchemyError:
            log.exception("firing the timers of instance %s failed; it tries again shortly", unit[0].instance_id)
            with runtime.command() as ctx:
                report = timers.back_off(ctx, unit, worker_id=name)
    except FAILURES:
        log.exception("could not even postpone instance %s; its claim expires", unit[0].instance_id)
        return 0
    return report.fired_instances + report.started_instances + report.failed


def _unclaim(runtime: Runtime, rows: list[Any], name: str) -> None:
    try:
        with runtime.command() as ctx:
            timers.unclaim(ctx, rows, worker_id=name)
    except FAILURES:
        log.exception("giving back %d claims failed; they expire by themselves", len(rows))


def housekeeping(runtime: Runtime) -> None:
    """Release expired external-task locks, escalate, remind on follow-ups, then send the e-mail outbox."""
    config = escalations.load_config(runtime.settings.config_dir)
    business_days = calendar.load_calendar(runtime.settings.config_dir)
    steps: list[tuple[str, Callable[[Ctx], object]]] = [
        ("releasing expired external-task locks", external_tasks.release_expired_locks),
        ("escalating overdue tasks", lambda ctx: escalations.scan(ctx, config, business_days.add_working_days)),
        ("follow-up reminders", lambda ctx: escalations.follow_ups(ctx, config)),
    ]
    for what, step in steps:
        try:
            with runtime.command() as ctx:
                step(ctx)
        except FAILURES:
            log.exception("%s failed; the next tick tries again", what)
    try:
        mailer.send_outbox(runtime)
    except FAILURES:
        log.exception("sending the e-mail outbox failed; the next tick tries again")


# --- running them --------------------------------------------------------------------------------------------


class _QuietSkips(logging.Filter):
    """A job still running when its next run is due (a long catch-up) is normal here: the run is skipped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_QUIET_SKIPS = _QuietSkips()


@dataclass
class Scheduler:
    """One process's scheduler: APScheduler with both jobs, and a stop flag the timer job watches."""

    runtime: Runtime
    aps: BaseScheduler
    stopping: threading.Event = field(default_factory=threading.Event)

    def add_jobs(self) -> None:
        logging.getLogger("apscheduler.scheduler").addFilter(_QUIET_SKIPS)
        every = self.runtime.settings.scheduler_interval_seconds
        now = datetime.now(UTC)  # first run at start-up: catch up at once
        self.aps.add_job(tick, "interval", args=[self.runtime], kwargs={"stopping": self.stopping}, seconds=every,
                         id="kimflow-timers", next_run_time=now, max_instances=1, coalesce=True,
                         misfire_grace_time=None)
        self.aps.add_job(housekeeping, "interval", args=[self.runtime], seconds=every, id="kimflow-housekeeping",
                         next_run_time=now, max_instances=1, coalesce=True, misfire_grace_time=None)

    def stop(self, *, wait: bool = True) -> None:
        """Stop ticking; with `wait`, until running jobs have finished their current unit of work."""
        self.stopping.set()
        if self.aps.running:
            self.aps.shutdown(wait=wait)


def start_in_background(runtime: Runtime) -> Scheduler:
    """For `kimflow serve` (and tests): the scheduler on daemon threads of this process."""
    scheduler = Scheduler(runtime, BackgroundScheduler(daemon=True, timezone="UTC"))
    scheduler.add_jobs()
    scheduler.aps.start()
    return scheduler


def run_forever(runtime: Runtime) -> None:
    """For `kimflow worker`: block and tick until SIGTERM or SIGINT, which end it after the current unit."""
    scheduler = Scheduler(runtime, BlockingScheduler(timezone="UTC"))
    scheduler.add_jobs()

    def stop(_signal: int, _frame: object) -> None:
        scheduler.stopping.set()
        threading.Thread(target=scheduler.stop, name="kimflow-stop").start()

    signal.signal(signal.SIGTERM, stop)
    try:
        scheduler.aps.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.stop()
