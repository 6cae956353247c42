"""User tasks: the inbox query, claim, unclaim, assign, drafts and completion.

Every list is a query on the human_task projection; a user sees a task when it is assigned to them, or they
are a candidate user, or they belong to a candidate group (admins and technical clients see all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from workflows import audit, definitions, execution, forms, instance_rows, instances, schema
from workflows.context import Actor, Ctx
from workflows.engine import runner
from workflows.errors import (
    ConcurrentChangeError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

HT = schema.HumanTask
TABLE = schema.table(schema.HumanTask)
CANDIDATE = schema.HumanTaskCandidate

SORT_COLUMNS = {
    "due": HT.due_at, "dueDate": HT.due_at, "priority": HT.priority, "created": HT.created_at,
    "name": HT.name, "followUpDate": HT.follow_up_at, "followUp": HT.follow_up_at, "assignee": HT.assignee,
    "id": HT.id, "processInstanceId": HT.instance_id, "description": HT.description,
    "nameCaseInsensitive": sa.func.lower(HT.name),
}


@dataclass
class TaskQuery:
    """Filters of the inbox and of Camunda's GET /task. None means: do not filter."""

    assignee: str | None = None
    assigned: bool | None = None
    candidate_user: str | None = None
    candidate_groups: Sequence[str] | None = None
    involved_user: str | None = None  # assignee, candidate user or in a candidate group (`involved_groups`)
    involved_groups: Sequence[str] = ()
    follow_up_before_or_none: datetime | None = None
    follow_up_after: datetime | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    definition_key: str | None = None
    definition_id: str | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    instance_id: str | None = None
    task_definition_key: str | None = None
    name_like: str | None = None
    task_ids: Sequence[str] | None = None
    not_assignee: str | None = None  # everything but this user's own tasks (the inbox's group tab)
    search: str | None = None  # part of the Aktenzeichen or of the person's name
    sort_by: Sequence[tuple[str, str]] = field(default_factory=lambda: [("due", "asc")])


def visibility(actor: Actor) -> TaskQuery:
    """The filter that limits a user to their own and their groups' tasks."""
    return TaskQuery(involved_user=actor.id, involved_groups=sorted(actor.groups))


_ASSIGNED = TABLE.alias("assigned")


def _statement(query: TaskQuery, actor: Actor, *, counting: bool = False) -> sa.Select[Any]:
    statement = sa.select(*TABLE.c)
    for condition in _conditions(query):
        statement = statement.where(condition)
    if not actor.sees_everything and query.assignee != actor.id:  # one's own tasks are visible by definition
        involved = _involved_ids if counting else _involved
        statement = statement.where(involved(actor.id, sorted(actor.groups)))
    return statement


def _involved(user: str | None, groups: Sequence[str]) -> Any:
    """For a page in sort order: PostgreSQL walks the sort column's index and stops at the page's last row."""
    candidates = sa.select(CANDIDATE.task_id).where(sa.or_(
        sa.and_(CANDIDATE.kind == "group", CANDIDATE.value.in_(list(groups))),
        sa.and_(CANDIDATE.kind == "user", CANDIDATE.value == (user or "")),
    ))
    return sa.or_(HT.assignee == (user or ""), HT.id.in_(candidates))


def _involved_ids(user: str | None, groups: Sequence[str]) -> Any:
    """For counting: the user's few thousand task ids from three index lookups. With `_involved`'s OR, SQLite
    checks every open task (25 ms of the inbox page's 60 with 100,000 tasks); PostgreSQL costs the same."""
    return HT.id.in_(sa.union(
        sa.select(CANDIDATE.task_id).where(CANDIDATE.kind == "group", CANDIDATE.value.in_(list(groups))),
        sa.select(CANDIDATE.task_id).where(CANDIDATE.kind == "user", CANDIDATE.value == (user or "")),
        sa.select(_ASSIGNED.c.id).where(_ASSIGNED.c.assignee == (user or "")),
    ))


