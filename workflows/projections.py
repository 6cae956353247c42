"""Write the projections a command changed: human tasks, external tasks, timers, subscriptions, variables.

The instance row remembers what the projection tables hold for it (ids, due times, variable digests), so a
command only touches the rows that changed and never has to read them back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from workflows import fastsql, schema, variables
from workflows.context import Ctx
from workflows.engine import waits as engine_waits
from workflows.engine.waits import ExternalWait, HumanWait, SubscriptionWait, TimerWait, Waits

if TYPE_CHECKING:
    from workflows.execution import Loaded

# Core tables: projection rows are written in bulk without the ORM's unit of work (this is the hot path).
HUMAN_TASK = schema.table(schema.HumanTask)
CANDIDATE = schema.table(schema.HumanTaskCandidate)
EXTERNAL_TASK = schema.table(schema.ExternalTask)
TIMER = schema.table(schema.Timer)
SUBSCRIPTION = schema.table(schema.MessageSubscription)
VARIABLE = schema.table(schema.ProcessVariable)


@dataclass
class Writes:
    """Statements that bring the projections up to date, run together with the instance row's revision check."""

    dialect: str
    statements: list[fastsql.Statement] = field(default_factory=list)

    def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.statements.append(fastsql.insert_statement(self.dialect, table, rows))

    def delete_in(self, table: sa.Table, column: str, values: list[Any], **equal: Any) -> None:
        if values:
            self.statements.append(fastsql.delete_statement(self.dialect, table, column, values, **equal))

    def delete_all(self, table: sa.Table, instance_id: str) -> None:
        self.statements.append(fastsql.delete_statement(self.dialect, table, instance_id=instance_id))

    def run(self, ctx: Ctx) -> None:
        fastsql.run(ctx.session, self.statements)


def plan(ctx: Ctx, loaded: Loaded, current: dict[str, Any], *, ended: bool) -> tuple[dict[str, Any], Writes]:
    """The instance's new projection summary and the statements that write it (nothing is executed here)."""
    previous = loaded.row.projection or {}
    waits = Waits() if ended else engine_waits.collect(loaded.workflow, skip=set(loaded.failed))
    writes = Writes(ctx.dialect)
    _adopt_business_key(writes, loaded, current, previous)
    summary = {
        "human": _sync_human_tasks(ctx, writes, loaded, previous.get("human", []), waits.human),
        "external": _sync_external_tasks(ctx, writes, loaded, previous.get("external", []), waits.external),
        "timers": _sync_timers(ctx, writes, loaded, previous.get("timers", {}), waits.timers),
        "subs": _sync_subscriptions(ctx, writes, loaded, previous.get("subs", {}), waits.subscriptions),
        "vars": _sync_variables(ctx, writes, loaded, previous.get("vars", {}), current),
        "failed": {} if ended else loaded.failed,
    }
    if ended and (previous.get("timers") or previous.get("failed")):
        writes.delete_all(TIMER, loaded.id)  # job retries too
    return summary, writes


def sync(ctx: Ctx, loaded: Loaded, current: dict[str, Any], *, ended: bool) -> dict[str, Any]:
    """Plan and write at once (for commands that do not go through the revision-checked save)."""
    summary, writes = plan(ctx, loaded, current, ended=ended)
    writes.run(ctx)
    return summary


# --- business key ------------------------------------------------------------------------------------------

BUSINESS_KEY_VARIABLE = "businessKey"
TABLES_WITH_BUSINESS_KEY = (HUMAN_TASK, EXTERNAL_TASK, SUBSCRIPTION)


def _adopt_business_key(writes: Writes, loaded: Loaded, current: dict[str, Any], previous: dict[str, Any]) -> None:
    """An instance started without a business key takes the variable `businessKey` as its key once a start form
    or a script sets it (what Camunda models do with execution.setProcessBusinessKey); a key is never changed.
    Rows written earlier without a key get it too, so inbox, case list and correlation see it at once."""
    row = loaded.row
    key = _business_key_value(current.get(BUSINESS_KEY_VARIABLE))
    if row.business_key is not None or key is None:
        return
    row.business_key = key
    loaded.engine.record("business_key_set", business_key=key)
    if previous:  # rows of earlier commands (a new instance has none yet)
        for table in TABLES_WITH_BUSINESS_KEY:
            writes.statements.append(fastsql.update_statement(writes.dialect, table, {"business_key": key},
                                                              instance_id=loaded.id))


