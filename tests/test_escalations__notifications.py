"""Overdue tasks escalate (assignee, then Teamleitung after N working days, backlog to process owners); notices
arrive in the app and by e-mail through the outbox, sent after commit to a real SMTP server on loopback."""

from __future__ import annotations

import socket
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from service import mailer
from service.runtime import Runtime
from tests.conftest import ROOT, deploy
from workflows import accounts, audit, calendar, escalations, human_tasks, instances, notifications, schema
from workflows.clock import ManualClock
from workflows.context import Actor


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                                  envelope.content.decode("utf-8", "replace")))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting to its port, so it cannot be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def people(runtime: Runtime) -> None:
    with runtime.command() as ctx:
        accounts.add_user(ctx, "erika", password="erika-secret", role="caseworker", groups=["abh-team"],
                          email="erika@kommune.example")
        accounts.add_user(ctx, "jonas", password="jonas-secret", role="caseworker", groups=["abh-team"],
                          email="jonas@kommune.example")
        accounts.add_user(ctx, "tina", password="tina-secret", role="supervisor", groups=["abh-teamleitung"],
                          email="tina@kommune.example")
        accounts.add_user(ctx, "paul", password="paul-secret", role="process_owner", groups=["prozess"],
                          email="paul@kommune.example")


def _task_due_in(runtime: Runtime, clock: ManualClock, days: int) -> str:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        instances.start(ctx, key="timers", business_key="ABH-1",
                        variables_in={"fristende": (clock.now() + timedelta(days=days + 30)).isoformat()})
    clock.advance(days=2)
    with runtime.command() as ctx:
        from workflows import timers

        timers.fire_due(ctx)
    with runtime.command(Actor("admin", "admin", frozenset())) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(task_definition_key="nachweise"))
        ctx.session.execute(sa.update(schema.HumanTask).where(schema.HumanTask.id == task.id)
                            .values(due_at=clock.now() + timedelta(days=days)))
        return task.id


# the test model's tasks belong to the Ausländerbehörde (business key ABH-1): their Teamleitung hears of them
ABH_LEAD = escalations.EscalationConfig(processes={"timers": escalations.Policy(teamleitung_group="abh-teamleitung")})


def _scan(runtime: Runtime, config: escalations.EscalationConfig | None = None) -> escalations.ScanReport:
    business_days = calendar.load_calendar(runtime.settings.config_dir)
    with runtime.command() as ctx:
        return escalations.scan(ctx, config or ABH_LEAD, business_days.add_working_days)


def test_overdue_task_notifies_candidates_then_teamleitung_after_working_days(
        runtime: Runtime, clock: ManualClock, people: None) -> None:
    clock.set(datetime(2026, 5, 25, 8, 0, tzinfo=UTC))  # Pfingstmontag is a holiday in NRW
    task_id = _task_due_in(runtime, clock, days=1)  # due Thursday 28.05. 10:00
    assert _scan(runtime).overdue == 0
    clock.set(datetime(2026, 5, 28, 9, 0, tzinfo=UTC))
    report = _scan(runtime)
    assert (report.overdue, report.escalated) == (1, 0)
    with runtime.command() as ctx:
        assert notifications.unread_count(ctx, "erika") == 1 and notifications.unread_count(ctx, "jonas") == 1
        assert notifications.unread_count(ctx, "tina") == 0
    clock.set(datetime(2026, 6, 3, 23, 0, tzinfo=UTC))  # 4 working days later (Fronleichnam 04.06. is next)
    assert _scan(runtime).escalated == 0
    clock.set(datetime(2026, 6, 5, 22, 0, tzinfo=UTC))  # 5 working days after 28.05. = 05.06. (skips 04.06.)
    assert _scan(runtime).escalated == 1
    with runtime.command() as ctx:
        (notice,) = notifications.for_user(ctx, "tina")
        assert notice.kind == "task_escalated" and notice.task_id == task_id
        kinds = [e.kind for e in audit.query(ctx, kinds=["task_overdue", "task_escalated"])]
    assert kinds == ["task_overdue", "task_escalated"]
    assert _scan(runtime).escalated == 0  # once only


def test_backlog_alerts_process_owners_once_a_day(runtime: Runtime, clock: ManualClock, people: None) -> None:
    _task_due_in(runtime, clock, days=-1)
    config = escalations.EscalationConfig(replace(escalations.Policy(), backlog_threshold=1))
    assert _scan(runtime, config).backlog_alerts == 1
    assert _scan(runtime, config).backlog_alerts == 0
    clock.advance(hours=25)
    assert _scan(runtime, config).backlog_alerts == 1
    with runtime.command() as ctx:
        assert [n.kind for n in notifications.for_user(ctx, "paul")] == ["backlog", "backlog"]