def _conditions(q: TaskQuery) -> list[Any]:
    conditions: list[Any] = []
    simple = ((HT.assignee, q.assignee), (HT.definition_key, q.definition_key), (HT.definition_id, q.definition_id),
              (HT.business_key, q.business_key), (HT.instance_id, q.instance_id),
              (HT.task_definition_key, q.task_definition_key))
    conditions += [column == value for column, value in simple if value is not None]
    if q.assigned is not None:
        conditions.append(HT.assignee.is_not(None) if q.assigned else HT.assignee.is_(None))
    if q.candidate_user is not None:
        conditions.append(HT.id.in_(sa.select(CANDIDATE.task_id).where(CANDIDATE.kind == "user",
                                                                       CANDIDATE.value == q.candidate_user)))
    if q.candidate_groups is not None:
        conditions.append(HT.id.in_(sa.select(CANDIDATE.task_id).where(
            CANDIDATE.kind == "group", CANDIDATE.value.in_(list(q.candidate_groups)))))
    if q.involved_user is not None or q.involved_groups:
        conditions.append(_involved(q.involved_user, q.involved_groups))
    conditions += _time_conditions(q)
    if q.name_like:
        conditions.append(HT.name.ilike(f"%{q.name_like}%"))
    if q.business_key_like:
        conditions.append(HT.business_key.ilike(f"%{q.business_key_like}%"))
    if q.task_ids is not None:
        conditions.append(HT.id.in_(list(q.task_ids)))
    if q.not_assignee is not None:
        conditions.append(sa.or_(HT.assignee.is_(None), HT.assignee != q.not_assignee))
    if q.search:
        conditions.append(_matches_search(q.search))
    return conditions


PERSON_VARIABLE = "person_name"  # the process variable that names the person a case is about
VARIABLE = schema.table(schema.ProcessVariable)


def _matches_search(text: str) -> Any:
    pattern = f"%{text.strip()}%"
    people = sa.select(VARIABLE.c.instance_id).where(VARIABLE.c.name == PERSON_VARIABLE,
                                                     VARIABLE.c.text_value.ilike(pattern))
    return sa.or_(HT.business_key.ilike(pattern), HT.instance_id.in_(people))


def people_of(ctx: Ctx, instance_ids: Sequence[str]) -> dict[str, str]:
    """The person each case is about (for lists: one query for a page, never per row)."""
    if not instance_ids:
        return {}
    rows = ctx.session.execute(sa.select(VARIABLE.c.instance_id, VARIABLE.c.text_value).where(
        VARIABLE.c.name == PERSON_VARIABLE, VARIABLE.c.instance_id.in_(list(instance_ids))))
    return {instance_id: text for instance_id, text in rows if text}


def _time_conditions(q: TaskQuery) -> list[Any]:
    conditions = []
    if q.follow_up_before_or_none is not None:
        conditions.append(sa.or_(HT.follow_up_at.is_(None), HT.follow_up_at <= q.follow_up_before_or_none))
    if q.follow_up_after is not None:
        conditions.append(HT.follow_up_at > q.follow_up_after)
    if q.due_before is not None:
        conditions.append(HT.due_at < q.due_before)
    if q.due_after is not None:
        conditions.append(HT.due_at > q.due_after)
    return conditions


def _order(query: TaskQuery) -> list[Any]:
    order: list[Any] = []
    for name, direction in query.sort_by:
        column = SORT_COLUMNS.get(name)
        if column is None:
            raise InvalidInputError(f"Cannot sort tasks by {name!r}.")
        descending = direction.lower().startswith("desc")
        order.append((column.desc() if descending else column.asc()).nulls_last())
    order.append(HT.id.asc())
    return order


def find(ctx: Ctx, query: TaskQuery, *, first: int = 0, limit: int = 50) -> list[sa.Row[Any]]:
    """A page of open tasks as read-only rows (attribute access like the model: task.id, task.due_at...)."""
    statement = _statement(query, ctx.actor).order_by(*_order(query)).offset(first).limit(limit)
    return list(ctx.session.execute(statement))


def count(ctx: Ctx, query: TaskQuery) -> int:
    statement = _statement(query, ctx.actor, counting=True).with_only_columns(sa.func.count(),
                                                                              maintain_column_froms=True) \
        .order_by(None)
    return int(ctx.session.scalar(statement) or 0)


