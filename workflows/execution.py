"""One command on one process instance: load, act, run the engine, write state and projections.

Every command is part of the caller's database transaction. State and every projection it changed are written
together; the instance row carries a revision (optimistic locking), so of two commands that raced on the same
instance exactly one wins and the other gets a ConflictError. A failing automatic step is rolled back to the
state before that step and becomes an incident; everything before it in the command stays done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from workflows import (
    audit,
    definitions,
    fastsql,
    helpers,
    instance_rows,
    jobs,
    projections,
    sandbox,
    schema,
    variables,
)
from workflows.context import Ctx
from workflows.engine import EngineTask, EngineWorkflow, runner
from workflows.engine.scripting import EngineContext
from workflows.engine.serializer import SERIALIZER_VERSION, SpecBundle, dump_state, load_state
from workflows.errors import ConflictError, NotFoundError
from workflows.instance_rows import InstanceRecord
from workflows.states import InstanceState, check_instance_transition

T = TypeVar("T")


@dataclass
class Loaded:
    row: InstanceRecord
    definition: definitions.DefinitionInfo
    bundle: SpecBundle
    workflow: EngineWorkflow
    engine: EngineContext
    failed: dict[str, dict[str, Any]]  # steps that failed: attempts, retry time, incident (see jobs)
    after_save: list[Callable[[], object]] = field(default_factory=list)  # writes that refer to the saved row

    @property
    def id(self) -> str:
        return self.row.id


def engine_context(ctx: Ctx, definition: definitions.DefinitionInfo) -> EngineContext:
    from workflows import decisions_runtime

    now = ctx.now()
    context = EngineContext(
        now=now, timezone=ctx.settings.timezone,
        limits=sandbox.Limits(time_limit=ctx.settings.expression_time_limit,
                              max_steps=ctx.settings.expression_max_steps),
        helpers=helpers.helpers_for(ctx), actor=ctx.actor.id)
    context.run_decision = partial(decisions_runtime.run_decision, ctx, definition, context)
    context.send_message = partial(_send_message, ctx)
    return context


def _send_message(ctx: Ctx, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    from workflows import messages

    return messages.send_from(ctx, name, payload)


def load(ctx: Ctx, instance_id: str, row: InstanceRecord | None = None) -> Loaded | None:
    """The instance with its workflow restored (from `row` when the caller has just read it)."""
    row = row or instance_rows.load(ctx.session, instance_id)
    if row is None:
        return None
    definition = definitions.info(ctx, row.definition_id)
    if definition is None:
        raise NotFoundError(f"The definition {row.definition_id} of instance {instance_id} is missing.")
    bundle = definitions.bundle_for(ctx, definition)
    engine = engine_context(ctx, definition)
    workflow = runner.attach(load_state(row.engine_state, bundle), bundle, engine)
    failed = {k: dict(v) for k, v in (row.projection or {}).get("failed", {}).items()}
    return Loaded(row, definition, bundle, workflow, engine, failed)


def run_command(ctx: Ctx, instance_id: str, action: Callable[[Loaded], T], *, allow_suspended: bool = False,
                row: InstanceRecord | None = None) -> T:
    """Load the instance, apply `action` to it, let the engine run, and save everything in one go."""
    if instance_id in ctx.busy:
        raise ConflictError(f"Process instance {instance_id} is already being changed in this command.")
    loaded = load(ctx, instance_id, row)
    if loaded is None:
        raise NotFoundError(f"Process instance {instance_id} does not exist.")
    state = InstanceState(loaded.row.state)
    if not state.is_running:
        raise ConflictError(f"Process instance {instance_id} is {state.value}.")
    if state is InstanceState.SUSPENDED and not allow_suspended:
        raise ConflictError(f"Process instance {instance_id} is suspended.")
    ctx.busy.add(instance_id)
    try:
        result = action(loaded)
        settle(ctx, loaded)
    finally:
        ctx.busy.discard(instance_id)
    return result


def open_task_ids(loaded: Loaded) -> list[str]:
    """The instance's open user tasks after a command (from the projection summary it just wrote)."""
    return list((loaded.row.projection or {}).get("human", []))


def create(ctx: Ctx, definition: schema.ProcessDefinition, *, business_key: str | None,
           start_variables: dict[str, Any], super_instance: tuple[str, str] | None = None,
           start_events: list[str] | None = None) -> Loaded:
    """Create a new instance row and its workflow (started at `start_events` when given), then run it to its
    first wait states."""
    info = definitions.info_of(definition)
    bundle = definitions.bundle_for(ctx, info)
    engine = engine_context(ctx, info)
    workflow = runner.new_workflow(bundle, engine, start_variables, start_events=start_events)
    now = ctx.now()
    row = InstanceRecord(
        id=str(uuid.uuid4()), definition_id=definition.id, definition_key=definition.key,
        business_key=business_key, tenant_id=definition.tenant_id, state=InstanceState.ACTIVE, revision=1,
        started_at=now, started_by=ctx.actor.id, ended_at=None, end_reason=None, last_activity_at=now,
        super_instance_id=super_instance[0] if super_instance else None,
        super_task_id=super_instance[1] if super_instance else None, open_incidents=0, projection={},
        serializer_version=SERIALIZER_VERSION, engine_state="")
    loaded = Loaded(row, info, bundle, workflow, engine, {})
    engine.record("instance_started", definition_id=definition.id, business_key=business_key,
                  variables=sorted(start_variables), super_instance_id=row.super_instance_id)
    ctx.busy.add(row.id)
    try:
        settle(ctx, loaded)
    finally:
        ctx.busy.discard(row.id)
    return loaded


