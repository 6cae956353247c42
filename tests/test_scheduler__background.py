"""The scheduler itself, as `kimflow serve` runs it (APScheduler's BackgroundScheduler on threads, interval
shortened by settings), against a clock the test sets: a timer fires, an overdue task escalates to the assignee
and then the Teamleitung, the e-mails arrive at a real SMTP server on loopback, a failing step is retried
(default three attempts, with a pause) and then becomes an incident; and it shuts down cleanly."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from service import scheduler
from service.runtime import Runtime
from tests import test_escalations__notifications as notices
from tests.conftest import ADMIN, deploy
from workflows import audit, human_tasks, incidents, instances, schema
from workflows.clock import ManualClock

people, smtp = notices.people, notices.smtp  # fixtures: four users with addresses, a loopback SMTP server
T = TypeVar("T")


def _eventually(check: Callable[[], T], timeout: float = 20.0) -> T:
    """What the scheduler's threads will do soon: poll until `check` gives something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: {check.__doc__ or check}"
        time.sleep(0.05)


def _text(raw: str) -> str:
    """Subject and body of a received mail, decoded."""
    message = email.message_from_string(raw, policy=email.policy.default)
    body = message.get_body(("plain",))
    return f"{message['subject']}\n{body.get_content() if body else ''}"


def _kinds(runtime: Runtime, *kinds: str) -> list[tuple[str, str | None]]:
    with runtime.command() as ctx:
        return [(e.kind, e.element_id) for e in audit.query(ctx, kinds=list(kinds), limit=1000)]


@pytest.fixture
def running(runtime: Runtime, smtp: tuple[notices.Inbox, int], tmp_path: Path) -> Iterator[scheduler.Scheduler]:
    # the test processes name no Teamleitung in config/escalation.toml: the ABH lead of notices.people stands in
    (tmp_path / "escalation.toml").write_text('[default]\nteamleitung_group = "abh-teamleitung"\n', encoding="utf-8")
    runtime.settings = replace(runtime.settings, scheduler_interval_seconds=0.05, smtp_host="127.0.0.1",
                               smtp_port=smtp[1], smtp_from="kimflow@kommune.example", config_dir=str(tmp_path))
    started = scheduler.start_in_background(runtime)
    yield started
    started.stop()


def test_the_running_scheduler_fires_timers_escalates_and_mails(
        runtime: Runtime, clock: ManualClock, people: None, smtp: tuple[notices.Inbox, int],
        running: scheduler.Scheduler) -> None:
    inbox, _port = smtp
    clock.set(datetime(2026, 5, 25, 8, 0, tzinfo=UTC))  # Pfingstmontag
    deploy(runtime, "timers", "timer_reminders")
    with runtime.command() as ctx:
        waiting = instances.start(ctx, key="timers", variables_in={"fristende": "2026-09-01T00:00:00"}).id
        instances.start(ctx, key="nachfassen", business_key="ABH-9", variables_in={
            "bearbeiter": "erika", "frist": "2026-05-28T12:00:00", "wiedervorlage": "2026-09-01T09:00:00"})

    clock.set(datetime(2026, 5, 27, 8, 0, tzinfo=UTC))  # the P2D wait is due
    _eventually(lambda: ("timer_fired", "wait") in _kinds(runtime, "timer_fired"))
    with runtime.command(ADMIN) as ctx:
        assert [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=waiting))] \
            == ["nachweise"]

    clock.set(datetime(2026, 5, 28, 12, 0, 1, tzinfo=UTC))  # the task of ABH-9 is overdue: erika hears of it
    _eventually(lambda: any("erika@kommune.example" in rcpts for _f, rcpts, _b in inbox.messages))
    assert ("task_overdue", "nachweise") in _kinds(runtime, "task_overdue")

    clock.set(datetime(2026, 6, 5, 22, 0, tzinfo=UTC))  # five working days later (Fronleichnam skipped)
    mail = _eventually(lambda: [_text(raw) for _f, rcpts, raw in inbox.messages if "tina@kommune.example" in rcpts])
    with runtime.command() as ctx:
        (escalated,) = audit.query(ctx, kinds=["task_escalated"])
    assert escalated.task_id and escalated.task_id in mail[0]  # the Teamleitung is told which task to reassign
    assert "Neu zuweisen" in mail[0]
    _eventually(lambda: len(_kinds(runtime, "email_sent")) == 2)  # erika's notice and tina's, once each
    assert len(inbox.messages) == 2


