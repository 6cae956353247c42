"""Process variables over SpiffWorkflow's per-task data: one map per instance, as Camunda users know it.

SpiffWorkflow keeps data on each task and passes it along the flow. An instance's variables are the data of
its paths — live tasks, and branches waiting at a join — merged in the order they last changed, plus the data
objects; once it has ended, its final data. Updating variables writes to every path, so that every branch sees
the change (workflows.engine.scope shares what a branch sets when it ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine import scope
from workflows.engine.parser import MI_COLLECTION_PREFIX
from workflows.engine.specs import LOOP_VARIABLES, camunda, is_pending_arrival

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
SPIFF_KEYS = {"data_objects", scope.SHARED}


def live_tasks(workflow: BpmnWorkflow) -> list[Task]:
    tasks = [t for t in workflow.tasks.values() if t.has_state(LIVE)]
    for subprocess in workflow.subprocesses.values():
        if not subprocess.completed:
            tasks.extend(t for t in subprocess.tasks.values() if t.has_state(LIVE))
    return sorted(tasks, key=lambda t: t.last_state_change)


def variables_of(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The instance's current variables (engine bookkeeping and multi-instance locals removed)."""
    if workflow.completed:
        merged = dict(workflow.data)
    else:
        merged = {}
        for task in _paths(workflow):
            merged.update(_data_of(task))
    merged.update(data_objects(workflow))
    hidden = engine_names(workflow)
    return {k: v for k, v in merged.items() if k not in hidden and not k.startswith(MI_COLLECTION_PREFIX)}


def _paths(workflow: BpmnWorkflow) -> list[Task]:
    """Live tasks, and the copies of a join that stand for branches which have arrived there."""
    arrived = [t for wf in (workflow, *workflow.subprocesses.values()) if not wf.completed
               for t in wf.tasks.values() if is_pending_arrival(t)]
    return sorted([*live_tasks(workflow), *arrived], key=lambda t: t.last_state_change)


def _data_of(task: Task) -> dict[str, Any]:
    """A join holds old data; the branch that arrived there (its parent) carries the news."""
    if isinstance(task.task_spec, UnstructuredJoin) and task.parent is not None:
        return {**task.data, **task.parent.data}
    return task.data


def data_objects(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The values of the data objects (BPMN dataObject) that have one, of the process and its running subprocesses.

    SpiffWorkflow keeps them beside the task data; for Camunda users (REST, case file) they are variables.
    """
    found: dict[str, Any] = {}
    for wf in (workflow, *(s for s in workflow.subprocesses.values() if not s.completed)):
        found.update({k: v for k, v in wf.data.get("data_objects", {}).items() if v is not None})
    return found


def engine_names(workflow: BpmnWorkflow) -> set[str]:
    """Names that are never process variables: engine bookkeeping, and the locals of every multi-instance
    activity (loop counters, element variable, collection), also those inside subprocesses."""
    hidden = set(SPIFF_KEYS) | set(LOOP_VARIABLES)
    for spec in (workflow.spec, *workflow.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            loop = camunda(task_spec).get("multi_instance")
            if loop:
                hidden.add(MI_COLLECTION_PREFIX + task_spec.name)
                if loop.get("element_variable"):
                    hidden.add(loop["element_variable"])
    return hidden


def update_variables(workflow: BpmnWorkflow, modifications: Mapping[str, Any], deletions: Iterable[str] = ()) -> None:
    """Set and delete variables on every path of the instance, and on the data objects of those names."""
    deletions = list(deletions)
    targets = scope.data_holders(workflow) or [workflow.task_tree]
    for task in targets:
        task.data.update(deepcopy(dict(modifications)))
        task.data.setdefault(scope.SHARED, {}).update(deepcopy(dict(modifications)))  # not a branch's own change
        for name in deletions:
            task.data.pop(name, None)
            task.data.get(scope.SHARED, {}).pop(name, None)
    _update_data_objects(workflow, modifications, deletions)


def _update_data_objects(workflow: BpmnWorkflow, modifications: Mapping[str, Any], deletions: list[str]) -> None:
    for wf in (workflow, *(s for s in workflow.subprocesses.values() if not s.completed)):
        store = wf.data.get("data_objects")
        if store is None:
            continue
        for name in store.keys() & modifications.keys():
            store[name] = deepcopy(modifications[name])
        for name in store.keys() & set(deletions):
            store[name] = None


def task_variables(task: Task) -> dict[str, Any]:
    """The data one task sees, without kimflow's bookkeeping (what a call activity's camunda:in "all" passes)."""
    return {k: v for k, v in task.data.items() if k != scope.SHARED}


def live_task_ids(workflow: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in live_tasks(workflow)}