def _business_key_value(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= 255 else None


# --- human tasks -------------------------------------------------------------------------------------------


def _sync_human_tasks(ctx: Ctx, writes: Writes, loaded: Loaded, previous: list[str],
                      desired: dict[str, HumanWait]) -> list[str]:
    removed = [task_id for task_id in previous if task_id not in desired]
    if removed:
        writes.delete_in(HUMAN_TASK, "id", removed)
    added = [task for task_id, task in desired.items() if task_id not in previous]
    if added:
        rows = [_human_task_row(ctx, loaded, task) for task in added]
        writes.insert(HUMAN_TASK, rows)
        candidates = [c for row in rows for c in _candidate_rows(row)]
        if candidates:
            writes.insert(CANDIDATE, candidates)
        _audit_created(loaded, rows)
    return list(desired)


def _human_task_row(ctx: Ctx, loaded: Loaded, task: HumanWait) -> dict[str, Any]:
    info = task.info
    definition = loaded.definition
    return {
        "id": task.task_id, "instance_id": loaded.id, "definition_id": definition.id,
        "definition_key": definition.key, "business_key": loaded.row.business_key,
        "task_definition_key": task.element_id, "name": task.name,
        "description": info.get("description"), "assignee": info.get("assignee"),
        "candidate_groups": info.get("candidate_groups", []), "candidate_users": info.get("candidate_users", []),
        "created_at": ctx.now(), "due_at": _time(info.get("due")), "follow_up_at": _time(info.get("follow_up")),
        "priority": info.get("priority", 50), "form": info.get("form"),
        "properties": task.properties,
        "suspended": loaded.row.state == "suspended", "draft": None, "escalation_level": 0, "escalated_at": None,
    }


def _candidate_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [{"task_id": row["id"], "kind": "group", "value": g} for g in dict.fromkeys(row["candidate_groups"])]
    users = [{"task_id": row["id"], "kind": "user", "value": u} for u in dict.fromkeys(row["candidate_users"])]
    return groups + users


def _audit_created(loaded: Loaded, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        loaded.engine.record("task_created", element_id=row["task_definition_key"], task_id=row["id"],
                             name=row["name"], assignee=row["assignee"], candidate_groups=row["candidate_groups"],
                             due=row["due_at"].isoformat() if row["due_at"] else None, actor=None)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- external tasks ----------------------------------------------------------------------------------------


def _sync_external_tasks(ctx: Ctx, writes: Writes, loaded: Loaded, previous: list[str],
                         desired: dict[str, ExternalWait]) -> list[str]:
    removed = [task_id for task_id in previous if task_id not in desired]
    if removed:
        writes.delete_in(EXTERNAL_TASK, "id", removed)
    added = [task for task_id, task in desired.items() if task_id not in previous]
    if added:
        writes.insert(EXTERNAL_TASK, [_external_row(ctx, loaded, t) for t in added])
    return list(desired)


def _external_row(ctx: Ctx, loaded: Loaded, task: ExternalWait) -> dict[str, Any]:
    return {
        "id": task.task_id, "instance_id": loaded.id, "definition_id": loaded.definition.id,
        "definition_key": loaded.definition.key, "activity_id": task.element_id,
        "business_key": loaded.row.business_key, "topic": task.topic, "priority": task.priority,
        "worker_id": None, "lock_expires_at": None, "retries": None,
        "error_message": None, "error_details": None, "available_at": None, "created_at": ctx.now(),
        "suspended": loaded.row.state == "suspended", "properties": task.properties,
    }


# --- timers and subscriptions ------------------------------------------------------------------------------


def _sync_timers(ctx: Ctx, writes: Writes, loaded: Loaded, previous: dict[str, str],
                 desired: dict[str, TimerWait]) -> dict[str, str]:
    stale = [task_id for task_id, due in previous.items() if task_id not in desired or desired[task_id].due != due]
    if stale:
        writes.delete_in(TIMER, "task_id", stale, instance_id=loaded.id)
    fresh = [timer for task_id, timer in desired.items() if previous.get(task_id) != timer.due]
    if fresh:
        writes.insert(TIMER, [{
            "id": str(uuid.uuid4()), "instance_id": loaded.id, "definition_id": loaded.definition.id,
            "task_id": timer.task_id, "element_id": timer.element_id, "kind": timer.kind,
            "due_at": datetime.fromisoformat(timer.due), "claimed_by": None, "claimed_until": None, "attempts": 0,
            "created_at": ctx.now(), "details": {},
        } for timer in fresh])
    return {task_id: timer.due for task_id, timer in desired.items()}


def _sync_subscriptions(ctx: Ctx, writes: Writes, loaded: Loaded, previous: dict[str, Any],
                        desired: dict[str, SubscriptionWait]) -> dict[str, Any]:
    removed = [key for key in previous if key not in desired]
    if removed:
        writes.delete_in(SUBSCRIPTION, "id", [previous[k]["id"] for k in removed])
    summary = {}
    rows = []
    for key, sub in desired.items():
        if key in previous:
            summary[key] = previous[key]
            continue
        sub_id = str(uuid.uuid4())
        summary[key] = {"id": sub_id, "name": sub.name}
        rows.append({"id": sub_id, "instance_id": loaded.id, "task_id": sub.task_id, "element_id": sub.element_id,
                     "event_type": sub.event_type, "name": sub.name, "business_key": loaded.row.business_key,
                     "created_at": ctx.now()})
    if rows:
        writes.insert(SUBSCRIPTION, rows)
    return summary


# --- variables ---------------------------------------------------------------------------------------------


def _sync_variables(ctx: Ctx, writes: Writes, loaded: Loaded, previous: dict[str, str],
                    current: dict[str, Any]) -> dict[str, str]:
    digests = {name: variables.digest(value) for name, value in current.items()}
    gone = [name for name in previous if name not in digests]
    changed = [name for name, d in digests.items() if previous.get(name) != d]
    stale = gone + [name for name in changed if name in previous]
    if stale:
        writes.delete_in(VARIABLE, "name", stale, instance_id=loaded.id)
    if changed:
        writes.insert(VARIABLE, [{
            "instance_id": loaded.id, "name": name, "type": variables.camunda_type(current[name]),
            "value": variables.to_json(current[name]), "text_value": variables.text_of(current[name]),
        } for name in changed])
    return digests
