"""Incidents: a step that failed (script, expression, decision, call) or an external task out of retries.

The failed step is blocked (the engine does not run it again on its own) until someone retries it, perhaps
after correcting variables. Retrying re-runs exactly that step.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa

from workflows import audit, instance_rows, schema
from workflows.context import Ctx
from workflows.errors import ConflictError, NotFoundError
from workflows.instance_rows import InstanceRecord
from workflows.states import IncidentState, IncidentType, check_incident_transition

if TYPE_CHECKING:
    from workflows.engine.runner import StepFailure
    from workflows.execution import Loaded


def _open_for_task(ctx: Ctx, instance_id: str, task_id: str) -> schema.Incident | None:
    query = sa.select(schema.Incident).where(schema.Incident.instance_id == instance_id,
                                             schema.Incident.task_id == task_id,
                                             schema.Incident.state == IncidentState.OPEN)
    return ctx.session.scalar(query)


def open_for_step(ctx: Ctx, row: InstanceRecord, failure: StepFailure) -> schema.Incident:
    """Record a failed step (or count another failed attempt of an open one)."""
    existing = _open_for_task(ctx, row.id, failure.task_id)
    if existing is not None:
        existing.attempts += 1
        existing.message, existing.stacktrace = failure.message, failure.stacktrace
        _audit(ctx, existing, "incident_updated")
        return existing
    return _create(ctx, row, IncidentType.FAILED_JOB, failure.task_id, failure.element_id, failure.message,
                   failure.stacktrace)


def open_for_external_task(ctx: Ctx, row: InstanceRecord, task: schema.ExternalTask) -> schema.Incident:
    existing = _open_for_task(ctx, row.id, task.id)
    if existing is not None:
        return existing
    message = task.error_message or "The external task has no retries left."
    return _create(ctx, row, IncidentType.FAILED_EXTERNAL_TASK, task.id, task.activity_id, message,
                   task.error_details)


def _create(ctx: Ctx, row: InstanceRecord, kind: IncidentType, task_id: str | None, element_id: str | None,
            message: str, stacktrace: str | None) -> schema.Incident:
    incident = schema.Incident(id=str(uuid.uuid4()), instance_id=row.id, definition_id=row.definition_id,
                               task_id=task_id, element_id=element_id, incident_type=kind, message=message,
                               stacktrace=stacktrace, attempts=1, state=IncidentState.OPEN, created_at=ctx.now())
    ctx.session.add(incident)
    ctx.session.flush()
    instance_rows.adjust_incidents(ctx.session, row.id, +1)
    row.open_incidents += 1
    _audit(ctx, incident, "incident_created")
    return incident


def _audit(ctx: Ctx, incident: schema.Incident, kind: str) -> None:
    audit.record(ctx, kind, instance_id=incident.instance_id, element_id=incident.element_id,
                 task_id=incident.task_id, details={"incident_id": incident.id, "type": incident.incident_type,
                                                    "message": incident.message[:2000],
                                                    "attempts": incident.attempts})


def resolve(ctx: Ctx, incident: schema.Incident, row: InstanceRecord | None = None) -> None:
    incident.state = check_incident_transition(incident.state, IncidentState.RESOLVED)
    incident.resolved_at = ctx.now()
    ctx.session.flush()
    instance_rows.adjust_incidents(ctx.session, incident.instance_id, -1)
    if row is not None:
        row.open_incidents = max(0, row.open_incidents - 1)
    _audit(ctx, incident, "incident_resolved")


def resolve_for_task(ctx: Ctx, row: InstanceRecord, task_id: str) -> None:
    incident = _open_for_task(ctx, row.id, task_id)
    if incident is not None:
        resolve(ctx, incident, row)


def close_for_tasks(ctx: Ctx, row: InstanceRecord, task_ids: set[str]) -> None:
    """Incidents of tasks that no longer exist (instance terminated, task cancelled) are closed."""
    for incident in list_open(ctx, instance_id=row.id):
        if incident.task_id in task_ids:
            resolve(ctx, incident, row)


def get(ctx: Ctx, incident_id: str) -> schema.Incident | None:
    return ctx.session.get(schema.Incident, incident_id)


def list_open(ctx: Ctx, *, instance_id: str | None = None, definition_key: str | None = None,
              element_id: str | None = None, first: int = 0, limit: int = 200) -> list[schema.Incident]:
    query = sa.select(schema.Incident).where(schema.Incident.state == IncidentState.OPEN)
    if instance_id is not None:
        query = query.where(schema.Incident.instance_id == instance_id)
    if element_id is not None:
        query = query.where(schema.Incident.element_id == element_id)
    if definition_key is not None:
        query = query.join(schema.ProcessInstance, schema.ProcessInstance.id == schema.Incident.instance_id).where(
            schema.ProcessInstance.definition_key == definition_key)
    return list(ctx.session.scalars(query.order_by(schema.Incident.created_at).offset(first).limit(limit)))


def retry(ctx: Ctx, incident_id: str, *, retries: int = 1) -> schema.Incident:
    """Re-run the failed step (or give an external task new retries); the incident closes if it succeeds."""
    incident = get(ctx, incident_id)
    if incident is None:
        raise NotFoundError(f"Incident {incident_id} does not exist.")
    if incident.state != IncidentState.OPEN:
        raise ConflictError(f"Incident {incident_id} is {incident.state}, not open.")
    if incident.incident_type == IncidentType.FAILED_EXTERNAL_TASK:
        _retry_external_task(ctx, incident, retries)
        return incident
    _retry_step(ctx, incident)
    return incident


def _retry_external_task(ctx: Ctx, incident: schema.Incident, retries: int) -> None:
    task = ctx.session.get(schema.ExternalTask, incident.task_id)
    if task is not None:
        task.retries = max(1, retries)
        task.available_at = None
    resolve(ctx, incident)


def _retry_step(ctx: Ctx, incident: schema.Incident) -> None:
    from workflows import execution, jobs

    task_id = incident.task_id or ""

    def release(loaded: Loaded) -> None:
        jobs.release(loaded, task_id)
        audit.record(ctx, "incident_retried", instance_id=loaded.id, element_id=incident.element_id,
                     task_id=task_id, details={"incident_id": incident.id, "attempts": incident.attempts})

    execution.run_command(ctx, incident.instance_id, release)  # success resolves the incident (jobs.tidy)