def test_a_failing_step_is_retried_by_the_scheduler_then_becomes_an_incident(
        runtime: Runtime, clock: ManualClock, running: scheduler.Scheduler) -> None:
    deploy(runtime, "timer_jobs")  # a script without a retry cycle: the default of three attempts, 300 s apart
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="abgleich", variables_in={}).id
    assert _kinds(runtime, "job_failed") == [("job_failed", "abgleichen")]
    time.sleep(0.3)  # several ticks: nothing is retried before its time
    assert _kinds(runtime, "job_retried") == []
    clock.advance(seconds=300)
    _eventually(lambda: len(_kinds(runtime, "job_failed")) == 2)
    clock.advance(seconds=300)

    def incident_opened() -> list[schema.Incident]:
        with runtime.command() as ctx:
            return incidents.list_open(ctx, instance_id=instance)

    (incident,) = _eventually(incident_opened)
    assert incident.element_id == "abgleichen" and "azr_antwort" in incident.message
    with runtime.command() as ctx:
        failed = [e.details["attempt"] for e in audit.for_instance(ctx, instance, kinds=["job_failed"])]
        retried = [e.details["attempt"] for e in audit.for_instance(ctx, instance, kinds=["job_retried"])]
    assert (failed, retried) == ([1, 2], [2, 3])  # the third attempt failed into the incident


def test_a_timer_that_came_due_before_the_start_fires_once_at_start_up(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timer_dst")  # a P1D wait, then a task with a daily reminder (R/P1D)
    with runtime.command() as ctx:
        instances.start(ctx, key="taeglich")
    clock.advance(days=1)
    with runtime.command() as ctx:
        from workflows import timers

        timers.fire_due(ctx)
    clock.advance(days=12)  # twelve reminders missed while no scheduler ran
    runtime.settings = replace(runtime.settings, scheduler_interval_seconds=3600)  # only the start-up run counts
    started = scheduler.start_in_background(runtime)
    try:
        _eventually(lambda: ("timer_fired", "jeden_tag") in _kinds(runtime, "timer_fired"), timeout=10)
        time.sleep(0.3)
    finally:
        started.stop()
    assert _kinds(runtime, "timer_fired").count(("timer_fired", "jeden_tag")) == 1


def test_stopping_ends_the_threads_and_nothing_fires_afterwards(runtime: Runtime, clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, scheduler_interval_seconds=0.05)
    deploy(runtime, "timer_burst")
    started = scheduler.start_in_background(runtime)
    time.sleep(0.2)
    started.stop()
    assert not started.aps.running
    assert not [t for t in threading.enumerate() if t.name == "APScheduler"]
    with runtime.command() as ctx:
        instances.start(ctx, key="timer_burst", variables_in={"faellig": clock.now().isoformat()})
    clock.advance(hours=1)
    time.sleep(0.3)
    assert _kinds(runtime, "timer_fired") == []


def test_the_stop_flag_ends_a_long_catch_up_between_two_instances(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "timer_burst")
    due = (clock.now() + timedelta(minutes=1)).isoformat()
    with runtime.command() as ctx:
        for _ in range(30):
            instances.start(ctx, key="timer_burst", variables_in={"faellig": due})
    clock.advance(hours=1)
    stopping = threading.Event()
    stopping.set()
    assert scheduler.tick(runtime, stopping=stopping) == 0  # asked to stop before it began: claims nothing
    assert scheduler.tick(runtime, batch=10) == 30  # without the flag, batch after batch until done
