"""Fire due timers: BPMN timer events of running instances, timer start events and retries of failed steps.

Two ways in. `fire_due(ctx)` claims and fires everything due at ctx.now() in the caller's transaction (tests and
single commands). The scheduler claims a batch in one short transaction (`claim`), then fires each instance in
a transaction of its own (`fire_claimed`): a claim names its worker and expires, so the rows of a worker that
died between the two are taken over by another one after CLAIM_SECONDS, and one slow or broken instance holds up
nobody. On PostgreSQL claims skip rows other workers hold (FOR UPDATE SKIP LOCKED), and firing locks the
instance row (skipping one that another transaction holds); the engine state decides what fires, so a timer
fires exactly once even when two workers reach the same instance. A timer that came due while no worker ran
fires once when one starts again, not once per missed moment. Every firing is in the audit trail
(`timer_fired`, `start_timer_fired`, `job_retried`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflows import audit, execution, instance_rows, jobs, schema
from workflows.context import Ctx
from workflows.durations import Cycle, parse_cycle, parse_datetime, parse_duration
from workflows.errors import KimflowError
from workflows.instance_rows import InstanceRecord
from workflows.states import InstanceState

TM = schema.Timer
CLAIM_SECONDS = 300


@dataclass
class FireReport:
    claimed: int = 0
    fired_instances: int = 0
    started_instances: int = 0
    failed: int = 0
    skipped: int = 0  # claims another worker took over (ours had expired) or that the flow had left

    def add(self, other: FireReport) -> None:
        for name in ("claimed", "fired_instances", "started_instances", "failed", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


TABLE = schema.table(schema.Timer)
INSTANCE = schema.table(schema.ProcessInstance)
INSTANCE_COLUMNS = [INSTANCE.c[name].label(f"instance__{name}") for name in instance_rows.COLUMNS]


def fire_due(ctx: Ctx, *, limit: int = 200, worker_id: str = "inline") -> FireReport:
    """Fire every timer due at ctx.now() (up to `limit` timer rows) in the caller's transaction; an instance
    that cannot run now is rolled back to its savepoint and tried again after a pause."""
    rows = claim(ctx, limit=limit, worker_id=worker_id)
    report = FireReport(claimed=len(rows))
    for unit in groups(rows):
        try:
            with ctx.session.begin_nested():
                report.add(fire_claimed(ctx, unit, worker_id=worker_id))
        except KimflowError:
            report.add(back_off(ctx, unit, worker_id=worker_id))
    return report


def claim(ctx: Ctx, *, limit: int, worker_id: str, hold_seconds: int = CLAIM_SECONDS) -> list[Any]:
    """Take due rows for this worker until now + hold_seconds; on PostgreSQL rows others hold are skipped."""
    now = ctx.now()
    active = sa.select(INSTANCE.c.id).where(INSTANCE.c.state == InstanceState.ACTIVE)
    query = (sa.select(TABLE).where(TABLE.c.due_at <= now,
                                    sa.or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until <= now),
                                    sa.or_(TABLE.c.instance_id.is_(None), TABLE.c.instance_id.in_(active)))
             .order_by(TABLE.c.due_at, TABLE.c.id).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=TABLE)
    rows = list(ctx.session.execute(query))
    if rows:
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id.in_([r.id for r in rows]))
                            .values(claimed_by=worker_id, claimed_until=now + timedelta(seconds=hold_seconds)))
    return rows


def groups(rows: Sequence[Any]) -> list[list[Any]]:
    """Claimed rows in firing units: all rows of one instance together, each start timer alone."""
    by_instance: dict[str, list[Any]] = {}
    starts: list[list[Any]] = []
    for row in rows:
        if row.instance_id:
            by_instance.setdefault(row.instance_id, []).append(row)
        else:
            starts.append([row])
    return [*by_instance.values(), *starts]


def fire_claimed(ctx: Ctx, rows: Sequence[Any], *, worker_id: str) -> FireReport:
    """Fire one unit of `groups` that this worker claimed, unless another worker has taken it over since.

    Raises KimflowError when its instance cannot run now (changed at the same moment, suspended): roll the
    transaction back, then call `back_off` in a new one.
    """
    held, record = _still_held(ctx, rows, worker_id)
    report = FireReport(skipped=len(rows) - len(held))
    if not held:
        return report
    if held[0].instance_id is None:
        report.started_instances += _fire_start_timer(ctx, held[0])
    else:
        _fire_instance(ctx, held[0].instance_id, held, record)
        report.fired_instances += 1
    return report


def back_off(ctx: Ctx, rows: Sequence[Any], *, worker_id: str) -> FireReport:
    """The unit's instance failed: its rows wait 2, 4, 8... seconds (at most CLAIM_SECONDS) for the next try."""
    held, _record = _still_held(ctx, rows, worker_id)
    for row in held:
        pause = min(2 ** (row.attempts + 1), CLAIM_SECONDS)
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(
            attempts=row.attempts + 1, claimed_until=ctx.now() + timedelta(seconds=pause)))
    return FireReport(failed=1 if held else 0, skipped=len(rows) - len(held))


def unclaim(ctx: Ctx, rows: Sequence[Any], *, worker_id: str) -> None:
    """Give back claims this worker will not fire after all (it is shutting down)."""
    ids = [r.id for r in rows]
    if ids:
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id.in_(ids), TABLE.c.claimed_by == worker_id)
                            .values(claimed_by=None, claimed_until=None))


