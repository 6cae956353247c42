"""The timer scheduler: APScheduler drives workflows.timers.fire_due on a fixed interval.

Each tick claims due work in batches (FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers never fire the
same timer) and keeps going while full batches come back, so a backlog drains at full speed. The scheduler
runs inside `kimflow serve` (embedded default) or in separate `kimflow worker` processes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from service import mailer
from service.runtime import Runtime
from workflows import timers
from workflows.errors import KimflowError

log = logging.getLogger("kimflow.scheduler")
BATCH = 200


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def tick(runtime: Runtime, *, batch: int = BATCH, budget_seconds: float = 30.0) -> int:
    """Fire what is due now; repeats while batches come back full (within a time budget). Returns fired rows."""
    fired = 0
    started = time.monotonic()
    name = worker_id()
    while time.monotonic() - started < budget_seconds:
        try:
            with runtime.command() as ctx:
                report = timers.fire_due(ctx, limit=batch, worker_id=name)
        except KimflowError:
            log.exception("timer batch failed; the next tick retries")
            break
        handled = report.fired_instances + report.started_instances + report.failed
        fired += handled
        if report.claimed < batch:
            break
    return fired


def housekeeping(runtime: Runtime) -> None:
    """Escalate overdue tasks and send the e-mail outbox (each in its own transaction)."""
    from workflows import calendar, escalations

    config = escalations.load_config(runtime.settings.config_dir)
    business_days = calendar.load_calendar(runtime.settings.config_dir)
    try:
        with runtime.command() as ctx:
            escalations.scan(ctx, config, business_days.add_working_days)
    except KimflowError:
        log.exception("escalation scan failed; the next tick retries")
    mailer.send_outbox(runtime)


def _add_job(scheduler: BackgroundScheduler | BlockingScheduler, runtime: Runtime) -> None:
    scheduler.add_job(tick, "interval", args=[runtime], seconds=runtime.settings.scheduler_interval_seconds,
                      id="kimflow-timers", max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.add_job(housekeeping, "interval", args=[runtime], seconds=max(30.0, 30 * runtime.settings
                                                                             .scheduler_interval_seconds),
                      id="kimflow-housekeeping", max_instances=1, coalesce=True, misfire_grace_time=None)


def start_in_background(runtime: Runtime) -> BackgroundScheduler:
    """For `kimflow serve`: the embedded scheduler on a daemon thread."""
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    _add_job(scheduler, runtime)
    scheduler.start()
    return scheduler


def run_forever(runtime: Runtime) -> None:
    """For `kimflow worker`: block and tick until stopped (SIGTERM/SIGINT end it cleanly)."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add_job(scheduler, runtime)
    tick(runtime)  # catch up at once with what came due while no worker ran
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
