"""External tasks: outside workers fetch and lock work by topic, then complete, fail or raise a BPMN error.

Locks live on the projection row (worker, expiry); a lock that expired is fetchable again at once, so a crashed
worker's task is taken over even without a scheduler. The scheduler also clears expired locks
(`release_expired_locks`), so lists show the task unlocked and the audit trail says whose lock ran out. Claims
use FOR UPDATE SKIP LOCKED on PostgreSQL, so any number of workers can fetch side by side without getting the
same task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from workflows import audit, execution, incidents, instance_rows, schema
from workflows import variables as workflow_variables
from workflows.context import Ctx
from workflows.engine import events, runner
from workflows.errors import ConflictError, InvalidInputError, NotFoundError

ET = schema.ExternalTask


@dataclass(frozen=True)
class TopicRequest:
    name: str
    lock_duration_ms: int
    variables: Sequence[str] | None = None
    business_key: str | None = None
    process_definition_key: str | None = None


@dataclass(frozen=True)
class LockedTask:
    row: schema.ExternalTask
    variables: dict[str, tuple[Any, str]]


def fetch_and_lock(ctx: Ctx, worker_id: str, topics: Sequence[TopicRequest], *, max_tasks: int = 10,
                   use_priority: bool = False) -> list[LockedTask]:
    """Lock up to max_tasks available tasks of the given topics for one worker."""
    if not worker_id:
        raise InvalidInputError("workerId is required.")
    if max_tasks <= 0 or not topics:
        return []
    now = ctx.now()
    by_topic = {t.name: t for t in topics}
    rows = list(ctx.session.scalars(_available(ctx, now, topics, max_tasks, use_priority)))
    locked = []
    for row in rows:
        request = by_topic[row.topic]
        row.worker_id = worker_id
        row.lock_expires_at = now + timedelta(milliseconds=request.lock_duration_ms)
        locked.append(LockedTask(row, _variables(ctx, row.instance_id, request.variables)))
    ctx.session.flush()
    return locked


def _available(ctx: Ctx, now: Any, topics: Sequence[TopicRequest], limit: int, use_priority: bool) -> Any:
    topic_filters = []
    for topic in topics:
        condition = ET.topic == topic.name
        if topic.business_key:
            condition = sa.and_(condition, ET.business_key == topic.business_key)
        if topic.process_definition_key:
            condition = sa.and_(condition, ET.definition_key == topic.process_definition_key)
        topic_filters.append(condition)
    query = sa.select(ET).where(
        sa.or_(*topic_filters), ET.suspended.is_(False),
        sa.or_(ET.lock_expires_at.is_(None), ET.lock_expires_at <= now),
        sa.or_(ET.retries.is_(None), ET.retries > 0),
        sa.or_(ET.available_at.is_(None), ET.available_at <= now))
    order = [ET.priority.desc(), ET.created_at, ET.id] if use_priority else [ET.created_at, ET.id]
    query = query.order_by(*order).limit(limit)
    if ctx.session.bind is not None and ctx.session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def _variables(ctx: Ctx, instance_id: str, names: Sequence[str] | None) -> dict[str, tuple[Any, str]]:
    query = sa.select(schema.ProcessVariable.name, schema.ProcessVariable.value, schema.ProcessVariable.type).where(
        schema.ProcessVariable.instance_id == instance_id)
    if names is not None:
        query = query.where(schema.ProcessVariable.name.in_(list(names)))
    return {name: (value, kind) for name, value, kind in ctx.session.execute(query)}


def get(ctx: Ctx, task_id: str) -> schema.ExternalTask | None:
    return ctx.session.get(ET, task_id)


def list_tasks(ctx: Ctx, *, topic: str | None = None, worker_id: str | None = None, instance_id: str | None = None,
               locked: bool | None = None, no_retries_left: bool | None = None, first: int = 0,
               limit: int = 100) -> list[schema.ExternalTask]:
    query = sa.select(ET)
    for column, value in ((ET.topic, topic), (ET.worker_id, worker_id), (ET.instance_id, instance_id)):
        if value is not None:
            query = query.where(column == value)
    now = ctx.now()
    if locked is not None:
        query = query.where(ET.lock_expires_at > now if locked
                            else sa.or_(ET.lock_expires_at.is_(None), ET.lock_expires_at <= now))
    if no_retries_left is not None:
        query = query.where(ET.retries == 0 if no_retries_left else sa.or_(ET.retries.is_(None), ET.retries > 0))
    return list(ctx.session.scalars(query.order_by(ET.created_at, ET.id).offset(first).limit(limit)))


def _locked_by(ctx: Ctx, task_id: str, worker_id: str) -> schema.ExternalTask:
    row = get(ctx, task_id)
    if row is None:
        raise NotFoundError(f"External task {task_id} does not exist (it may have been completed or cancelled).")
    if row.worker_id != worker_id:
        raise ConflictError(f"External task {task_id} is locked by another worker ({row.worker_id}), not by "
                            f"{worker_id}.")
    if row.lock_expires_at is None or row.lock_expires_at <= ctx.now():
        raise ConflictError(f"The lock of external task {task_id} has expired.")
    return row


def complete(ctx: Ctx, task_id: str, worker_id: str, variables: Mapping[str, Any] | None = None,
             local_variables: Mapping[str, Any] | None = None) -> None:
    row = _locked_by(ctx, task_id, worker_id)
    values = {**(variables or {}), **(local_variables or {})}

    def finish(loaded: execution.Loaded) -> None:
        task = execution.find_task(loaded, task_id)
        runner.complete_task(loaded.workflow, task, values)
        loaded.engine.record("external_task_completed", element_id=row.activity_id, task_id=task_id,
                             worker_id=worker_id, variables=sorted(values), actor=worker_id)

    execution.run_command(ctx, row.instance_id, finish)


def failure(ctx: Ctx, task_id: str, worker_id: str, *, error_message: str | None, error_details: str | None = None,
            retries: int | None = None, retry_timeout_ms: int = 0) -> schema.ExternalTask:
    """Record a failed attempt; with no retries left the task becomes an incident."""
    row = _locked_by(ctx, task_id, worker_id)
    if retries is None:
        retries = ctx.settings.external_task_default_retries if row.retries is None else max(0, row.retries - 1)
    row.retries = max(0, retries)
    row.error_message = (error_message or "")[:4000] or None
    row.error_details = error_details
    row.worker_id, row.lock_expires_at = None, None
    row.available_at = ctx.now() + timedelta(milliseconds=max(0, retry_timeout_ms))
    audit.record(ctx, "external_task_failed", instance_id=row.instance_id, element_id=row.activity_id,
                 task_id=task_id, details={"worker_id": worker_id, "error": row.error_message,
                                           "retries": row.retries}, )
    if row.retries == 0:
        instance = instance_rows.load(ctx.session, row.instance_id)
        if instance is not None:
            incidents.open_for_external_task(ctx, instance, row)
    ctx.session.flush()
    return row


def bpmn_error(ctx: Ctx, task_id: str, worker_id: str, *, error_code: str, error_message: str | None = None,
               variables: Mapping[str, Any] | None = None) -> None:
    """A business error: the task's error boundary event (or an error event subprocess) takes over."""
    row = _locked_by(ctx, task_id, worker_id)

    def throw(loaded: execution.Loaded) -> None:
        task = execution.find_task(loaded, task_id)
        workflow_variables.update(loaded.workflow, dict(variables or {}))
        if not events.throw_error(loaded.workflow, task, error_code, error_message):
            raise _Uncaught
        loaded.engine.record("bpmn_error", element_id=row.activity_id, task_id=task_id, error_code=error_code,
                             error_message=error_message, actor=worker_id)

    try:
        execution.run_command(ctx, row.instance_id, throw)
    except _Uncaught:
        # Camunda would silently end the path; a deadline-bearing case must not vanish, so it becomes an incident.
        failure(ctx, task_id, worker_id, retries=0,
                error_message=f"BPMN error {error_code!r} was not caught by any error boundary event or event "
                              f"subprocess: {error_message or ''}".strip())