def _still_held(ctx: Ctx, rows: Sequence[Any], worker_id: str) -> tuple[list[Any], InstanceRecord | None]:
    """The rows still claimed by this worker, and their instance row, locked for this transaction (a start
    timer: its own row), in one query. On PostgreSQL nobody waits for an instance another transaction holds: its
    rows go back for the next tick instead, so two workers reaching one instance never deadlock."""
    instance_id = rows[0].instance_id
    query = sa.select(TABLE).where(TABLE.c.id.in_([r.id for r in rows]), TABLE.c.claimed_by == worker_id)
    if instance_id is not None:
        query = query.add_columns(*INSTANCE_COLUMNS).join(INSTANCE, INSTANCE.c.id == TABLE.c.instance_id)
    if ctx.dialect == "postgresql":  # SQLite has one writer at a time: this transaction holds the database
        query = query.with_for_update(of=TABLE if instance_id is None else INSTANCE, skip_locked=True)
    held = list(ctx.session.connection().execute(query))
    if ctx.dialect == "postgresql" and len(held) < len(rows):
        unclaim(ctx, [r for r in rows if r.id not in {h.id for h in held}], worker_id=worker_id)
    if not held or instance_id is None:
        return held, None
    values = held[0]._mapping
    return held, InstanceRecord(**{name: values[f"instance__{name}"] for name in instance_rows.COLUMNS},
                                _stored=True)


def _fire_instance(ctx: Ctx, instance_id: str, rows: list[Any], record: InstanceRecord | None) -> None:
    """Run the instance with the command's clock: its due timers fire and its due retries run again."""
    retries = [r for r in rows if r.kind == jobs.RETRY_KIND]
    ran: list[execution.Loaded] = []

    def release_retries(loaded: execution.Loaded) -> None:
        ran.append(loaded)
        for row in retries:
            if jobs.release(loaded, row.task_id or ""):
                loaded.engine.record("job_retried", element_id=row.element_id, task_id=row.task_id,
                                     attempt=row.attempts + 1, due=row.due_at.isoformat())

    execution.run_command(ctx.as_system(), instance_id, release_retries, row=record)
    if retries:
        ctx.session.execute(sa.delete(TABLE).where(TABLE.c.id.in_([r.id for r in retries])))
    _release_still_waiting(ctx, rows, ran[0])


def _release_still_waiting(ctx: Ctx, rows: list[Any], loaded: execution.Loaded) -> None:
    """Claimed rows whose timer still waits after the command (rare: its step is blocked) are free again; the
    command has already deleted the rows of the timers that fired."""
    waiting = (loaded.row.projection or {}).get("timers", {})
    kept = [r.id for r in rows if r.kind != jobs.RETRY_KIND and r.task_id in waiting
            and datetime.fromisoformat(waiting[r.task_id]) == r.due_at]
    if kept:
        ctx.session.execute(sa.update(TABLE).where(TABLE.c.id.in_(kept)).values(claimed_by=None,
                                                                                 claimed_until=None))


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
    """When a timer start event first fires. A cycle whose start date has passed (a new version deployed in
    the middle of a quarter) goes on from its next moment, as Camunda schedules it: the moments before the
    deployment were the previous version's, not missed ones."""
    if kind == "timeDate":
        return parse_datetime(text, tz)
    if kind == "timeDuration":
        return parse_duration(text).add_to(now, tz)
    if kind == "timeCycle":
        cycle = parse_cycle(text, tz)
        return _on_grid_from(cycle, cycle.first_due(now, tz), now, tz, strictly_after=False)
    return None


def _on_grid_from(cycle: Cycle, moment: datetime, now: datetime, tz: str, *, strictly_after: bool) -> datetime:
    """The cycle's first moment at (or after) now, counting from `moment` in steps of its interval."""
    step = cycle.interval
    if not (step.years or step.months or step.days or step.negative) and step.seconds > 0 and moment < now:
        moment += timedelta(seconds=step.seconds * ((now - moment).total_seconds() // step.seconds))
    previous = None
    while (moment <= now if strictly_after else moment < now) and (previous is None or moment > previous):
        previous, moment = moment, cycle.next_due(moment, tz)
    return moment


def _fire_start_timer(ctx: Ctx, row: Any) -> int:
    from workflows import instances

    definition = ctx.session.get(schema.ProcessDefinition, row.definition_id)
    if definition is None:
        ctx.session.execute(sa.delete(TABLE).where(TABLE.c.id == row.id))
        return 0
    details = dict(row.details or {})
    moment = {"due": row.due_at.isoformat(), "fired_at": ctx.now().isoformat()}
    try:
        with ctx.session.begin_nested():
            started = instances.start(ctx.as_system(), definition_id=definition.id, start_event=row.element_id)
        audit.record(ctx, "start_timer_fired", instance_id=started.id, definition_key=definition.key,
                     element_id=row.element_id, details=moment)
    except KimflowError as error:
        audit.record(ctx, "start_timer_failed", definition_key=definition.key, element_id=row.element_id,
                     details={**moment, "error": str(error)})
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
    due = _on_grid_from(cycle, cycle.next_due(row.due_at, ctx.settings.timezone), ctx.now(), ctx.settings.timezone,
                        strictly_after=True)
    ctx.session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(
        due_at=due, details=details, claimed_by=None, claimed_until=None))


def next_due_in(ctx: Ctx) -> datetime | None:
    """When the next timer comes due (the scheduler sleeps until then at most)."""
    return ctx.session.scalar(sa.select(sa.func.min(TM.due_at)))

