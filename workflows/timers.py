"""Fire due timers: BPMN timer events of running instances and timer start events of definitions.

`fire_due(ctx, now=...)` is what the scheduler calls on every tick; tests call it with a clock they set.
Due rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (workers never take the same timer) and fired
one instance at a time inside a savepoint, so one broken instance does not hold up the others. A timer that
came due while no worker ran fires once when one starts again, not once per missed moment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflows import audit, execution, jobs, schema
from workflows.context import Ctx
from workflows.durations import parse_cycle, parse_datetime, parse_duration
from workflows.errors import KimflowError
from workflows.states import InstanceState

TM = schema.Timer
CLAIM_SECONDS = 300


@dataclass
class FireReport:
    claimed: int = 0
    fired_instances: int = 0
    started_instances: int = 0
    failed: int = 0


TABLE = schema.table(schema.Timer)
INSTANCE = schema.table(schema.ProcessInstance)


def fire_due(ctx: Ctx, *, limit: int = 200, worker_id: str = "inline") -> FireReport:
    """Fire every timer due at ctx.now() (up to `limit` timer rows) in the caller's transaction."""
    now = ctx.now()
    rows = _claim(ctx, now, limit, worker_id)
    report = FireReport(claimed=len(rows))
    by_instance: dict[str, list[Any]] = {}
    for row in rows:
        if row.instance_id:
            by_instance.setdefault(row.instance_id, []).append(row)
    failed: list[Any] = []
    for instance_id, instance_rows in by_instance.items():
        if _fire_instance(ctx, instance_id, instance_rows):
            report.fired_instances += 1
        else:
            report.failed += 1
            failed.extend(instance_rows)
    for row in (r for r in rows if r.instance_id is None):
        report.started_instances += _fire_start_timer(ctx, row)
    _release(ctx, rows, failed, now)
    return report


def _claim(ctx: Ctx, now: datetime, limit: int, worker_id: str) -> list[Any]:
    """Lock due rows for this worker; on PostgreSQL rows other workers hold are skipped, not waited for."""
    active = sa.select(INSTANCE.c.id).where(INSTANCE.c.state == InstanceState.ACTIVE)
    query = (sa.select(TABLE).where(TABLE.c.due_at <= now,
                                    sa.or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until < now),
                                    sa.or_(TABLE.c.instance_id.is_(None), TABLE.c.instance_id.in_(active)))
             .order_by(TABLE.c.due_at, TABLE.c.id).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=TABLE)
    rows = list(ctx.session.execute(query))
    if rows:
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id.in_([r.id for r in rows]))
                            .values(claimed_by=worker_id, claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))
    return rows


def _release(ctx: Ctx, rows: list[Any], failed: list[Any], now: datetime) -> None:
    """Rows still there after firing are free again; rows of an instance that failed wait with a backoff."""
    failed_ids = {r.id for r in failed}
    free = [r.id for r in rows if r.id not in failed_ids]
    if free:
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id.in_(free)).values(claimed_by=None,
                                                                                 claimed_until=None))
    for row in failed:
        pause = min(2 ** (row.attempts + 1), CLAIM_SECONDS)
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(
            attempts=row.attempts + 1, claimed_until=now + timedelta(seconds=pause)))


def _fire_instance(ctx: Ctx, instance_id: str, rows: list[Any]) -> bool:
    """Run the instance with the command's clock: its due timers fire and its due retries run again."""
    retries = [r for r in rows if r.kind == jobs.RETRY_KIND]

    def release_retries(loaded: execution.Loaded) -> None:
        for row in retries:
            jobs.release(loaded, row.task_id or "")

    try:
        with ctx.session.begin_nested():
            execution.run_command(ctx.as_system(), instance_id, release_retries)
            if retries:
                ctx.session.execute(sa.delete(TABLE).where(TABLE.c.id.in_([r.id for r in retries])))
    except KimflowError:
        return False
    return True


# --- timer start events ------------------------------------------------------------------------------------


def schedule_start_timers(ctx: Ctx, definition: schema.ProcessDefinition) -> None:
    """A new version replaces the start timers of the previous versions of the same key (as in Camunda)."""
    older = sa.select(schema.ProcessDefinition.id).where(schema.ProcessDefinition.key == definition.key,
                                                         schema.ProcessDefinition.id != definition.id)
    ctx.session.execute(sa.delete(TM).where(TM.instance_id.is_(None), TM.definition_id.in_(older)))
    for event in definition.start_events or []:
        if event.get("kind") != "timer" or not event.get("timer"):
            continue
        kind, text = next(iter(event["timer"].items()))
        due = first_due(kind, text, ctx.now(), ctx.settings.timezone)
        if due is None:
            continue
        ctx.session.add(TM(id=str(uuid.uuid4()), instance_id=None, definition_id=definition.id, task_id=None,
                           element_id=event["element_id"], kind="startEvent", due_at=due, claimed_by=None,
                           claimed_until=None, attempts=0, created_at=ctx.now(),
                           details={"timer_kind": kind, "expression": text, "fired": 0}))


def first_due(kind: str, text: str, now: datetime, tz: str) -> datetime | None:
    if kind == "timeDate":
        return parse_datetime(text, tz)
    if kind == "timeDuration":
        return parse_duration(text).add_to(now, tz)
    if kind == "timeCycle":
        return parse_cycle(text, tz).first_due(now, tz)
    return None


def _fire_start_timer(ctx: Ctx, row: Any) -> int:
    from workflows import instances

    definition = ctx.session.get(schema.ProcessDefinition, row.definition_id)
    if definition is None:
        ctx.session.execute(sa.delete(TABLE).where(TABLE.c.id == row.id))
        return 0
    details = dict(row.details or {})
    try:
        with ctx.session.begin_nested():
            instances.start(ctx.as_system(), definition_id=definition.id)
    except KimflowError as error:
        audit.record(ctx, "start_timer_failed", definition_key=definition.key, element_id=row.element_id,
                     details={"error": str(error)})
    details["fired"] = int(details.get("fired", 0)) + 1
    _reschedule(ctx, row, details)
    return 1


def _reschedule(ctx: Ctx, row: Any, details: dict[str, Any]) -> None:
    """A cycle moves on to its next moment after now (missed moments fire once); others are done."""
    cycle = parse_cycle(details["expression"], ctx.settings.timezone) if details.get("timer_kind") == "timeCycle" \
        else None
    if cycle is None or (cycle.repetitions is not None and details["fired"] >= cycle.repetitions):
        ctx.session.execute(sa.delete(TABLE).where(TABLE.c.id == row.id))
        return
    due = cycle.next_due(row.due_at, ctx.settings.timezone)
    while due <= ctx.now():
        due = cycle.next_due(due, ctx.settings.timezone)
    ctx.session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(
        due_at=due, details=details, claimed_by=None, claimed_until=None))


def next_due_in(ctx: Ctx) -> datetime | None:
    """When the next timer comes due (the scheduler sleeps until then at most)."""
    return ctx.session.scalar(sa.select(sa.func.min(TM.due_at)))

