"""camunda:failedJobRetryTimeCycle as Camunda 7 reads it: `R3/PT5M` (three runs in all, five minutes apart) or a
list of intervals `PT1M,PT5M,PT10M` (one retry per interval, each after the next interval), driven by the
settable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import DATA, deploy
from workflows import audit, definitions, incidents, instances, schema, timers
from workflows.clock import ManualClock
from workflows.durations import Duration, RetrySchedule, parse_duration, parse_retry_cycle
from workflows.errors import DeploymentError


@pytest.mark.parametrize(("text", "attempts", "pauses"), [
    ("R3/PT5M", 3, ["PT5M"]),
    ("R1/PT5M", 1, ["PT5M"]),
    ("PT1M,PT5M,PT10M", 4, ["PT1M", "PT5M", "PT10M"]),
    (" PT1M , P1D ", 3, ["PT1M", "P1D"]),
    ("PT30M", 2, ["PT30M"]),
])
def test_cycles_and_interval_lists(text: str, attempts: int, pauses: list[str]) -> None:
    schedule = parse_retry_cycle(text)
    assert schedule.attempts == attempts
    assert list(schedule.pauses) == [parse_duration(p) for p in pauses]


def test_each_retry_waits_the_next_interval_and_the_last_one_repeats() -> None:
    schedule = RetrySchedule(4, (Duration(seconds=60), Duration(seconds=300)))
    assert [schedule.pause_after(n).seconds for n in (1, 2, 3)] == [60, 300, 300]


@pytest.mark.parametrize("text", ["PT1M,,PT5M", "PT1M,R3/PT5M", "fünf Minuten", "PT1M,5"])
def test_malformed_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_retry_cycle(text)


def _retry_due(runtime: Runtime) -> list[tuple[str, timedelta]]:
    with runtime.command() as ctx:
        rows = ctx.session.scalars(sa.select(schema.Timer).where(schema.Timer.kind == "job_retry")).all()
        return [(row.element_id, row.due_at - ctx.now()) for row in rows]


def _fire(runtime: Runtime) -> None:
    with runtime.command() as ctx:
        timers.fire_due(ctx)


def test_a_list_of_intervals_retries_once_per_interval_then_opens_an_incident(runtime: Runtime,
                                                                                clock: ManualClock) -> None:
    deploy(runtime, "retry_intervals")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="abfrage").id  # azr_antwort is missing: every run fails
    for interval in (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=10)):
        assert _retry_due(runtime) == [("abfragen", interval)]
        clock.advance(seconds=interval.total_seconds() - 1)
        _fire(runtime)  # not yet
        assert _retry_due(runtime) == [("abfragen", timedelta(seconds=1))]
        clock.advance(seconds=1)
        _fire(runtime)
    assert _retry_due(runtime) == []
    with runtime.command() as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=instance)
        assert incident.element_id == "abfragen" and "azr_antwort" in incident.message
        failed = audit.for_instance(ctx, instance, kinds=["job_failed"])
        assert [(e.details["attempt"], e.details["attempts"]) for e in failed] == [(1, 4), (2, 4), (3, 4)]
        assert len(audit.for_instance(ctx, instance, kinds=["job_retried"])) == 3


def test_a_retry_after_an_interval_that_succeeds_goes_on(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "retry_intervals")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="abfrage").id
    clock.advance(minutes=1)
    _fire(runtime)
    with runtime.command() as ctx:
        instances.set_variables(ctx, instance, {"azr_antwort": ["Treffer"]})
    assert _retry_due(runtime) == [("abfragen", timedelta(minutes=5))]
    clock.advance(minutes=5)
    _fire(runtime)
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance)["treffer"] == 1  # type: ignore[index]
        assert incidents.list_open(ctx, instance_id=instance) == []
    assert _retry_due(runtime) == []


def test_a_single_interval_is_one_retry(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "retry_intervals")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="einmal").id
    assert _retry_due(runtime) == [("e_abfragen", timedelta(minutes=30))]
    clock.advance(minutes=30)
    _fire(runtime)
    with runtime.command() as ctx:
        assert len(incidents.list_open(ctx, instance_id=instance)) == 1
    assert _retry_due(runtime) == []


def test_a_malformed_retry_cycle_is_refused_at_deploy(runtime: Runtime) -> None:
    text = (DATA / "retry_intervals" / "retry_intervals.bpmn").read_text()
    broken = text.replace("PT1M, PT5M,PT10M", "PT1M,,PT5M")
    with runtime.command() as ctx, pytest.raises(DeploymentError, match="failedJobRetryTimeCycle"):
        definitions.deploy(ctx, [("kaputt.bpmn", broken.encode())], name="kaputt", source="test")
