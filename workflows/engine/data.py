"""Process variables over SpiffWorkflow's per-task data: one map per instance, as Camunda users know it.

SpiffWorkflow keeps data on each task and passes it along the flow. An instance's variables are the data of
its live tasks (merged in the order they last changed), or the final data once it has ended. Updating
variables writes to every live task, so that every branch sees the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine.parser import MI_COLLECTION_PREFIX
from workflows.engine.specs import LOOP_VARIABLES, camunda

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
SPIFF_KEYS = {"data_objects"}


def live_tasks(workflow: BpmnWorkflow) -> list[Task]:
    tasks = [t for t in workflow.tasks.values() if t.has_state(LIVE)]
    for subprocess in workflow.subprocesses.values():
        if not subprocess.completed:
            tasks.extend(t for t in subprocess.tasks.values() if t.has_state(LIVE))
    return sorted(tasks, key=lambda t: t.last_state_change)


def variables_of(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The instance's current variables (hidden engine bookkeeping removed)."""
    if workflow.completed:
        merged = dict(workflow.data)
    else:
        merged = {}
        for task in live_tasks(workflow):
            merged.update(_data_of(task))
    hidden = _hidden_names(workflow)
    return {k: v for k, v in merged.items() if k not in hidden and not k.startswith(MI_COLLECTION_PREFIX)}


def _data_of(task: Task) -> dict[str, Any]:
    """A join waiting for other branches holds old data; the branch that arrived carries the news."""
    if task.has_state(TaskState.WAITING) and isinstance(task.task_spec, Join) and task.parent is not None:
        return {**task.data, **task.parent.data}
    return task.data


def _hidden_names(workflow: BpmnWorkflow) -> set[str]:
    hidden = set(SPIFF_KEYS) | set(LOOP_VARIABLES)
    for spec in workflow.spec.task_specs.values():
        element = camunda(spec).get("multi_instance", {}).get("element_variable")
        if element:
            hidden.add(element)
    return hidden


def update_variables(workflow: BpmnWorkflow, modifications: Mapping[str, Any], deletions: Iterable[str] = ()) -> None:
    """Set and delete variables on every live task of the instance."""
    targets = live_tasks(workflow) or [workflow.task_tree]
    for task in targets:
        task.data.update(modifications)
        for name in deletions:
            task.data.pop(name, None)


def live_task_ids(workflow: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in live_tasks(workflow)}
