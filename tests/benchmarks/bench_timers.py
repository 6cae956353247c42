"""Timers under load, on PostgreSQL, with the real scheduler (APScheduler jobs in separate worker processes).

- timers_burst: 10,000 timers come due at the same moment; 2 worker processes; the time until all have fired.
- timer_lateness: timers come due at a steady 50 per second for 2 minutes (6,000); how late each fires
  (fired_at - due_at in the audit trail), p50/p95/p99, with the wall clock running at its real speed.

Both check that every timer fired exactly once. Worker processes are started with `spawn` (no inherited
connections) and wait at a barrier, so the measured window starts when all of them are ready.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service import scheduler
from service.runtime import Runtime
from tests.benchmarks.bench_engine import DATA, backends, fresh_runtime
from workflows import definitions, instances, schema
from workflows.clock import ManualClock
from workflows.settings import load_settings

MODEL = DATA / "timer_burst" / "timer_burst.bpmn"
SEEDED_AT = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # the seeding clock; workers' clocks are set relative to it
AUDIT = schema.AuditEvent


@dataclass
class RunningClock:
    """Reads `origin` at wall time `wall_origin` and runs at real speed from there (lateness is real time)."""

    origin: datetime
    wall_origin: float

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=time.time() - self.wall_origin)


def _seed(runtime: Runtime, dues: list[datetime], chunk: int = 1000) -> None:
    """One instance per due time, waiting on its intermediate timer; a thousand per transaction."""
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(MODEL.name, MODEL.read_bytes())], name="bench-timers")
    for start in range(0, len(dues), chunk):
        with runtime.command() as ctx:
            for due in dues[start:start + chunk]:
                instances.start(ctx, key="timer_burst", variables_in={"faellig": due.isoformat()})


def _worker(url: str, clock: Any, wall_origin: Any, barrier: Any, stop: Any) -> None:
    """One `kimflow worker`: the real scheduler jobs on their default interval, until told to stop."""
    settings = load_settings(env={}, database_url=url)
    runtime = Runtime.build(settings, clock)
    with runtime.command() as ctx:  # connect and warm up before the window opens
        ctx.session.execute(sa.text("SELECT 1"))
    barrier.wait()
    if isinstance(clock, RunningClock):
        clock.wall_origin = wall_origin.value
    running = scheduler.start_in_background(runtime)
    stop.wait()
    running.stop()
    runtime.engine.dispose()


def _run_workers(url: str, processes: int, clock: Any, until_done: Any, timeout: float) -> float:
    """Start the workers, open the window when all are ready, wait until `until_done()`; returns the seconds."""
    context = multiprocessing.get_context("spawn")
    barrier, stop, wall_origin = context.Barrier(processes + 1), context.Event(), context.Value("d", 0.0)
    workers = [context.Process(target=_worker, args=(url, clock, wall_origin, barrier, stop))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    wall_origin.value = time.time()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    try:
        while not until_done():
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"timers still unfired after {timeout} s")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)


def _fired_counts(runtime: Runtime) -> tuple[int, int, int]:
    """(timer_fired events, instances that fired, instances that fired more than once)."""
    with runtime.command() as ctx:
        per_instance = ctx.session.execute(sa.select(sa.func.count()).where(AUDIT.kind == "timer_fired")
                                           .group_by(AUDIT.instance_id)).scalars().all()
    return sum(per_instance), len(per_instance), sum(1 for n in per_instance if n > 1)


def _all_fired(runtime: Runtime, count: int) -> Any:
    def done() -> bool:
        with runtime.command() as ctx:
            left = ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.Timer))
            fired = ctx.session.scalar(sa.select(sa.func.count()).select_from(AUDIT)
                                       .where(AUDIT.kind == "timer_fired"))
        return left == 0 and fired == count

    return done


def _postgres(pg_url: str) -> str | None:
    return next((url for backend, url in backends(pg_url) if backend == "postgresql"), None)


def timers_burst(pg_url: str, *, quick: bool = False, processes: int = 2) -> list[dict[str, Any]]:
    url = _postgres(pg_url)
    if url is None:
        return [{"figure": "timers_burst", "skipped": "no PostgreSQL"}]
    count = 1_000 if quick else 10_000
    runtime = fresh_runtime(url)
    runtime.clock = ManualClock(SEEDED_AT)
    _seed(runtime, [SEEDED_AT + timedelta(hours=1)] * count)
    seconds = _run_workers(url, processes, ManualClock(SEEDED_AT + timedelta(hours=2)), _all_fired(runtime, count),
                           timeout=600)
    fired, instances_fired, twice = _fired_counts(runtime)
    runtime.engine.dispose()
    return [{"figure": "timers_burst", "database": "postgresql", "timers": count, "processes": processes,
             "seconds_until_all_fired": round(seconds, 1), "timers_per_s": round(count / seconds, 1),
             "exactly_once": fired == instances_fired == count and twice == 0,
             "interval_s": 1.0, "target_s": 60}]


def timer_lateness(pg_url: str, *, quick: bool = False, processes: int = 2, rate: int = 50) -> list[dict[str, Any]]:
    url = _postgres(pg_url)
    if url is None:
        return [{"figure": "timer_lateness", "skipped": "no PostgreSQL"}]
    seconds, lead = (12, 5) if quick else (120, 10)
    count = seconds * rate
    runtime = fresh_runtime(url)
    runtime.clock = ManualClock(SEEDED_AT)
    first_due = SEEDED_AT + timedelta(seconds=lead)
    _seed(runtime, [first_due + timedelta(seconds=n / rate) for n in range(count)])
    _run_workers(url, processes, RunningClock(SEEDED_AT, 0.0), _all_fired(runtime, count),
                 timeout=lead + seconds + 120)
    with runtime.command() as ctx:
        details = ctx.session.scalars(sa.select(AUDIT.details).where(AUDIT.kind == "timer_fired")).all()
    late = sorted((datetime.fromisoformat(d["fired_at"]) - datetime.fromisoformat(d["due"])).total_seconds()
                  for d in details)
    fired, instances_fired, twice = _fired_counts(runtime)
    runtime.engine.dispose()
    cuts = statistics.quantiles(late, n=100)
    return [{"figure": "timer_lateness", "database": "postgresql", "timers": count, "per_s": rate,
             "seconds": seconds, "processes": processes, "interval_s": 1.0,
             "lateness_p50_s": round(cuts[49], 3), "lateness_p95_s": round(cuts[94], 3),
             "lateness_p99_s": round(cuts[98], 3), "lateness_max_s": round(late[-1], 3),
             "exactly_once": fired == instances_fired == count and twice == 0, "target_p95_s": 2.0}]
