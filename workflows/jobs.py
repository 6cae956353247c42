"""Failed automatic steps: retried on a timer, then an incident.

A step that fails (script, expression, decision, call) is blocked and retried after a pause, as Camunda retries
a failed job: `camunda:failedJobRetryTimeCycle` (e.g. `R5/PT10M`: five attempts, ten minutes apart; or a list
of intervals, `PT1M,PT5M,PT10M`: a retry after each, four attempts in all) or the default of `job_retries`
attempts `job_retry_delay_seconds` apart. When the attempts are used up, the step becomes an incident that waits
for a person. Which steps are blocked is kept on the instance row.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from workflows import audit, incidents, schema
from workflows.context import Ctx
from workflows.durations import Duration, RetrySchedule, parse_retry_cycle
from workflows.engine import runner

if TYPE_CHECKING:
    from workflows.engine.runner import StepFailure
    from workflows.execution import Loaded

RETRY_KIND = "job_retry"


def blocked(loaded: Loaded) -> set[str]:
    """Steps the engine must not run now (waiting for their retry time or for a person)."""
    return {task_id for task_id, info in loaded.failed.items() if not info.get("released")}


def release(loaded: Loaded, task_id: str) -> bool:
    """Let a blocked step run again in this command (its retry time came, or someone pressed retry)."""
    info = loaded.failed.get(task_id)
    if info is None:
        return False
    info["released"] = True
    task = runner.find_task(loaded.workflow, task_id)
    if task is not None:
        task.internal_data.pop("kim_timer_error", None)  # a broken timer expression is evaluated again
    return True


def policy(ctx: Ctx, retry_cycle: str | None) -> RetrySchedule:
    """Attempts in all, and the pause before each retry, for a step."""
    if retry_cycle:
        try:
            return parse_retry_cycle(retry_cycle, ctx.settings.timezone)
        except ValueError:
            pass  # refused at deploy; a model deployed before that check falls back to the default
    return RetrySchedule(max(1, ctx.settings.job_retries), (Duration(seconds=ctx.settings.job_retry_delay_seconds),))


def record_failure(ctx: Ctx, loaded: Loaded, failure: StepFailure) -> None:
    info = dict(loaded.failed.get(failure.task_id) or {"attempts": 0})
    info.pop("released", None)
    info["attempts"] += 1
    info["message"] = failure.message[:500]
    task = runner.find_task(loaded.workflow, failure.task_id)
    retry_cycle = runner.camunda_of(task).get("retry_cycle") if task is not None else None
    schedule = policy(ctx, retry_cycle)
    attempt, attempts = info["attempts"], schedule.attempts
    if attempt < attempts:
        due = schedule.pause_after(attempt).add_to(ctx.now(), ctx.settings.timezone)
        loaded.after_save.append(lambda: _schedule_retry(ctx, loaded, failure, due, attempt, attempts))
        info["retry_at"] = due.isoformat()
    else:
        loaded.after_save.append(lambda: incidents.open_for_step(ctx, loaded.row, failure))
        info["incident"] = True
        info.pop("retry_at", None)
    loaded.failed[failure.task_id] = info


def _schedule_retry(ctx: Ctx, loaded: Loaded, failure: StepFailure, due: Any, attempt: int, attempts: int) -> None:
    ctx.session.add(schema.Timer(
        id=str(uuid.uuid4()), instance_id=loaded.id, definition_id=loaded.definition.id, task_id=failure.task_id,
        element_id=failure.element_id or "", kind=RETRY_KIND, due_at=due, claimed_by=None, claimed_until=None,
        attempts=attempt, created_at=ctx.now(), details={"message": failure.message[:500]}))
    audit.record(ctx, "job_failed", instance_id=loaded.id, definition_key=loaded.definition.key,
                 element_id=failure.element_id, task_id=failure.task_id,
                 details={"attempt": attempt, "attempts": attempts, "retry_at": due.isoformat(),
                          "message": failure.message[:2000]})


def tidy(ctx: Ctx, loaded: Loaded) -> None:
    """Forget steps that ran through after a retry, and those the flow has left (interrupted, terminated)."""
    for task_id, info in list(loaded.failed.items()):
        task = runner.find_task(loaded.workflow, task_id)
        still_waiting = task is not None and not runner.is_finished(task)
        if info.get("released") or not still_waiting:
            del loaded.failed[task_id]
            if info.get("incident"):
                incidents.resolve_for_task(ctx, loaded.row, task_id)