class _Uncaught(Exception):
    """The BPMN error found no catching event."""


def extend_lock(ctx: Ctx, task_id: str, worker_id: str, new_duration_ms: int) -> schema.ExternalTask:
    row = _locked_by(ctx, task_id, worker_id)
    if new_duration_ms <= 0:
        raise InvalidInputError("newDuration must be positive.")
    row.lock_expires_at = ctx.now() + timedelta(milliseconds=new_duration_ms)
    ctx.session.flush()
    return row


def unlock(ctx: Ctx, task_id: str) -> schema.ExternalTask:
    row = get(ctx, task_id)
    if row is None:
        raise NotFoundError(f"External task {task_id} does not exist.")
    row.worker_id, row.lock_expires_at = None, None
    ctx.session.flush()
    return row


def release_expired_locks(ctx: Ctx, *, limit: int = 500) -> int:
    """Unlock tasks whose lock has run out (the worker crashed or gave up); returns how many were released."""
    now = ctx.now()
    query = (sa.select(ET).where(ET.lock_expires_at <= now).order_by(ET.lock_expires_at, ET.id).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(ctx.session.scalars(query))
    audit.record_many(ctx, [{
        "kind": "external_task_lock_expired", "instance_id": row.instance_id, "definition_key": row.definition_key,
        "element_id": row.activity_id, "task_id": row.id,
        "details": {"worker_id": row.worker_id, "topic": row.topic,
                    "lock_expired_at": row.lock_expires_at.isoformat() if row.lock_expires_at else None},
    } for row in rows])
    for row in rows:
        row.worker_id, row.lock_expires_at = None, None
    ctx.session.flush()
    return len(rows)


def set_retries(ctx: Ctx, task_id: str, retries: int) -> schema.ExternalTask:
    row = get(ctx, task_id)
    if row is None:
        raise NotFoundError(f"External task {task_id} does not exist.")
    row.retries = max(0, retries)
    if retries > 0:
        for incident in incidents.list_open(ctx, instance_id=row.instance_id):
            if incident.task_id == task_id:
                incidents.resolve(ctx, incident)
    ctx.session.flush()
    return row
