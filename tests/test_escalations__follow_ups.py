"""Wiedervorlage: when a task's follow-up date arrives, its assignee (or, if nobody holds it, its candidates) is
reminded once, in the app and by e-mail, and the audit trail says so. Driven by the scheduler's housekeeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from service import scheduler
from service.runtime import Runtime
from tests import test_escalations__notifications as notices
from tests.conftest import deploy
from workflows import audit, escalations, instances, notifications, schema
from workflows.clock import ManualClock
from workflows.settings import PROJECT_ROOT

people, smtp = notices.people, notices.smtp  # fixtures: four users with addresses, a loopback SMTP server
FOLLOW_UP = datetime(2026, 5, 11, 7, 0, tzinfo=UTC)  # Monday 09:00 in Berlin


def _start(runtime: Runtime, clock: ManualClock, assignee: str | None) -> str:
    clock.set(datetime(2026, 5, 4, 8, 0, tzinfo=UTC))
    deploy(runtime, "timer_reminders")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="nachfassen", business_key="ABH-2026-17", variables_in={
            "bearbeiter": assignee, "frist": "2026-06-30T12:00:00", "wiedervorlage": FOLLOW_UP.isoformat()})
    return instance.id


def _notices(runtime: Runtime, user: str) -> list[schema.Notification]:
    with runtime.command() as ctx:
        return notifications.for_user(ctx, user)


def _outbox(runtime: Runtime) -> list[str]:
    with runtime.command() as ctx:
        return sorted(m.recipient for m in ctx.session.scalars(sa.select(schema.OutboxMessage)))


def _reached(runtime: Runtime) -> list[schema.AuditEvent]:
    with runtime.command() as ctx:
        return audit.query(ctx, kinds=["follow_up_reached"])


def test_the_assignee_is_reminded_once_when_the_follow_up_date_arrives(
        runtime: Runtime, clock: ManualClock, people: None) -> None:
    instance = _start(runtime, clock, "erika")
    clock.set(FOLLOW_UP - timedelta(seconds=1))
    scheduler.housekeeping(runtime)
    assert _notices(runtime, "erika") == [] and _reached(runtime) == []
    clock.set(FOLLOW_UP)
    scheduler.housekeeping(runtime)
    (notice,) = _notices(runtime, "erika")
    assert notice.kind == "follow_up" and notice.instance_id == instance
    assert notice.title == "Wiedervorlage: Nachweise prüfen"
    assert "ABH-2026-17" in notice.body and "11.05.2026 09:00" in notice.body
    assert _notices(runtime, "jonas") == []  # the task is erika's: her colleagues are not bothered
    assert _outbox(runtime) == ["erika@kommune.example"]
    (reached,) = _reached(runtime)
    assert (reached.task_id, reached.details["recipients"]) == (notice.task_id, ["erika"])
    clock.advance(days=3)
    scheduler.housekeeping(runtime)
    assert len(_notices(runtime, "erika")) == 1 and len(_reached(runtime)) == 1  # once only
    with runtime.command() as ctx:
        sent = [e.details for e in audit.query(ctx, kinds=["notification_sent"])]
    assert [(d["kind"], d["recipients"]) for d in sent] == [("follow_up", ["erika"])]


def test_a_task_nobody_holds_reminds_its_candidates(runtime: Runtime, clock: ManualClock, people: None) -> None:
    _start(runtime, clock, None)
    clock.set(FOLLOW_UP + timedelta(hours=2))
    scheduler.housekeeping(runtime)
    assert [n.kind for n in _notices(runtime, "erika")] == ["follow_up"]
    assert [n.kind for n in _notices(runtime, "jonas")] == ["follow_up"]
    assert _outbox(runtime) == ["erika@kommune.example", "jonas@kommune.example"]


def test_a_suspended_case_is_reminded_when_it_is_resumed(runtime: Runtime, clock: ManualClock, people: None) -> None:
    instance = _start(runtime, clock, "erika")
    with runtime.command() as ctx:
        instances.suspend(ctx, instance)
    clock.set(FOLLOW_UP + timedelta(days=1))
    scheduler.housekeeping(runtime)
    assert _notices(runtime, "erika") == []
    with runtime.command() as ctx:
        instances.resume(ctx, instance)
    scheduler.housekeeping(runtime)
    assert [n.kind for n in _notices(runtime, "erika")] == ["follow_up"]


def test_reminders_can_be_switched_off_per_process_and_are_still_audited(
        runtime: Runtime, clock: ManualClock, people: None, tmp_path: Path) -> None:
    (tmp_path / "escalation.toml").write_text("[processes.nachfassen]\nremind_on_follow_up = false\n",
                                              encoding="utf-8")
    runtime.settings = replace(runtime.settings, config_dir=str(tmp_path))
    _start(runtime, clock, "erika")
    clock.set(FOLLOW_UP)
    scheduler.housekeeping(runtime)
    assert _notices(runtime, "erika") == [] and _outbox(runtime) == []
    (reached,) = _reached(runtime)
    assert reached.details["recipients"] == []


def test_the_shipped_configuration_reminds_on_follow_ups() -> None:
    config = escalations.load_config(PROJECT_ROOT / "config")
    assert config.default.remind_on_follow_up is True
    assert config.for_process("einbuergerung").remind_on_follow_up is True


def test_the_reminder_mail_reaches_a_real_smtp_server(runtime: Runtime, clock: ManualClock, people: None,
                                                      smtp: tuple[notices.Inbox, int]) -> None:
    inbox, port = smtp
    runtime.settings = replace(runtime.settings, smtp_host="127.0.0.1", smtp_port=port,
                               smtp_from="kimflow@kommune.example")
    _start(runtime, clock, "erika")
    clock.set(FOLLOW_UP)
    scheduler.housekeeping(runtime)  # reminds, commits, then sends the outbox
    ((sender, recipients, content),) = inbox.messages
    assert (sender, recipients) == ("kimflow@kommune.example", ["erika@kommune.example"])
    assert "wieder vorgelegt" in content
    with runtime.command() as ctx:
        (sent,) = audit.query(ctx, kinds=["email_sent"])
    assert sent.details["recipient"] == "erika@kommune.example"