def get(ctx: Ctx, task_id: str) -> schema.HumanTask | None:
    """The open task, if it exists and the actor may see it (None otherwise: no hint that it exists)."""
    task = ctx.session.get(HT, task_id)
    if task is None or not can_see(ctx.actor, task):
        return None
    return task


def can_see(actor: Actor, task: Any) -> bool:
    if actor.sees_everything:
        return True
    return (task.assignee is not None and task.assignee == actor.id) or actor.id in (task.candidate_users or []) \
        or bool(actor.groups.intersection(task.candidate_groups or []))


def _require(ctx: Ctx, task_id: str) -> schema.HumanTask:
    task = get(ctx, task_id)
    if task is None:
        raise NotFoundError(f"Task {task_id} does not exist or is not visible to you (it may have been "
                            "completed already).")
    return task


def _may_act_for_others(actor: Actor) -> bool:
    return actor.sees_everything or actor.role == "supervisor"


# --- assignment --------------------------------------------------------------------------------------------


def claim(ctx: Ctx, task_id: str, user_id: str | None = None) -> schema.HumanTask:
    """Take a task; fails if someone else holds it (Camunda's TaskAlreadyClaimed)."""
    task = _require(ctx, task_id)
    user = user_id or ctx.actor.id
    if user != ctx.actor.id and not _may_act_for_others(ctx.actor):
        raise PermissionDeniedError("You may only claim tasks for yourself.")
    if task.assignee and task.assignee != user:
        raise ConflictError(f"Task {task_id} is already claimed by {task.assignee}.")
    return _assign(ctx, task, user, "task_claimed")


def unclaim(ctx: Ctx, task_id: str) -> schema.HumanTask:
    task = _require(ctx, task_id)
    if task.assignee and task.assignee != ctx.actor.id and not _may_act_for_others(ctx.actor):
        raise PermissionDeniedError(f"Task {task_id} is held by {task.assignee}; only they or a supervisor "
                                    "may release it.")
    return _assign(ctx, task, None, "task_unclaimed")


def set_assignee(ctx: Ctx, task_id: str, user_id: str | None, *, reason: str | None = None) -> schema.HumanTask:
    task = _require(ctx, task_id)
    if user_id != ctx.actor.id and not _may_act_for_others(ctx.actor):
        raise PermissionDeniedError("Only supervisors may assign tasks to others.")
    return _assign(ctx, task, user_id, "task_assigned", reason=reason)


def _assign(ctx: Ctx, task: schema.HumanTask, user: str | None, kind: str,
            reason: str | None = None) -> schema.HumanTask:
    previous = task.assignee
    updated = ctx.session.execute(sa.update(HT).where(HT.id == task.id, _same_assignee(previous))
                                  .values(assignee=user))
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChangeError(f"Task {task.id} was changed by someone else in the meantime.")
    task.assignee = user
    audit.record(ctx, kind, instance_id=task.instance_id, definition_key=task.definition_key,
                 element_id=task.task_definition_key, task_id=task.id,
                 details={"previous": previous, "assignee": user, "reason": reason})
    return task


def _same_assignee(previous: str | None) -> Any:
    return HT.assignee.is_(None) if previous is None else HT.assignee == previous


def move_to_group(ctx: Ctx, task_id: str, groups: Sequence[str], *, reason: str) -> schema.HumanTask:
    """Supervisors move a task to other candidate groups (and release it)."""
    task = _require(ctx, task_id)
    if not _may_act_for_others(ctx.actor):
        raise PermissionDeniedError("Only supervisors may move tasks to other groups.")
    previous = list(task.candidate_groups or [])
    ctx.session.execute(sa.delete(CANDIDATE).where(CANDIDATE.task_id == task_id, CANDIDATE.kind == "group"))
    if groups:
        ctx.session.execute(sa.insert(CANDIDATE), [{"task_id": task_id, "kind": "group", "value": g}
                                                   for g in dict.fromkeys(groups)])
    task.candidate_groups, task.assignee = list(groups), None
    audit.record(ctx, "task_moved", instance_id=task.instance_id, element_id=task.task_definition_key,
                 task_id=task.id, details={"previous_groups": previous, "groups": list(groups), "reason": reason})
    return task


