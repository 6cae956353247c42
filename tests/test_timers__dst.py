"""Clock changes in Europe/Berlin (29.03.2026 and 25.10.2026): P1D timers, R/P1D cycles and a daily timer start
event fire at 09:00 on the wall clock every day, not at the same UTC hour. The database holds UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service import scheduler
from service.runtime import Runtime
from tests.conftest import deploy
from workflows import audit, instances, schema
from workflows.clock import ManualClock

BERLIN = ZoneInfo("Europe/Berlin")
MARCH, OCTOBER = date(2026, 3, 29), date(2026, 10, 25)  # the Sundays the clocks change


def _nine(day: date) -> datetime:
    """09:00 in Berlin on that day, as the UTC instant the database stores."""
    return datetime.combine(day, time(9, 0), BERLIN).astimezone(UTC)


def _due(runtime: Runtime, element_id: str) -> datetime:
    with runtime.command() as ctx:
        (due,) = ctx.session.scalars(sa.select(schema.Timer.due_at).where(schema.Timer.element_id == element_id))
    return due


def _fire_exactly_at(runtime: Runtime, clock: ManualClock, moment: datetime) -> int:
    clock.set(moment - timedelta(seconds=1))
    assert scheduler.tick(runtime) == 0, f"fired before {moment}"
    clock.set(moment)
    return scheduler.tick(runtime)


def _fired_at(runtime: Runtime, kind: str, element_id: str) -> list[datetime]:
    with runtime.command() as ctx:
        events = audit.query(ctx, kinds=[kind], element_id=element_id, limit=1000)
    return [datetime.fromisoformat(e.details["fired_at"]) for e in events]


@pytest.mark.parametrize("change", [MARCH, OCTOBER], ids=["march", "october"])
def test_a_p1d_timer_over_the_clock_change_fires_at_the_same_wall_clock_time(
        runtime: Runtime, clock: ManualClock, change: date) -> None:
    clock.set(_nine(change - timedelta(days=1)))
    deploy(runtime, "timer_dst")
    with runtime.command() as ctx:
        instances.start(ctx, key="taeglich")
    due = _due(runtime, "einen_tag")
    assert due == _nine(change)
    assert due - clock.now() == timedelta(hours=23 if change == MARCH else 25)  # one calendar day, not 24 h
    assert _fire_exactly_at(runtime, clock, due) == 1
    (fired,) = _fired_at(runtime, "timer_fired", "einen_tag")
    assert fired.astimezone(BERLIN).time() == time(9, 0)


@pytest.mark.parametrize("change", [MARCH, OCTOBER], ids=["march", "october"])
def test_an_r_p1d_cycle_over_the_clock_change_fires_at_nine_every_day(
        runtime: Runtime, clock: ManualClock, change: date) -> None:
    clock.set(_nine(change - timedelta(days=2)))
    deploy(runtime, "timer_dst")
    with runtime.command() as ctx:
        instances.start(ctx, key="taeglich")
    _fire_exactly_at(runtime, clock, _nine(change - timedelta(days=1)))  # the task with its daily reminder
    days = [change, change + timedelta(days=1), change + timedelta(days=2)]
    for day in days:
        assert _due(runtime, "jeden_tag") == _nine(day)
        assert _fire_exactly_at(runtime, clock, _nine(day)) == 1
    fired = _fired_at(runtime, "timer_fired", "jeden_tag")
    assert [moment.astimezone(BERLIN).time() for moment in fired] == [time(9, 0)] * 3
    utc_hours = [moment.hour for moment in fired]
    assert utc_hours == ([7, 7, 7] if change == MARCH else [8, 8, 8])  # after the change, in UTC
    assert _nine(change - timedelta(days=1)).hour == (8 if change == MARCH else 7)  # and before it


def test_a_daily_timer_start_event_starts_a_case_at_nine_through_both_clock_changes(
        runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 26, 12, 0, tzinfo=UTC))
    deploy(runtime, "timer_dst_start")  # R/2026-03-27T09:00:00/P1D, local time
    spring = [date(2026, 3, 27), date(2026, 3, 28), MARCH, date(2026, 3, 30)]
    for day in spring:
        assert _due(runtime, "jeden_morgen") == _nine(day)
        assert _fire_exactly_at(runtime, clock, _nine(day)) == 1
    clock.set(datetime.combine(date(2026, 10, 23), time(12, 0), BERLIN))  # no worker ran since 30.03.
    assert scheduler.tick(runtime) == 1  # the missed mornings start one case, not 207
    for day in [date(2026, 10, 24), OCTOBER, date(2026, 10, 26)]:
        assert _due(runtime, "jeden_morgen") == _nine(day)
        assert _fire_exactly_at(runtime, clock, _nine(day)) == 1
    fired = _fired_at(runtime, "start_timer_fired", "jeden_morgen")
    assert len(fired) == 8
    on_time = [moment for moment in fired if moment.astimezone(BERLIN).date() != date(2026, 10, 23)]
    assert {moment.astimezone(BERLIN).time() for moment in on_time} == {time(9, 0)}
    with runtime.command() as ctx:
        assert len(instances.list_instances(ctx, definition_key="tagesliste")) == 8