def test_email_goes_out_after_commit_to_a_real_smtp_server(runtime: Runtime, clock: ManualClock, people: None,
                                                            smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _task_due_in(runtime, clock, days=-1)
    _scan(runtime)
    assert inbox.messages == []  # written to the outbox only
    runtime.settings = replace(runtime.settings, smtp_host="127.0.0.1", smtp_port=port,
                               smtp_from="kimflow@kommune.example")
    assert mailer.send_outbox(runtime) == 2
    recipients = sorted(r for _sender, rcpts, _body in inbox.messages for r in rcpts)
    assert recipients == ["erika@kommune.example", "jonas@kommune.example"]
    assert "Frist" in inbox.messages[0][2]
    assert mailer.send_outbox(runtime) == 0  # sent once


def test_mail_server_down_keeps_the_message_for_a_retry(runtime: Runtime, clock: ManualClock, people: None,
                                                        smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _task_due_in(runtime, clock, days=-1)
    _scan(runtime)
    runtime.settings = replace(runtime.settings, smtp_host="127.0.0.1", smtp_port=1)  # nothing listens there
    assert mailer.send_outbox(runtime) == 0
    with runtime.command() as ctx:
        failed = ctx.session.scalars(sa.select(schema.OutboxMessage)).all()
        assert all(m.attempts == 1 and m.last_error for m in failed)
    runtime.settings = replace(runtime.settings, smtp_port=port)
    assert mailer.send_outbox(runtime) == 0  # backing off
    clock.advance(minutes=5)
    assert mailer.send_outbox(runtime) == 2
    assert len(inbox.messages) == 2


def test_the_teamleitung_notice_names_the_task_and_offers_reassignment(
        runtime: Runtime, clock: ManualClock, people: None) -> None:
    clock.set(datetime(2026, 5, 25, 8, 0, tzinfo=UTC))
    task_id = _task_due_in(runtime, clock, days=1)
    clock.set(datetime(2026, 5, 28, 9, 0, tzinfo=UTC))
    _scan(runtime)
    clock.set(datetime(2026, 6, 5, 22, 0, tzinfo=UTC))
    assert _scan(runtime).escalated == 1
    with runtime.command() as ctx:
        (notice,) = notifications.for_user(ctx, "tina")
        (mail,) = ctx.session.scalars(sa.select(schema.OutboxMessage).where(
            schema.OutboxMessage.recipient == "tina@kommune.example"))
        (escalated,) = audit.query(ctx, kinds=["task_escalated"])
    assert notice.task_id == task_id and notice.instance_id
    for text in (notice.body, mail.body):
        assert task_id in text
        assert "Neu zuweisen" in text and "einer anderen Person zuweisen oder an eine andere Gruppe abgeben" in text
    assert escalated.details["offered"] == "reassign" and escalated.details["recipients"] == ["tina"]
    lead = Actor("tina", "supervisor", frozenset({"abh-teamleitung", "abh-team"}))  # the ABH team's lead
    with runtime.command(lead) as ctx:
        human_tasks.set_assignee(ctx, notice.task_id or "", "jonas", reason="Vertretung während Urlaub")
    with runtime.command(lead) as ctx:
        human_tasks.move_to_group(ctx, notice.task_id or "", ["ebh-team"], reason="Zuständigkeit gewechselt")
    with runtime.command() as ctx:
        actions = [(e.kind, e.actor) for e in audit.query(ctx, kinds=["task_assigned", "task_moved"])]
    assert actions == [("task_assigned", "tina"), ("task_moved", "tina")]


def test_each_process_escalates_to_the_teamleitung_of_its_own_domain_only() -> None:
    """One Teamleitung for all would see case-management and Ausländerbehörde cases alike (DOMAIN.md section 5)."""
    config = escalations.load_config(ROOT / "config")
    leads = {key: config.for_process(key).teamleitung_group
             for key in ("fallmanagement", "bleiberecht", "einbuergerung", "kim_bericht")}
    assert leads == {"fallmanagement": "fm-teamleitung", "bleiberecht": "abh-teamleitung",
                     "einbuergerung": "ebh-teamleitung", "kim_bericht": "prozess"}
    assert config.default.teamleitung_group == ""  # a new process names its own lead, or has none
    groups = tomllib.loads((ROOT / "config" / "groups.toml").read_text(encoding="utf-8"))["groups"]
    domains = {key: groups[group]["domain"] for key, group in leads.items()}
    assert domains == {"fallmanagement": "case-management", "bleiberecht": "auslaenderbehoerde",
                       "einbuergerung": "einbuergerung", "kim_bericht": "process-owners"}
    assert "teamleitung" not in groups


def test_without_a_teamleitung_group_the_escalation_is_audited_only(runtime: Runtime, clock: ManualClock,
                                                                    people: None) -> None:
    task_id = _task_due_in(runtime, clock, days=-10)
    assert _scan(runtime, escalations.EscalationConfig()).overdue == 1
    assert _scan(runtime, escalations.EscalationConfig()).escalated == 1
    with runtime.command() as ctx:
        (escalated,) = audit.query(ctx, kinds=["task_escalated"])
        assert notifications.for_user(ctx, "tina") == []
    assert escalated.task_id == task_id
    assert (escalated.details["to_group"], escalated.details["recipients"]) == (None, [])