def save_draft(ctx: Ctx, task_id: str, values: Mapping[str, Any]) -> schema.HumanTask:
    task = _require(ctx, task_id)
    _check_may_complete(ctx, task)
    task.draft = dict(values)
    audit.record(ctx, "task_draft_saved", instance_id=task.instance_id, element_id=task.task_definition_key,
                 task_id=task.id, details={"fields": sorted(values)})
    return task


# --- completion --------------------------------------------------------------------------------------------


def _check_may_complete(ctx: Ctx, task: Any) -> None:
    if task.suspended:
        raise ConflictError(f"Task {task.id} belongs to a suspended process instance.")
    if task.assignee and task.assignee != ctx.actor.id and not _may_act_for_others(ctx.actor):
        raise PermissionDeniedError(f"Task {task.id} is assigned to {task.assignee}.")


def complete(ctx: Ctx, task_id: str, values: Mapping[str, Any] | None = None) -> list[str]:
    """Complete a task with variables; a second completion of the same task finds it gone (NotFound).

    Returns the ids of the instance's open user tasks afterwards: the next step, if the case has one.
    """
    found = instance_rows.load_with_task(ctx.session, task_id)
    if found is None or not can_see(ctx.actor, found[0]):
        raise NotFoundError(f"Task {task_id} does not exist or is not visible to you (it may have been "
                            "completed already).")
    task, row = found
    _check_may_complete(ctx, task)
    submitted = dict(values or {})
    for name in submitted:
        if not name.isidentifier() or name.startswith("_"):
            raise InvalidInputError(f"Invalid variable name {name!r}.")

    def finish(loaded: execution.Loaded) -> execution.Loaded:
        engine_task = runner.find_task(loaded.workflow, task_id)
        if engine_task is None or not runner.is_open_manual(engine_task):
            raise ConflictError(f"Task {task_id} has already been completed.")
        runner.complete_task(loaded.workflow, engine_task, submitted)
        loaded.engine.record("task_completed", element_id=task.task_definition_key, task_id=task_id,
                             variables=sorted(submitted), actor=ctx.actor.id)
        return loaded

    return execution.open_task_ids(execution.run_command(ctx, task.instance_id, finish, row=row))


def form_for(ctx: Ctx, task: schema.HumanTask) -> forms.FormDefinition | None:
    if not task.form:
        return None
    definition = ctx.session.get(schema.ProcessDefinition, task.definition_id)
    return definitions.resolve_form(ctx, task.form, definition.deployment_id if definition else None)


def form_fields(form: forms.FormDefinition) -> list[forms.Field]:
    """The fields of a form that take input."""
    return list(forms.input_fields(form))


@dataclass(frozen=True)
class Submission:
    """What became of a submitted form: errors (nothing applied), or the case's open tasks afterwards."""

    errors: dict[str, list[str]]
    next_task_ids: list[str] = field(default_factory=list)


def submit(ctx: Ctx, task_id: str, raw: Mapping[str, Any], *, locale: str = "de") -> Submission:
    """Validate a submission with the task's form and complete the task; a task without a form takes no values
    from a page (only forms say which variables a person may set)."""
    task = _require(ctx, task_id)
    form = form_for(ctx, task)
    if form is None:
        return Submission({}, complete(ctx, task_id, {}))
    variables = instances.get_variables(ctx, task.instance_id) or {}
    today = ctx.now().astimezone(ZoneInfo(ctx.settings.timezone)).date()
    clean, errors = forms.validate_submission(form, raw, locale=locale, variables=variables, today=today)
    if errors:
        return Submission(errors)
    return Submission({}, complete(ctx, task_id, clean))


def submit_form(ctx: Ctx, task_id: str, raw: Mapping[str, Any], *, locale: str = "de") -> dict[str, list[str]]:
    """Validate and complete; returns the errors (empty when the task was completed)."""
    return submit(ctx, task_id, raw, locale=locale).errors
