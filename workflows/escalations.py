"""Overdue tasks, follow-ups and systemic backlog: who is told, and when (config/escalation.toml, per process).

Level 1 — a task passes its due date: its assignee is notified (or, if nobody holds it, the candidates).
Level 2 — N working days later it is still open: the Teamleitung of the process's own domain is notified and
offered reassignment (the notice names the task id; human_tasks.set_assignee / move_to_group do it). Each process
names its Teamleitung group: one group for all domains would show the Ausländerbehörde's cases to the
Fallmanagement's lead (DOMAIN.md section 5).
Backlog — a process has at least `backlog_threshold` overdue tasks (e.g. 3-month breaches): the
Prozessverantwortliche are notified, at most once a day per process.
Follow-up (Wiedervorlage) — a task's follow-up date arrives: its assignee (or the candidates) is reminded, once.
Every step is written to the audit trail; the scheduler runs `scan` and `follow_ups` on its ticks.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from workflows import audit, notifications, schema
from workflows.context import Ctx
from workflows.notifications import Notice

HT = schema.HumanTask


@dataclass(frozen=True)
class Policy:
    notify_assignee_when_overdue: bool = True
    teamleitung_after_working_days: int = 5
    teamleitung_group: str = ""  # the supervising group of the process's own domain; empty: audit trail only
    backlog_threshold: int = 10
    backlog_group: str = "prozess"
    remind_on_follow_up: bool = True


@dataclass(frozen=True)
class EscalationConfig:
    default: Policy = field(default_factory=Policy)
    processes: dict[str, Policy] = field(default_factory=dict)

    def for_process(self, key: str) -> Policy:
        return self.processes.get(key, self.default)


def load_config(config_dir: str | Path) -> EscalationConfig:
    path = Path(config_dir) / "escalation.toml"
    if not path.exists():
        return EscalationConfig()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    default = replace(Policy(), **data.get("default", {}))
    processes = {key: replace(default, **values) for key, values in data.get("processes", {}).items()}
    return EscalationConfig(default, processes)


@dataclass
class ScanReport:
    overdue: int = 0
    escalated: int = 0
    backlog_alerts: int = 0


def scan(ctx: Ctx, config: EscalationConfig, add_working_days: Any, *, limit: int = 500) -> ScanReport:
    """Raise the escalation level of overdue tasks and alert on backlogs; `add_working_days(date, n)`."""
    report = ScanReport()
    now = ctx.now()
    for task in _due(ctx, now, level=0, limit=limit):
        _overdue(ctx, task, config.for_process(task.definition_key))
        report.overdue += 1
    for task in _due(ctx, now, level=1, limit=limit):
        policy = config.for_process(task.definition_key)
        if now >= _teamleitung_moment(task.due_at, policy, add_working_days, ctx.settings.timezone):
            _escalate(ctx, task, policy)
            report.escalated += 1
    ctx.session.flush()  # the backlog count reads the levels just raised (sessions do not autoflush)
    report.backlog_alerts = _backlogs(ctx, config)
    return report


def _due(ctx: Ctx, now: datetime, *, level: int, limit: int) -> list[schema.HumanTask]:
    query = (sa.select(HT).where(HT.due_at < now, HT.escalation_level == level, HT.suspended.is_(False))
             .order_by(HT.due_at).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(ctx.session.scalars(query))


def _recipients(ctx: Ctx, task: schema.HumanTask) -> list[str]:
    if task.assignee:
        return [task.assignee]
    return sorted(set(task.candidate_users or []) | set(notifications.members(ctx, task.candidate_groups or [])))


def _overdue(ctx: Ctx, task: schema.HumanTask, policy: Policy) -> None:
    task.escalation_level, task.escalated_at = 1, ctx.now()
    due = _local(task.due_at, ctx.settings.timezone)
    if policy.notify_assignee_when_overdue:
        notifications.notify(ctx, _recipients(ctx, task), Notice(
            "task_overdue", f"Frist überschritten: {task.name or task.task_definition_key}",
            f"Die Aufgabe „{task.name}“ ({task.business_key or task.instance_id}) war fällig am {due}.",
            task.instance_id, task.id))
    audit.record(ctx, "task_overdue", instance_id=task.instance_id, definition_key=task.definition_key,
                 element_id=task.task_definition_key, task_id=task.id, details={"due": task.due_at.isoformat()
                                                                                if task.due_at else None})


def _teamleitung_moment(due: datetime | None, policy: Policy, add_working_days: Any, tz: str) -> datetime:
    assert due is not None
    local_day = due.astimezone(ZoneInfo(tz)).date()
    day = add_working_days(local_day, policy.teamleitung_after_working_days)
    if isinstance(day, str):
        day = datetime.fromisoformat(day).date()
    return datetime.combine(day, time(0, 0), ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))


def _escalate(ctx: Ctx, task: schema.HumanTask, policy: Policy) -> None:
    task.escalation_level, task.escalated_at = 2, ctx.now()
    leads = notifications.members(ctx, [policy.teamleitung_group] if policy.teamleitung_group else [])
    notifications.notify(ctx, leads, Notice(
        "task_escalated", f"Eskalation: {task.name or task.task_definition_key} ist überfällig",
        f"Die Aufgabe „{task.name}“ ({task.business_key or task.instance_id}) ist seit "
        f"{_local(task.due_at, ctx.settings.timezone)} überfällig (bearbeitet von: {task.assignee or 'niemand'}).\n"
        f"Neu zuweisen: Sie können die Aufgabe {task.id} einer anderen Person zuweisen oder an eine andere "
        "Gruppe abgeben.", task.instance_id, task.id))
    audit.record(ctx, "task_escalated", instance_id=task.instance_id, definition_key=task.definition_key,
                 element_id=task.task_definition_key, task_id=task.id,
                 details={"to_group": policy.teamleitung_group or None, "recipients": leads,
                          "offered": "reassign"})


def _backlogs(ctx: Ctx, config: EscalationConfig) -> int:
    if ctx.dialect == "postgresql" and not ctx.session.scalar(sa.text(
            "SELECT pg_try_advisory_xact_lock(hashtext('kimflow-backlog'))")):
        return 0  # another worker is counting right now; one alert per process is enough
    counts = ctx.session.execute(sa.select(HT.definition_key, sa.func.count()).where(HT.escalation_level >= 1)
                                 .group_by(HT.definition_key))
    alerts = 0
    for key, count in counts:
        policy = config.for_process(key)
        if count >= policy.backlog_threshold and not _alerted_recently(ctx, key):
            owners = notifications.members(ctx, [policy.backlog_group])
            notifications.notify(ctx, owners, Notice(
                "backlog", f"Rückstand im Prozess {key}: {count} überfällige Aufgaben",
                f"Im Prozess {key} sind {count} Aufgaben überfällig (Schwelle {policy.backlog_threshold})."))
            audit.record(ctx, "backlog_alert", definition_key=key, details={"overdue": count,
                                                                            "threshold": policy.backlog_threshold})
            alerts += 1
    return alerts


def follow_ups(ctx: Ctx, config: EscalationConfig, *, limit: int = 500) -> int:
    """Remind the people of each task whose follow-up date (Wiedervorlage) has come, once; returns how many."""
    query = (sa.select(HT).where(HT.follow_up_notified_at.is_(None), HT.follow_up_at <= ctx.now(),
                                 HT.suspended.is_(False))
             .order_by(HT.follow_up_at).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    tasks = list(ctx.session.scalars(query))
    for task in tasks:
        _remind(ctx, task, config.for_process(task.definition_key))
    return len(tasks)


def _remind(ctx: Ctx, task: schema.HumanTask, policy: Policy) -> None:
    task.follow_up_notified_at = ctx.now()
    recipients = _recipients(ctx, task) if policy.remind_on_follow_up else []
    if recipients:
        notifications.notify(ctx, recipients, Notice(
            "follow_up", f"Wiedervorlage: {task.name or task.task_definition_key}",
            f"Die Aufgabe „{task.name}“ ({task.business_key or task.instance_id}) ist ab "
            f"{_local(task.follow_up_at, ctx.settings.timezone)} wieder vorgelegt.", task.instance_id, task.id))
    audit.record(ctx, "follow_up_reached", instance_id=task.instance_id, definition_key=task.definition_key,
                 element_id=task.task_definition_key, task_id=task.id,
                 details={"follow_up": task.follow_up_at.isoformat() if task.follow_up_at else None,
                          "recipients": recipients})


def _alerted_recently(ctx: Ctx, key: str) -> bool:
    since = ctx.now() - timedelta(hours=24)
    query = sa.select(sa.func.count()).select_from(schema.AuditEvent).where(
        schema.AuditEvent.kind == "backlog_alert", schema.AuditEvent.definition_key == key,
        schema.AuditEvent.occurred_at >= since)
    return bool(ctx.session.scalar(query))


def _local(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")
