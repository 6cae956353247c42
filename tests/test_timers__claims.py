"""Claims: a worker that died after claiming is taken over once its claim expires; a worker whose claim was taken
over fires nothing; claims on PostgreSQL skip what another worker holds; two workers on one instance fire each
of its timers once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service import scheduler
from service.runtime import Runtime
from tests.conftest import PG_URL, deploy
from workflows import audit, execution, instances, schema, timers
from workflows.clock import ManualClock
from workflows.errors import ConflictError


def _start_burst(runtime: Runtime, clock: ManualClock, count: int) -> list[str]:
    deploy(runtime, "timer_burst")
    due = (clock.now() + timedelta(hours=1)).isoformat()
    with runtime.command() as ctx:
        return [instances.start(ctx, key="timer_burst", variables_in={"faellig": due}).id for _ in range(count)]


def _fired(runtime: Runtime) -> list[str]:
    with runtime.command() as ctx:
        return sorted(e.instance_id or "" for e in audit.query(ctx, kinds=["timer_fired"], limit=10_000))


def _claims(runtime: Runtime) -> list[tuple[str | None, object]]:
    with runtime.command() as ctx:
        return [(r.claimed_by, r.claimed_until) for r in ctx.session.scalars(sa.select(schema.Timer))]


def test_a_crashed_workers_claims_are_taken_over_after_the_claim_expiry(runtime: Runtime, clock: ManualClock) -> None:
    started = _start_burst(runtime, clock, 3)
    clock.advance(hours=2)
    with runtime.command() as ctx:  # the worker claims, commits, and dies before it fires anything
        dead = timers.claim(ctx, limit=10, worker_id="dead-worker")
    assert len(dead) == 3
    assert scheduler.tick(runtime) == 0  # the claims are still valid: nobody else touches them
    clock.advance(seconds=timers.CLAIM_SECONDS - 1)
    assert scheduler.tick(runtime) == 0
    assert {by for by, _until in _claims(runtime)} == {"dead-worker"}
    clock.advance(seconds=2)
    assert scheduler.tick(runtime) == 3  # expired: taken over and fired
    assert _fired(runtime) == sorted(started)
    with runtime.command() as ctx:  # the dead worker comes back to life and fires what it had claimed
        late = [timers.fire_claimed(ctx, unit, worker_id="dead-worker") for unit in timers.groups(dead)]
    assert sum(r.fired_instances for r in late) == 0 and sum(r.skipped for r in late) == 3
    assert _fired(runtime) == sorted(started)  # still once each


def test_a_claim_taken_over_by_another_worker_is_not_fired_by_the_first(runtime: Runtime, clock: ManualClock) -> None:
    (instance,) = _start_burst(runtime, clock, 1)
    clock.advance(hours=2)
    with runtime.command() as ctx:
        slow = timers.claim(ctx, limit=10, worker_id="slow")
    clock.advance(seconds=timers.CLAIM_SECONDS + 1)
    with runtime.command() as ctx:
        fast = timers.claim(ctx, limit=10, worker_id="fast")
    assert [r.id for r in fast] == [r.id for r in slow]
    with runtime.command() as ctx:
        assert timers.fire_claimed(ctx, slow, worker_id="slow").skipped == 1
    with runtime.command() as ctx:
        assert timers.fire_claimed(ctx, fast, worker_id="fast").fired_instances == 1
    assert _fired(runtime) == [instance]


def test_a_stopping_worker_gives_back_what_it_has_not_fired(runtime: Runtime, clock: ManualClock,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _start_burst(runtime, clock, 4)
    clock.advance(hours=2)
    stopping = threading.Event()
    fire = timers.fire_claimed

    def fire_one_then_stop(*args: object, **kwargs: object) -> timers.FireReport:
        stopping.set()  # SIGTERM arrives while the first instance fires
        return fire(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(timers, "fire_claimed", fire_one_then_stop)
    assert scheduler.tick(runtime, stopping=stopping) == 1
    assert _claims(runtime) == [(None, None)] * 3  # free at once for the other workers, not after the expiry
    monkeypatch.undo()
    assert scheduler.tick(runtime) == 3


@pytest.mark.skipif(not PG_URL, reason="SKIP LOCKED is PostgreSQL's (SQLite has one writer at a time): set "
                                       "KIMFLOW_TEST_DATABASE_URL to run it")
def test_concurrent_claims_on_postgresql_skip_each_others_rows(runtime: Runtime, clock: ManualClock) -> None:
    _start_burst(runtime, clock, 6)
    clock.advance(hours=2)
    with runtime.command() as first:
        mine = timers.claim(first, limit=4, worker_id="a")  # not yet committed: the rows are locked
        with runtime.command() as second:
            theirs = timers.claim(second, limit=10, worker_id="b")
    assert len(mine) == 4 and len(theirs) == 2
    assert not {r.id for r in mine} & {r.id for r in theirs}


def test_two_workers_holding_timers_of_one_instance_fire_each_once(runtime: Runtime, clock: ManualClock) -> None:
    """The reminder and the deadline of one task come due together, and two workers claim one each: the first
    fires the instance; the second waits for it, then finds its timer gone and fires nothing."""
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="timers", variables_in={
            "fristende": (clock.now() + timedelta(days=3)).isoformat()}).id
    clock.advance(days=2)
    with runtime.command() as ctx:
        timers.fire_due(ctx)  # the wait: now the task with its deadline (day 3) and reminder (day 3)
    clock.advance(days=1)
    with runtime.command() as ctx:
        (first,) = timers.claim(ctx, limit=1, worker_id="a")
    with runtime.command() as ctx:
        (second,) = timers.claim(ctx, limit=1, worker_id="b")
    results: dict[str, timers.FireReport] = {}

    def fire_b() -> None:
        with runtime.command() as ctx:
            results["b"] = timers.fire_claimed(ctx, [second], worker_id="b")

    with runtime.command() as ctx:
        results["a"] = timers.fire_claimed(ctx, [first], worker_id="a")
        other = threading.Thread(target=fire_b)
        other.start()  # on PostgreSQL it waits for the instance row, on SQLite for the write lock
        other.join(timeout=0.5)
        assert other.is_alive()
    other.join(timeout=30)
    assert results["a"].fired_instances == 1
    assert (results["b"].fired_instances, results["b"].skipped) == (0, 1)
    with runtime.command() as ctx:
        fired = sorted(e.element_id or "" for e in audit.for_instance(ctx, instance, kinds=["timer_fired"]))
    assert fired == ["frist", "wait"]  # the deadline interrupts the task; the reminder goes with it, unfired
    with runtime.command() as ctx:
        assert ctx.session.scalars(sa.select(schema.Timer)).all() == []


def test_an_instance_changed_at_the_same_moment_is_tried_again_after_a_pause(
        runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    (instance,) = _start_burst(runtime, clock, 1)
    clock.advance(hours=2)
    run = execution.run_command

    def caseworker_was_faster(*args: object, **kwargs: object) -> object:
        raise ConflictError("Process instance was changed by someone else in the meantime.")

    monkeypatch.setattr(execution, "run_command", caseworker_was_faster)
    assert scheduler.tick(runtime) == 1  # tried, failed, rolled back
    monkeypatch.setattr(execution, "run_command", run)
    ((by, until),) = _claims(runtime)
    assert (by, until) == (scheduler.worker_id(), clock.now() + timedelta(seconds=2))
    assert scheduler.tick(runtime) == 0 and _fired(runtime) == []  # waiting out its pause
    clock.advance(seconds=2)
    assert scheduler.tick(runtime) == 1
    assert _fired(runtime) == [instance]


def test_a_database_error_in_one_instance_holds_up_none_of_the_others(
        runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    started = _start_burst(runtime, clock, 5)
    broken = started[2]
    clock.advance(hours=2)
    fire = timers.fire_claimed

    def fail_for_one(ctx: object, rows: list[object], **kwargs: object) -> timers.FireReport:
        if rows[0].instance_id == broken:  # type: ignore[attr-defined]
            raise sa.exc.OperationalError("UPDATE process_instance ...", {}, Exception("deadlock detected"))
        return fire(ctx, rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(timers, "fire_claimed", fail_for_one)
    assert scheduler.tick(runtime) == 5  # four fired, one waits
    assert _fired(runtime) == sorted(set(started) - {broken})
    monkeypatch.undo()
    clock.advance(seconds=2)
    assert scheduler.tick(runtime) == 1
    assert _fired(runtime) == sorted(started)
