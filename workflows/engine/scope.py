"""Camunda's one variable scope per process, over SpiffWorkflow's data per task.

In Camunda 7 a variable set anywhere in a process (outside a local input mapping or a multi-instance element)
is a process variable that every path sees. SpiffWorkflow copies data along the flow instead: what a branch sets
stays on that branch, and a scope that ends hands back the data of one branch. kimflow shares at the two moments
where a branch's data would otherwise stay out of sight or be lost:

- a branch ends while other paths go on (a path after a non-interrupting boundary event, a non-interrupting
  event subprocess, parallel branches that end apart): what it changed is written to every other path;
- a terminate end event ends a scope: what the branches it cancels had changed comes along with its data.

What a branch changed is what differs from the data at the fork where it parted from the other path (their
nearest common ancestor; compaction keeps every fork that still has two live sides), except values it only
received by sharing. Where both paths changed a variable, the branch that ends wins: its end is the later event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine.specs import is_pending_arrival

SHARED = "_kim_shared"  # in task data: values a path received by sharing (not its own changes)
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_MISSING = object()


def ends_branch(task: Task) -> bool:
    """The task leads straight to the end of its scope (an end event, a finished event subprocess)."""
    return any(isinstance(spec, _EndJoin) for spec in task.task_spec.outputs) and not terminates(task)


def terminates(task: Task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TerminateEventDefinition)


def share_ended_branch(task: Task, local_names: Iterable[str] = ()) -> None:
    """Write what the ended branch changed to every other path of the instance."""
    for holder in data_holders(task.workflow.top_workflow):
        fork = _fork(task, holder)
        if fork is None or fork is holder:
            continue
        for name, value in changes(task, fork, local_names).items():
            holder.data[name] = deepcopy(value)
            holder.data.setdefault(SHARED, {})[name] = deepcopy(value)


def gather_cancelled_branches(task: Task, local_names: Iterable[str] = ()) -> None:
    """A terminate end event ends its scope: keep what the other paths of the scope had changed."""
    others = sorted((h for h in data_holders(task.workflow) if h is not task), key=lambda h: h.last_state_change)
    for holder in others:
        fork = _fork(task, holder)
        if fork is None or fork is holder:
            continue
        own = changes(task, fork, local_names)
        for name, value in changes(holder, fork, local_names).items():
            if name not in own:
                task.data[name] = deepcopy(value)


def changes(task: Task, fork: Task, local_names: Iterable[str] = ()) -> dict[str, Any]:
    """Values on `task` that differ from those at `fork` and did not come by sharing."""
    received = task.data.get(SHARED, {})
    hidden = {SHARED, *local_names}
    return {name: value for name, value in task.data.items()
            if name not in hidden and fork.data.get(name, _MISSING) != value
            and received.get(name, _MISSING) != value}


def data_holders(workflow: Any) -> list[Task]:
    """Where each path of the workflow (and of its subprocesses) keeps its data.

    A live task keeps its own. A waiting event or join takes its parent's data again whenever it is updated, and
    a branch that has arrived at a join hands over its parent's data when the join fires: there the parent holds
    the data too.
    """
    holders: dict[Any, Task] = {}
    for task in _tasks(workflow):
        if task.has_state(LIVE) and not isinstance(task.task_spec, UnstructuredJoin):
            holders[task.id] = task
        if (task.has_state(TaskState.WAITING) or is_pending_arrival(task)) and task.parent is not None:
            holders[task.parent.id] = task.parent
    return list(holders.values())


def _tasks(workflow: Any) -> Iterator[Task]:
    top = workflow.top_workflow
    for scope in (top, *top.subprocesses.values()):
        if not scope.completed and _within(scope, workflow):
            yield from scope.tasks.values()


def _within(scope: Any, workflow: Any) -> bool:
    while scope is not None:
        if scope is workflow:
            return True
        scope = scope.parent_workflow
    return False


def _fork(task: Task, other: Task) -> Task | None:
    """The nearest common ancestor of two tasks, across subprocess boundaries."""
    seen = {ancestor.id for ancestor in _lineage(task)}
    return next((ancestor for ancestor in _lineage(other) if ancestor.id in seen), None)


def _lineage(task: Task) -> Iterator[Task]:
    """The task and its ancestors; a subprocess's root continues with the task that runs the subprocess."""
    current: Task | None = task
    while current is not None:
        yield current
        if current.parent is not None:
            current = current.parent
        else:
            parent_id = getattr(current.workflow, "parent_task_id", None)
            current = current.workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