def settle(ctx: Ctx, loaded: Loaded) -> None:
    """Run the engine to its wait states, then write state, projections, incidents and history."""
    for _ in range(runner.MAX_STEPS_PER_COMMAND):
        outcome = runner.advance(loaded.workflow, loaded.bundle, jobs.blocked(loaded))
        loaded.workflow = outcome.workflow
        for failure in outcome.failures:
            jobs.record_failure(ctx, loaded, failure)
        if not _start_called_instances(ctx, loaded):
            break
    jobs.tidy(ctx, loaded)
    runner.finish(loaded.workflow)
    outbound = runner.outbound_events(loaded.workflow)
    cancelled_calls = [e["child_instance_id"] for e in loaded.engine.events if e.get("kind") == "call_cancelled"]
    _write(ctx, loaded)
    _broadcast(ctx, loaded, outbound)
    _end_called_instances(ctx, cancelled_calls)


def _write(ctx: Ctx, loaded: Loaded) -> None:
    row = loaded.row
    completed = runner.is_completed(loaded.workflow)
    current = variables.of(loaded.workflow)
    row.engine_state = dump_state(loaded.workflow)
    row.last_activity_at = ctx.now()
    row.projection, writes = projections.plan(ctx, loaded, current, ended=completed)
    if completed:
        row.state = check_instance_transition(row.state, InstanceState.COMPLETED)
        row.ended_at = ctx.now()
        loaded.engine.record("instance_completed")
    statements = [instance_rows.save_statement(ctx.dialect, row), *writes.statements]
    history = _history(ctx, loaded)
    if history is not None:
        statements.append(history)
    if not fastsql.run(ctx.session, statements):  # the revision check first: a loser's transaction rolls back
        raise instance_rows.conflict(row)
    instance_rows.saved(row)
    for write in loaded.after_save:
        write()
    loaded.after_save.clear()
    if completed and row.super_instance_id and row.super_instance_id not in ctx.busy:
        from workflows import instances

        instances.resume_caller(ctx.as_system(), row, current)


def _end_called_instances(ctx: Ctx, child_ids: list[str]) -> None:
    """A call activity was cancelled (interrupting boundary event, terminate end event): its called instance ends
    too, terminated internally (Camunda: INTERNALLY_TERMINATED)."""
    from workflows import instances

    for child_id in child_ids:
        instances.terminate(ctx.as_system(), child_id, reason="Call activity cancelled", internal=True,
                            if_running=True)


def _broadcast(ctx: Ctx, loaded: Loaded, outbound: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Signals are global (Camunda 7): a thrown one goes to every other instance waiting for it (this one has
    caught it already, if it waits for it) and starts every process with a signal start event for it. Messages
    that leave the instance were delivered during their step already (messages.send_from)."""
    from workflows import messages

    for kind, name, payload in outbound:
        if kind == "signal":
            messages.throw_signal(ctx, name, payload, exclude={loaded.id})
        else:
            audit.record(ctx, f"{kind}_thrown", instance_id=loaded.id, definition_key=loaded.definition.key,
                         details={"name": name, "caught": False})


def _history(ctx: Ctx, loaded: Loaded) -> fastsql.Statement | None:
    events = loaded.engine.events
    statement = audit.statement_for(ctx, [{
        "kind": event.pop("kind"), "instance_id": loaded.id, "definition_key": loaded.definition.key,
        "element_id": event.get("element_id"), "task_id": event.get("task_id"), "details": event,
        "actor": event.pop("actor", loaded.engine.actor),
    } for event in events])
    events.clear()
    return statement


# --- call activities (Camunda: a separate child instance) --------------------------------------------------


def _start_called_instances(ctx: Ctx, loaded: Loaded) -> bool:
    """Start child instances for waiting call activities; True if a child finished at once."""
    finished_any = False
    blocked = jobs.blocked(loaded)
    for task in runner.calls_to_start(loaded.workflow):
        if str(task.id) not in blocked:
            finished_any |= _start_child(ctx, loaded, task)
    return finished_any


def _start_child(ctx: Ctx, loaded: Loaded, task: EngineTask) -> bool:
    from workflows import instances

    try:
        definition, business_key, child_variables = instances.call_inputs(ctx, loaded, task)
        child = create(ctx.as_system(), definition, business_key=business_key, start_variables=child_variables,
                       super_instance=(loaded.id, str(task.id)), start_events=instances.plain_start_events(definition))
    except Exception as error:  # a broken call must not lose the caller's progress: retry it, then an incident
        jobs.record_failure(ctx, loaded, runner.failure_of(task, error))
        return False
    runner.note_child(task, child.id)
    if child.row.state != InstanceState.COMPLETED:
        return False
    instances.complete_call_activity(loaded, task, variables.of(child.workflow))
    return True


def find_task(loaded: Loaded, task_id: str) -> EngineTask:
    task = runner.find_task(loaded.workflow, task_id)
    if task is None:
        raise NotFoundError(f"Task {task_id} does not exist in process instance {loaded.id}.")
    return task

