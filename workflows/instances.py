"""Process instances: start, read, change variables, suspend, resume, terminate; call activities.

Starting by key takes the latest version; running instances stay on the version they started with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflows import audit, definitions, execution, incidents, instance_rows, projections, schema, variables
from workflows.context import Ctx
from workflows.engine import EngineTask, runner
from workflows.engine.serializer import dump_state
from workflows.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from workflows.instance_rows import InstanceRecord
from workflows.states import InstanceState, check_instance_transition


@dataclass(frozen=True)
class InstanceView:
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    state: str
    started_at: datetime
    ended_at: datetime | None
    started_by: str | None
    super_instance_id: str | None
    open_incidents: int
    end_reason: str | None = None
    open_task_ids: tuple[str, ...] = ()  # filled where a command just ran: the next steps of the case


def view(row: Any) -> InstanceView:
    """A read-only view of an instance record or row."""
    return InstanceView(row.id, row.definition_id, row.definition_key, row.business_key, row.state, row.started_at,
                        row.ended_at, row.started_by, row.super_instance_id, row.open_incidents, row.end_reason)


# --- starting ----------------------------------------------------------------------------------------------


def start(ctx: Ctx, *, key: str | None = None, definition_id: str | None = None, business_key: str | None = None,
          variables_in: Mapping[str, Any] | None = None, tenant_id: str | None = None,
          start_event: str | None = None) -> InstanceView:
    """Start a new instance of the latest version of `key` (or of one definition) and run it to its first waits.

    It starts at `start_event` (a message, signal or timer start event that fired), or else at the none start
    event, as Camunda's plain start does.
    """
    definition = _definition(ctx, key, definition_id, tenant_id)
    _check_may_start(ctx, definition)
    if definition.suspended:
        raise InvalidInputError(f"The process definition {definition.id} is suspended.")
    start_events = [start_event] if start_event else plain_start_events(definition)
    start_variables = dict(variables_in or {})
    initiator = (definition.start_form or {}).get("initiator")
    if initiator and ctx.actor.id:
        start_variables.setdefault(initiator, ctx.actor.id)
    loaded = execution.create(ctx, definition, business_key=business_key, start_variables=start_variables,
                              start_events=start_events)
    return replace(view(loaded.row), open_task_ids=tuple(execution.open_task_ids(loaded)))


def plain_start_events(definition: schema.ProcessDefinition) -> list[str] | None:
    """Where a plain start (API, web, call activity) begins: the none start event, or else a timer start event
    (the scheduler's, started by hand). A process that starts only on messages or signals cannot start plainly."""
    events = definition.start_events or []
    for kind in ("none", "timer"):
        found = [e["element_id"] for e in events if e.get("kind") == kind]
        if found:
            return found
    if not events:
        return None  # nothing recorded: let the engine start as the model says
    triggers = ", ".join(f"{e.get('kind')} {e.get('name')!r}" for e in events)
    raise InvalidInputError(f"The process {definition.key} has no none start event and cannot be started "
                            f"directly; it starts on {triggers}: correlate the message or throw the signal.")


def _definition(ctx: Ctx, key: str | None, definition_id: str | None,
                tenant_id: str | None) -> schema.ProcessDefinition:
    definition = (definitions.get_process(ctx, definition_id) if definition_id
                  else definitions.latest_process(ctx, key or "", tenant_id))
    if definition is None:
        raise NotFoundError(f"No process definition {definition_id or key!r} is deployed.")
    return definition


def _check_may_start(ctx: Ctx, definition: schema.ProcessDefinition) -> None:
    """camunda:candidateStarterGroups/Users: when set, only those may start the process."""
    groups, users = definition.candidate_starter_groups or [], definition.candidate_starter_users or []
    if ctx.actor.sees_everything or (not groups and not users):
        return
    if ctx.actor.id in users or ctx.actor.groups.intersection(groups):
        return
    raise PermissionDeniedError(f"You may not start the process {definition.key}.")


def may_start(ctx: Ctx, definition: schema.ProcessDefinition) -> bool:
    try:
        _check_may_start(ctx, definition)
    except PermissionDeniedError:
        return False
    return True


# --- reading -----------------------------------------------------------------------------------------------


def get(ctx: Ctx, instance_id: str) -> InstanceView | None:
    row = instance_rows.load(ctx.session, instance_id)
    return view(row) if row is not None else None


FILTERABLE = ("business_key", "definition_key", "definition_id", "super_instance_id", "started_by")


def list_instances(ctx: Ctx, *, states: Sequence[str] | None = None, first: int = 0, limit: int = 100,
                   visible_to: Any = None, **equal: str | None) -> list[InstanceView]:
    """Instances whose columns (FILTERABLE) equal the given values; `visible_to` is an access condition."""
    table = instance_rows.TABLE
    query = sa.select(*table.c)
    for name, value in equal.items():
        if name not in FILTERABLE:
            raise InvalidInputError(f"Cannot filter process instances by {name!r}.")
        if value is not None:
            query = query.where(table.c[name] == value)
    if states:
        query = query.where(table.c.state.in_(list(states)))
    if visible_to is not None:
        query = query.where(visible_to)
    query = query.order_by(table.c.started_at.desc(), table.c.id).offset(first).limit(limit)
    return [view(row) for row in ctx.session.execute(query)]


def get_variables(ctx: Ctx, instance_id: str) -> dict[str, Any] | None:
    """Current variables, read from the projection (no engine state needed)."""
    if not _exists(ctx, instance_id):
        return None
    rows = ctx.session.execute(sa.select(schema.ProcessVariable.name, schema.ProcessVariable.value,
                                         schema.ProcessVariable.type)
                               .where(schema.ProcessVariable.instance_id == instance_id))
    return {name: _from_json(value, kind) for name, value, kind in rows}


def _exists(ctx: Ctx, instance_id: str) -> bool:
    table = instance_rows.TABLE
    return ctx.session.scalar(sa.select(table.c.id).where(table.c.id == instance_id)) is not None


def typed_variables(ctx: Ctx, instance_id: str) -> dict[str, tuple[Any, str]] | None:
    if not _exists(ctx, instance_id):
        return None
    rows = ctx.session.execute(sa.select(schema.ProcessVariable.name, schema.ProcessVariable.value,
                                         schema.ProcessVariable.type)
                               .where(schema.ProcessVariable.instance_id == instance_id))
    return {name: (_from_json(value, kind), kind) for name, value, kind in rows}


def _from_json(value: Any, kind: str) -> Any:
    if kind == "Date" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def active_activities(ctx: Ctx, instance_id: str) -> list[runner.ActivityState]:
    """What the instance is doing now: open tasks, waiting events, running subprocesses (from engine state)."""
    loaded = execution.load(ctx, instance_id)
    if loaded is None:
        return []
    incidents_by_task: dict[str, list[str]] = {}
    for incident in incidents.list_open(ctx, instance_id=instance_id):
        incidents_by_task.setdefault(incident.task_id or "", []).append(incident.id)
    return [a.with_incidents(incidents_by_task.get(a.task_id, [])) for a in runner.active_activities(loaded.workflow)]


def engine_variables(ctx: Ctx, instance_id: str) -> dict[str, Any] | None:
    """Variables straight from engine state (exact Python values, e.g. dates)."""
    loaded = execution.load(ctx, instance_id)
    return variables.of(loaded.workflow) if loaded else None


# --- changing ----------------------------------------------------------------------------------------------


def set_variables(ctx: Ctx, instance_id: str, modifications: Mapping[str, Any], deletions: Sequence[str] = (),
                  *, reason: str | None = None) -> None:
    """Change variables of a running instance (audited with old and new values)."""
    bad = [name for name in [*modifications, *deletions] if not _valid_name(name)]
    if bad:
        raise InvalidInputError(f"Invalid variable names: {', '.join(bad)}")

    def change(loaded: execution.Loaded) -> None:
        before = variables.of(loaded.workflow)
        variables.update(loaded.workflow, modifications, deletions)
        audit.record(ctx, "variables_updated", instance_id=loaded.id, definition_key=loaded.definition.key,
                     details={"reason": reason, "changes": {
                         name: {"old": variables.to_json(before.get(name)), "new": variables.to_json(value)}
                         for name, value in modifications.items()}, "deleted": list(deletions)})

    execution.run_command(ctx, instance_id, change, allow_suspended=True)


def _valid_name(name: str) -> bool:
    return bool(name) and name.isidentifier() and not name.startswith("_")


def suspend(ctx: Ctx, instance_id: str, *, reason: str | None = None) -> None:
    _set_suspended(ctx, instance_id, True, reason)


def resume(ctx: Ctx, instance_id: str, *, reason: str | None = None) -> None:
    _set_suspended(ctx, instance_id, False, reason)


def _set_suspended(ctx: Ctx, instance_id: str, suspended: bool, reason: str | None) -> None:
    row = instance_rows.load(ctx.session, instance_id)
    if row is None:
        raise NotFoundError(f"Process instance {instance_id} does not exist.")
    target = InstanceState.SUSPENDED if suspended else InstanceState.ACTIVE
    if row.state == target:
        return
    row.state = check_instance_transition(row.state, target)
    row.last_activity_at = ctx.now()
    instance_rows.save(ctx.session, row)
    for model in (schema.HumanTask, schema.ExternalTask):
        ctx.session.execute(sa.update(model).where(model.instance_id == instance_id).values(suspended=suspended))
    audit.record(ctx, "instance_suspended" if suspended else "instance_resumed", instance_id=instance_id,
                 definition_key=row.definition_key, details={"reason": reason})


def terminate(ctx: Ctx, instance_id: str, *, reason: str, internal: bool = False, if_running: bool = False) -> None:
    """End a running instance at once (with its called child instances); the reason is kept.

    `internal`: the engine ended it (its call activity was cancelled), not a person or client (Camunda's
    INTERNALLY_TERMINATED instead of EXTERNALLY_TERMINATED); children inherit it, as in Camunda.
    `if_running`: an instance that has ended already is left alone instead of raising ConflictError.
    """
    if not reason or not reason.strip():
        raise InvalidInputError("A reason is required to terminate a process instance.")
    loaded = execution.load(ctx, instance_id)
    if loaded is None:
        raise NotFoundError(f"Process instance {instance_id} does not exist.")
    row = loaded.row
    if if_running and not InstanceState(row.state).is_running:
        return
    row.state = check_instance_transition(row.state, InstanceState.TERMINATED)
    for child in list_instances(ctx, super_instance_id=instance_id, states=[InstanceState.ACTIVE,
                                                                             InstanceState.SUSPENDED]):
        terminate(ctx, child.id, reason=f"Calling instance terminated: {reason}", internal=internal)
    live = variables.live_task_ids(loaded.workflow)
    loaded.workflow.cancel()
    row.ended_at, row.end_reason = ctx.now(), reason
    row.engine_state = dump_state(loaded.workflow)
    row.projection, writes = projections.plan(ctx, loaded, variables.of(loaded.workflow), ended=True)
    instance_rows.save(ctx.session, row)
    writes.run(ctx)
    incidents.close_for_tasks(ctx, row, live)
    audit.record(ctx, "instance_terminated", instance_id=instance_id, definition_key=row.definition_key,
                 details={"reason": reason, "internal": internal})


# --- call activities ---------------------------------------------------------------------------------------


def call_inputs(ctx: Ctx, loaded: execution.Loaded, task: EngineTask) -> tuple[schema.ProcessDefinition, str | None,
                                                                          dict[str, Any]]:
    """The definition, business key and variables a call activity hands to its child instance."""
    attributes = runner.camunda_of(task)
    engine = loaded.workflow.script_engine
    key = str(engine.evaluate_text(task, attributes.get("called_element") or ""))
    binding = attributes.get("called_element_binding") or "latest"
    version = attributes.get("called_element_version")
    definition = definitions.resolve_process(
        ctx, key, binding=binding, version=int(engine.evaluate_text(task, version)) if version else None,
        version_tag=attributes.get("called_element_version_tag"), deployment_id=loaded.definition.deployment_id,
        tenant_id=loaded.definition.tenant_id)
    if definition is None:
        raise NotFoundError(f"The called process {key!r} ({binding}) is not deployed.")
    child_variables, business_key = _mapped(engine, task, attributes.get("call_in", []),
                                           variables.of_task(task))
    return definition, business_key, child_variables


def _mapped(engine: Any, task: EngineTask, mappings: list[dict[str, Any]],
            source: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Apply camunda:in / camunda:out mappings: all variables, source→target, sourceExpression, businessKey."""
    result: dict[str, Any] = {}
    business_key = None
    for mapping in mappings:
        if mapping.get("business_key"):
            business_key = _optional_str(engine.evaluate_text(task, mapping["business_key"], source))
        elif mapping.get("variables") == "all":
            result.update(source)
        elif mapping.get("source_expression"):
            result[mapping["target"]] = engine.evaluate_text(task, mapping["source_expression"], source)
        elif mapping.get("source"):
            result[mapping.get("target") or mapping["source"]] = source.get(mapping["source"])
    return result, business_key


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def complete_call_activity(loaded: execution.Loaded, task: EngineTask, child_variables: dict[str, Any]) -> None:
    attributes = runner.camunda_of(task)
    engine = loaded.workflow.script_engine
    returned, _key = _mapped(engine, task, attributes.get("call_out", []), child_variables)
    runner.complete_task(loaded.workflow, task, returned)


def resume_caller(ctx: Ctx, child: InstanceRecord, child_variables: dict[str, Any]) -> None:
    """A child instance ended: the calling instance's call activity completes with the mapped variables."""
    super_id, task_id = child.super_instance_id, child.super_task_id
    if not super_id or not task_id:
        return

    def finish_call(loaded: execution.Loaded) -> None:
        task = runner.find_task(loaded.workflow, task_id)
        if task is not None and runner.child_of(task) == child.id:
            complete_call_activity(loaded, task, child_variables)

    execution.run_command(ctx, super_id, finish_call, allow_suspended=True)
