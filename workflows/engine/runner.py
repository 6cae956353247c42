"""Drive a SpiffWorkflow workflow one step at a time, with kimflow's activation, isolation and history.

Each automatic step (activation of a READY task, then its run when it is automatic) is isolated: if it fails,
the workflow goes back to the state before that step, the step is blocked until someone retries it, and the
failure is reported so that the runtime records an incident. Everything that happened before the failing step
in the same command stays done.
"""

from __future__ import annotations

import traceback
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.control import (
    BoundaryEventJoin,
    BoundaryEventSplit,
    BpmnStartTask,
    SimpleBpmnTask,
    StartEventJoin,
    StartEventSplit,
    _EndJoin,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    EndEvent,
    EventSubprocess,
    ParallelGateway,
    StartEvent,
    SubWorkflowTask,
    UserTask,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine import events, hooks
from workflows.engine.compaction import compact
from workflows.engine.scripting import EngineContext, ScriptEngine, StepError
from workflows.engine.serializer import SpecBundle, state_from_dict, state_to_dict
from workflows.engine.specs import CallActivitySpec, PassThroughTask, camunda

MAX_STEPS_PER_COMMAND = 10_000
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR

# Spec types whose activation and run evaluate nothing a model author wrote: no snapshot needed.
_SAFE_SPECS = (BpmnStartTask, SimpleBpmnTask, BoundaryEventSplit, BoundaryEventJoin, StartEventSplit,
               StartEventJoin, _EndJoin, ParallelGateway, SubWorkflowTask, StartEvent, EndEvent)


@dataclass
class StepFailure:
    task_id: str
    element_id: str | None
    message: str
    stacktrace: str


@dataclass
class Outcome:
    workflow: BpmnWorkflow
    failures: list[StepFailure] = field(default_factory=list)
    steps: int = 0


def new_workflow(bundle: SpecBundle, context: EngineContext, variables: dict[str, Any], *,
                 start_events: Collection[str] | None = None) -> BpmnWorkflow:
    """A new instance; with `start_events`, it starts at those start events only."""
    hooks.install(bundle)
    workflow = BpmnWorkflow(bundle.spec, dict(bundle.subprocess_specs), script_engine=ScriptEngine(context))
    workflow.task_tree.data.update(variables)
    if start_events is not None:
        _start_only_at(workflow, set(start_events))
    return workflow


def _start_only_at(workflow: BpmnWorkflow, element_ids: set[str]) -> None:
    """Take the other start events out before the instance runs.

    SpiffWorkflow lets all start events of a process race and a none start event wins at once, so a process
    started by its message start event would run its none start event instead. Camunda starts exactly the start
    event that was triggered (and a plain start at the none start event).
    """
    starts = [t for t in workflow.tasks.values() if isinstance(t.task_spec, StartEvent)]
    unknown = element_ids - {element_id(t) for t in starts}
    if unknown:
        raise ValueError(f"The process {workflow.spec.name} has no start event {', '.join(sorted(unknown))}.")
    for task in starts:
        if element_id(task) not in element_ids:
            task.cancel()


def attach(workflow: BpmnWorkflow, bundle: SpecBundle, context: EngineContext) -> BpmnWorkflow:
    hooks.install(bundle)
    workflow.script_engine = ScriptEngine(context)
    return workflow


def advance(workflow: BpmnWorkflow, bundle: SpecBundle, blocked: set[str], *,
            step_limit: int = MAX_STEPS_PER_COMMAND) -> Outcome:
    """Run automatic steps and due timers until only wait states (or blocked steps) are left."""
    outcome = Outcome(workflow)
    context = workflow.script_engine.context
    for _ in range(min(step_limit, MAX_STEPS_PER_COMMAND)):
        task = _next_step(outcome.workflow, blocked) or _next_timer(outcome.workflow, blocked)
        if task is None and _end_scopes_left_to_event_subprocesses(outcome.workflow):
            task = _next_step(outcome.workflow, blocked)
        if task is None:
            _complete_if_idle(outcome.workflow)
            return outcome
        _run_isolated(outcome, bundle, context, task, blocked)
        outcome.steps += 1
    if step_limit < MAX_STEPS_PER_COMMAND:
        return outcome
    raise StepError(f"More than {MAX_STEPS_PER_COMMAND} automatic steps in one command: is there a loop "
                    "without a wait state?", element_id=None)


def _run_isolated(outcome: Outcome, bundle: SpecBundle, context: EngineContext, task: Task,
                  blocked: set[str]) -> None:
    snapshot = None if _is_safe(task) else state_to_dict(outcome.workflow)
    events_before = len(context.events)
    try:
        _step(task)
    except Exception as error:
        if snapshot is None:
            raise
        del context.events[events_before:]
        outcome.workflow = attach(state_from_dict(snapshot, bundle), bundle, context)
        blocked.add(str(task.id))
        outcome.failures.append(failure_of(task, error))


def _step(task: Task) -> None:
    if task.has_state(TaskState.WAITING):
        _check_timer(task)
    elif not hooks.is_activated(task):
        hooks.activate(task)
        if not task.task_spec.manual:
            _run(task)
    else:
        _run(task)
    interrupt_scopes(task.workflow.top_workflow)


def _run(task: Task) -> None:
    outbox = len(task.workflow.top_workflow.bpmn_events)
    task.run()
    events.send_signal_out(task, outbox)
    events.address_message_out(task, outbox)
    _propagate_to_parent_process(task)


def interrupt_scopes(workflow: BpmnWorkflow) -> None:
    """Cancel what runs beside an event subprocess whose interrupting start event just fired."""
    pending = workflow.script_engine.context.interrupts
    while pending:
        event_subprocess = pending.pop(0)
        keep = {t.id for t in event_subprocess} | {t.id for t in _ancestors(event_subprocess)}
        for task in list(event_subprocess.workflow.tasks.values()):
            if task.id not in keep and not task.has_state(TaskState.FINISHED_MASK):
                task.cancel()


def _ancestors(task: Task) -> list[Task]:
    found = []
    parent = task.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def _end_scopes_left_to_event_subprocesses(workflow: BpmnWorkflow) -> bool:
    """A scope whose flow has ended does not wait for event subprocesses nobody started (Camunda ends it)."""
    ended = False
    for join in workflow.get_tasks(state=TaskState.WAITING):
        if not isinstance(join.task_spec, _EndJoin):
            continue
        live = [t for t in join.workflow.tasks.values() if t is not join and t.has_state(_LIVE)]
        if live and all(_untriggered_event_subprocess(t) for t in live):
            for task in live:
                task.cancel()
            join.task_spec._update(join)
            ended = True
    return ended


def _untriggered_event_subprocess(task: Task) -> bool:
    """An event subprocess whose start events still wait: nothing of it has begun."""
    subprocess = task.workflow.top_workflow.subprocesses.get(task.id)
    if not isinstance(task.task_spec, EventSubprocess) or subprocess is None:
        return False
    return all(isinstance(t.task_spec, StartEvent) and t.has_state(TaskState.WAITING)
               for t in subprocess.tasks.values() if t.has_state(_LIVE))


def _complete_if_idle(workflow: BpmnWorkflow) -> None:
    """No token left means the process has ended (an interrupting event subprocess ends without the End task)."""
    if workflow.completed or any(t.has_state(TaskState.NOT_FINISHED_MASK | TaskState.ERROR)
                                 for t in workflow.tasks.values()):
        return
    workflow._mark_complete(workflow.last_task or workflow.task_tree)
    workflow.completed_event(workflow)


def _check_timer(task: Task) -> None:
    """Re-check a waiting timer against the command's clock; a broken timer expression becomes an incident."""
    error = task.internal_data.pop("kim_timer_error", None)
    if error is not None:
        raise StepError(f"Timer of {element_id(task)}: {error}", element_id=element_id(task), task_id=str(task.id))
    due = task.internal_data.get("kim_due")
    task.task_spec._update(task)
    if not task.has_state(TaskState.WAITING) or task.internal_data.get("kim_due") != due:
        context = task.workflow.script_engine.context
        context.record("timer_fired", element_id=element_id(task), task_id=str(task.id), due=due,
                       fired_at=context.now.isoformat())
    error = task.internal_data.pop("kim_timer_error", None)
    if error is not None:
        raise StepError(f"Timer of {element_id(task)}: {error}", element_id=element_id(task), task_id=str(task.id))


def _propagate_to_parent_process(task: Task) -> None:
    parent_id = getattr(task.workflow, "parent_task_id", None)
    while parent_id is not None:
        top = task.workflow.top_workflow
        parent = top.get_task_from_id(parent_id)
        if not parent.has_state(TaskState.FINISHED_MASK):
            parent.task_spec._update(parent)
        parent_id = getattr(parent.workflow, "parent_task_id", None)
        task = parent


def failure_of(task: Task, error: Exception) -> StepFailure:
    element = getattr(error, "element_id", None) or getattr(task.task_spec, "bpmn_id", None)
    message = str(error) or error.__class__.__name__
    return StepFailure(str(task.id), element, message, "".join(traceback.format_exception(error)))


def _is_safe(task: Task) -> bool:
    """Steps that evaluate nothing a model author wrote cannot fail: they need no snapshot."""
    spec = task.task_spec
    if task.has_state(TaskState.WAITING) or hooks.has_model_code(spec):
        return False
    if type(spec) is PassThroughTask or isinstance(spec, _SAFE_SPECS):
        return True
    return isinstance(spec, UserTask) and not hooks.is_activated(task) and not hooks.has_expressions(spec)


def _workflows(workflow: BpmnWorkflow) -> Iterator[Any]:
    """The top workflow; its task iterator descends into subprocesses by itself."""
    yield workflow


def _next_step(workflow: BpmnWorkflow, blocked: set[str]) -> Task | None:
    for wf in _workflows(workflow):
        for task in wf.get_tasks(state=TaskState.READY):
            if str(task.id) in blocked:
                continue
            if not hooks.is_activated(task) or not task.task_spec.manual:
                return task
    return None


def _next_timer(workflow: BpmnWorkflow, blocked: set[str]) -> Task | None:
    """A waiting timer whose due time has come (by the command's clock)."""
    now = workflow.script_engine.now().isoformat()
    for task in list(workflow.event_manager.tasks.values()):
        if str(task.id) in blocked or not task.has_state(TaskState.WAITING):
            continue
        if "kim_timer_error" in task.internal_data:
            return task
        due = task.internal_data.get("kim_due")
        if due is None and hooks.is_timer(task) and not task.internal_data.get("event_fired"):
            return task
        if due is not None and due <= now:
            return task
    return None


def complete_task(workflow: BpmnWorkflow, task: Task, variables: dict[str, Any]) -> None:
    """Complete a waiting (manual) task with the given variables; errors propagate to the caller."""
    task.data.update(variables)
    task.run()
    _propagate_to_parent_process(task)
    interrupt_scopes(workflow)


def finish(workflow: BpmnWorkflow) -> BpmnWorkflow:
    compact(workflow)
    return workflow


def is_completed(workflow: BpmnWorkflow) -> bool:
    return bool(workflow.completed)


def manual_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    """READY tasks that wait for someone outside the engine (users, workers, child instances)."""
    for wf in _workflows(workflow):
        for task in wf.get_tasks(state=TaskState.READY):
            if task.task_spec.manual and hooks.is_activated(task):
                yield task


def calls_to_start(workflow: BpmnWorkflow) -> list[Task]:
    """Call activities that are ready and have no child instance yet."""
    return [t for t in manual_tasks(workflow)
            if isinstance(t.task_spec, CallActivitySpec) and "kim_child" not in t.internal_data]


def note_child(task: Task, child_instance_id: str) -> None:
    task.internal_data["kim_child"] = child_instance_id


def child_of(task: Task) -> str | None:
    return task.internal_data.get("kim_child")


def is_finished(task: Task) -> bool:
    return task.has_state(TaskState.FINISHED_MASK)


def is_open_manual(task: Task) -> bool:
    return task.has_state(TaskState.READY) and bool(task.task_spec.manual) and hooks.is_activated(task)


def waiting_events(workflow: BpmnWorkflow) -> Iterator[Task]:
    for task in workflow.event_manager.tasks.values():
        if task.has_state(TaskState.WAITING):
            yield task


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    from uuid import UUID

    try:
        key = UUID(task_id)
    except ValueError:
        return None
    if key in workflow.tasks:
        return workflow.tasks[key]
    for subprocess in workflow.subprocesses.values():
        if key in subprocess.tasks:
            return subprocess.tasks[key]
    return None


@dataclass(frozen=True)
class ActivityState:
    element_id: str
    element_type: str
    name: str | None
    task_id: str
    state: str  # ready | waiting | started | error
    incident_ids: tuple[str, ...] = ()

    def with_incidents(self, ids: list[str]) -> ActivityState:
        return ActivityState(self.element_id, self.element_type, self.name, self.task_id, self.state, tuple(ids))


_STATE_NAMES = {TaskState.READY: "ready", TaskState.WAITING: "waiting", TaskState.STARTED: "started",
                TaskState.ERROR: "error"}


def active_activities(workflow: BpmnWorkflow) -> list[ActivityState]:
    """Live BPMN activities (SpiffWorkflow's internal tasks left out), subprocess contents included."""
    found = []
    live = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    for task in workflow.get_tasks(state=live):
        attributes = camunda(task.task_spec)
        if "element_type" not in attributes:
            continue
        found.append(ActivityState(element_id(task), attributes["element_type"],
                                   getattr(task.task_spec, "bpmn_name", None), str(task.id),
                                   _STATE_NAMES.get(task.state, "ready")))
    return found


def outbound_events(workflow: BpmnWorkflow) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, payload) of events thrown in this command that leave the instance: every signal (signals
    are global, also when the instance caught its own) and the messages nothing in the instance caught.

    A thrown signal carries no variables: other cases must not receive this case's data (Camunda passes
    variables only when the signal definition maps them with camunda:in).
    """
    found = []
    for event in workflow.get_events():
        definition = event.event_definition
        kind = type(definition).__name__.replace("EventDefinition", "").lower()
        payload = {} if kind == "signal" else dict(event.payload or {})
        found.append((kind, getattr(definition, "name", None) or "", payload))
    return found


def element_id(task: Task) -> str:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


def camunda_of(task: Task) -> dict[str, Any]:
    return camunda(task.task_spec)
