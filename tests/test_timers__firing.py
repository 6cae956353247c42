"""Timers through the runtime: projection rows with due times, firing at a given now, start timers, catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from workflows import audit, human_tasks, instances, schema, timers
from workflows.clock import ManualClock


def _timer_rows(runtime: Runtime) -> list[schema.Timer]:
    with runtime.command() as ctx:
        return list(ctx.session.scalars(sa.select(schema.Timer).order_by(schema.Timer.due_at)))


def _open_tasks(runtime: Runtime) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery()))


def _fire(runtime: Runtime) -> timers.FireReport:
    with runtime.command() as ctx:
        return timers.fire_due(ctx)


def test_intermediate_timer_row_fires_at_its_due_time(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="timers", variables_in={
            "fristende": (clock.now() + timedelta(days=20)).isoformat()})
    (row,) = _timer_rows(runtime)
    assert (row.element_id, row.kind, row.due_at) == ("wait", "intermediateCatchEvent", clock.now() + timedelta(days=2))
    clock.advance(days=1)
    assert _fire(runtime).fired_instances == 0
    clock.advance(days=1)
    assert _fire(runtime).fired_instances == 1
    assert _open_tasks(runtime) == ["nachweise"]
    rows = _timer_rows(runtime)
    assert sorted(r.element_id for r in rows) == ["erinnerung", "frist"]
    with runtime.command() as ctx:
        fired = audit.for_instance(ctx, started.id, kinds=["timer_fired"])
    assert [e.element_id for e in fired] == ["wait"]
    assert fired[0].details["due"] == (clock.now()).isoformat()


def test_boundary_deadline_interrupts_and_cycle_reminds(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        instances.start(ctx, key="timers", variables_in={"fristende": (clock.now() + timedelta(days=5)).isoformat()})
    clock.advance(days=2)
    _fire(runtime)
    clock.advance(days=1)
    _fire(runtime)
    assert _open_tasks(runtime) == ["erinnern", "nachweise"]
    clock.advance(days=2)
    _fire(runtime)  # the deadline (day 5) and the second reminder (day 4) were both due: both fire once
    assert _open_tasks(runtime) == ["nach_aktenlage"]  # open reminders end with the interrupted activity
    assert _timer_rows(runtime) == []


def test_timers_that_came_due_while_nobody_ran_fire_once(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="timers", variables_in={
            "fristende": (clock.now() + timedelta(days=60)).isoformat()})
    clock.advance(days=2)
    _fire(runtime)
    clock.advance(days=30, hours=3)  # the reminder cycle R2/P1D missed both of its moments
    _fire(runtime)
    _fire(runtime)
    assert _open_tasks(runtime).count("erinnern") == 1  # once for all it missed
    with runtime.command() as ctx:
        fired = [e.element_id for e in audit.for_instance(ctx, started.id, kinds=["timer_fired"])]
    assert fired == ["wait", "erinnerung"]
    rows = {r.element_id: r.due_at for r in _timer_rows(runtime)}
    # its second repetition is the next moment on its grid after now (08:00 UTC, the time it was set at)
    assert rows["erinnerung"] == datetime(2026, 2, 7, 8, 0, tzinfo=UTC)
    clock.set(rows["erinnerung"])
    _fire(runtime)
    assert _open_tasks(runtime).count("erinnern") == 2
    assert sorted(r.element_id for r in _timer_rows(runtime)) == ["frist"]


def test_suspended_instances_do_not_fire_until_resumed(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="timers", variables_in={"fristende": "2027-01-01T00:00:00"})
        instances.suspend(ctx, started.id)
    clock.advance(days=3)
    assert _fire(runtime).fired_instances == 0
    with runtime.command() as ctx:
        instances.resume(ctx, started.id)
    assert _fire(runtime).fired_instances == 1
    assert _open_tasks(runtime) == ["nachweise"]


def test_timer_start_event_starts_instances_on_its_cycle(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    deploy(runtime, "start_timer")
    starts = [r for r in _timer_rows(runtime) if r.instance_id is None]
    assert [(r.element_id, r.due_at) for r in starts] == [("quartalsstart", datetime(2026, 1, 10, 8, 0, tzinfo=UTC))]
    clock.set(datetime(2026, 1, 10, 8, 0, tzinfo=UTC))
    assert _fire(runtime).started_instances == 1
    clock.set(datetime(2026, 9, 1, tzinfo=UTC))  # April and July were missed: one start, then the next moment
    assert _fire(runtime).started_instances == 1
    (row,) = [r for r in _timer_rows(runtime) if r.instance_id is None]
    assert row.due_at == datetime(2026, 10, 10, 7, 0, tzinfo=UTC)  # 09:00 in Berlin summer time
    with runtime.command() as ctx:
        assert len(instances.list_instances(ctx, definition_key="quartal")) == 2


def test_a_new_version_replaces_the_start_timer_of_the_old_one(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    from tests.conftest import DATA
    from workflows import definitions

    path = DATA / "start_timer" / "start_timer.bpmn"
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(path.name, path.read_bytes())])
    changed = path.read_bytes().replace(b"P3M", b"P1M")
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(path.name, changed)])
    starts = [r for r in _timer_rows(runtime) if r.instance_id is None]
    assert len(starts) == 1
    assert starts[0].details["expression"].endswith("P1M")


def test_dst_change_keeps_the_wall_clock_time(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 27, 8, 0, tzinfo=UTC))  # Friday 09:00 CET; DST starts on Sunday the 29th
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        instances.start(ctx, key="timers", variables_in={"fristende": "2027-01-01T00:00:00"})
    (row,) = _timer_rows(runtime)[:1]
    assert row.due_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # P2D = Sunday 09:00 CEST


def test_a_case_started_by_its_start_timer_does_not_wait_for_that_timer_again(
        runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    deploy(runtime, "start_timer")
    clock.set(datetime(2026, 1, 10, 8, 0, tzinfo=UTC))
    assert _fire(runtime).started_instances == 1
    assert [r.instance_id for r in _timer_rows(runtime)] == [None]  # only the definition's own start timer
    clock.set(datetime(2026, 4, 10, 7, 0, tzinfo=UTC))
    assert _fire(runtime).started_instances == 1  # one new case per moment, none inside the running one
    with runtime.command() as ctx:
        cases = instances.list_instances(ctx, definition_key="quartal")
        starts = audit.query(ctx, kinds=["start_timer_fired"])
    assert len(cases) == 2
    assert sorted(e.instance_id or "" for e in starts) == sorted(c.id for c in cases)
    assert _open_tasks(runtime) == ["bericht", "bericht"]  # one task in each case, not two in the first


def test_a_new_version_deployed_between_two_moments_goes_on_from_the_next(runtime: Runtime, clock: ManualClock) -> None:
    """Not a catch-up: the moments before the deployment belonged to the previous version (as in Camunda)."""
    from tests.conftest import DATA
    from workflows import definitions

    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    deploy(runtime, "start_timer")  # R/2026-01-10T09:00:00/P3M
    clock.set(datetime(2026, 1, 10, 8, 0, tzinfo=UTC))
    assert _fire(runtime).started_instances == 1
    clock.set(datetime(2026, 2, 20, 12, 0, tzinfo=UTC))
    changed = (DATA / "start_timer" / "start_timer.bpmn").read_bytes().replace(b"Bericht", b"Quartalsbericht")
    with runtime.command() as ctx:
        definitions.deploy(ctx, [("start_timer.bpmn", changed)])
    assert _fire(runtime).started_instances == 0
    (row,) = _timer_rows(runtime)
    assert row.due_at == datetime(2026, 4, 10, 7, 0, tzinfo=UTC)  # 09:00 in Berlin summer time
