"""Every firing, escalation and notification the scheduler causes is in the audit trail: one scenario drives the
real jobs (`tick`, `housekeeping`) through three months of a clock the test sets, then reads the trail."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import sqlalchemy as sa

from service import scheduler
from service.runtime import Runtime
from tests import test_escalations__notifications as notices
from tests.conftest import deploy
from workflows import audit, external_tasks, instances, schema
from workflows.clock import ManualClock

people, smtp = notices.people, notices.smtp  # fixtures: four users with addresses, a loopback SMTP server


def _at(runtime: Runtime, clock: ManualClock, moment: datetime) -> None:
    """Move the clock and run both scheduler jobs, as one tick of a worker would."""
    clock.set(moment)
    scheduler.tick(runtime)
    scheduler.housekeeping(runtime)


def _start_cases(runtime: Runtime, clock: ManualClock) -> None:
    with runtime.command() as ctx:
        instances.start(ctx, key="timers", variables_in={"fristende": (clock.now() + timedelta(days=3, hours=1))
                                                         .isoformat()})
        instances.start(ctx, key="untaetigkeit")
        instances.start(ctx, key="abgleich")  # its script fails: retries, then an incident
        instances.start(ctx, key="external", variables_in={"prio": 1})
        instances.start(ctx, key="nachfassen", business_key="ABH-3", variables_in={
            "bearbeiter": "erika", "frist": "2026-01-06T12:00:00", "wiedervorlage": "2026-01-06T09:00:00"})
    with runtime.command() as ctx:
        external_tasks.fetch_and_lock(ctx, "w1", [external_tasks.TopicRequest("azr-abfrage", 60_000)])


def test_every_firing_escalation_and_notification_is_audited(
        runtime: Runtime, clock: ManualClock, people: None, smtp: tuple[notices.Inbox, int], tmp_path: Path) -> None:
    escalation = '[default]\nbacklog_threshold = 1\nteamleitung_group = "abh-teamleitung"\n'
    (tmp_path / "escalation.toml").write_text(escalation, encoding="utf-8")
    runtime.settings = replace(runtime.settings, config_dir=str(tmp_path), smtp_host="127.0.0.1", smtp_port=smtp[1])
    clock.set(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    deploy(runtime, "timers", "start_timer", "timer_jobs", "external_tasks", "timer_reminders")
    _start_cases(runtime, clock)
    for moment in (datetime(2026, 1, 5, 8, 6, tzinfo=UTC),  # the second attempt of the script; the lock expired
                   datetime(2026, 1, 5, 8, 11, tzinfo=UTC),  # the third attempt: an incident
                   datetime(2026, 1, 6, 12, 0, tzinfo=UTC),  # follow-up reached, task overdue, backlog of one
                   datetime(2026, 1, 7, 8, 0, tzinfo=UTC),  # the P2D wait
                   datetime(2026, 1, 8, 8, 0, tzinfo=UTC),  # the reminder (non-interrupting cycle)
                   datetime(2026, 1, 8, 9, 0, tzinfo=UTC),  # the deadline (interrupting boundary)
                   datetime(2026, 1, 10, 8, 0, tzinfo=UTC),  # the quarterly timer start event
                   datetime(2026, 1, 13, 12, 0, tzinfo=UTC),  # five working days overdue: the Teamleitung
                   datetime(2026, 4, 5, 8, 0, tzinfo=UTC)):  # three months: the event subprocess timer
        _at(runtime, clock, moment)

    with runtime.command() as ctx:
        trail = audit.query(ctx, limit=10_000)
        notified = ctx.session.execute(sa.select(schema.Notification.kind, schema.Notification.user_id)).all()
    kinds = Counter(e.kind for e in trail)
    fired = sorted(e.element_id or "" for e in trail if e.kind == "timer_fired")
    assert fired == ["drei_monate", "erinnerung", "frist", "wait"]
    assert [e.element_id for e in trail if e.kind == "start_timer_fired"] == ["quartalsstart"]
    assert kinds["job_failed"] == 2 and kinds["job_retried"] == 2 and kinds["incident_created"] == 1
    assert kinds["external_task_lock_expired"] == 1
    assert kinds["task_overdue"] == 1 and kinds["task_escalated"] == 1
    backlog = [e.occurred_at for e in trail if e.kind == "backlog_alert"]  # the backlog lasts: once a day at most
    assert backlog and all(later - earlier >= timedelta(hours=24) for earlier, later in pairwise(backlog))
    assert kinds["follow_up_reached"] == 1
    # every notice a user got is in the trail, with its kind and recipients; every delivered mail too
    audited = Counter((e.details["kind"], user) for e in trail if e.kind == "notification_sent"
                      for user in e.details["recipients"])
    assert audited == Counter(notified)
    assert {kind for kind, _user in notified} == {"follow_up", "task_overdue", "task_escalated", "backlog"}
    assert kinds["email_sent"] == len(notified) == len(smtp[0].messages)
