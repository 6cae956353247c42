"""Keep engine state flat for cases that run for years.

SpiffWorkflow keeps every finished task in its tree; a Wiedervorlage loop grows the tree (and every step's
cost) without bound and stalls at depth 1000. Finished history belongs in the audit trail, so after every
command kimflow keeps only what the engine still looks at:

- the live tasks (READY, WAITING, STARTED, FUTURE, ERROR) with everything below them (predictions,
  multi-instance children) — untouched;
- the path from the root to each live task, with finished links spliced out of it, except the direct parent
  of every kept task (joins and boundary events inspect `task.parent`; a boundary event's join looks for the
  nearest split among the ancestors, which is that parent) and the tree's root;
- the workflow's `last_task` (a subprocess hands its data back through it);
- the cancelled copies of a parallel or inclusive join that still waits for other branches, with their parents:
  each stands for a branch that has arrived; the join counts them and merges their data when it fires
  (specs.KimParallelGateway).

Finished side branches (earlier loop rounds, cancelled boundary events, joined branches) are dropped, and so
are the subprocesses that hung off dropped tasks.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine.specs import is_pending_arrival

KEEP = TaskState.NOT_FINISHED_MASK | TaskState.ERROR


def compact(workflow: BpmnWorkflow) -> int:
    """Compact the top workflow and all its subprocesses in place; returns the number of tasks removed."""
    removed = _compact_one(workflow)
    for subprocess in list(workflow.subprocesses.values()):
        removed += _compact_one(subprocess)
    return removed + _drop_orphan_subprocesses(workflow)


def _compact_one(workflow: Any) -> int:
    root = workflow.task_tree
    anchors = [t for t in workflow.tasks.values() if t.has_state(KEEP)]
    if workflow.last_task is not None and workflow.last_task.id in workflow.tasks:
        anchors.append(workflow.last_task)
    anchors.extend(_join_arrivals(workflow))
    keep: set[UUID] = {root.id}
    for anchor in anchors:
        keep.update(t.id for t in anchor)  # the anchor and its whole subtree
        keep.update(_path_to_root(anchor))
    removed = _drop(workflow, keep)
    return removed + _splice_chains(workflow, anchors)


def _join_arrivals(workflow: Any) -> list[Task]:
    """Branches that have reached a parallel join which still waits (a copy of it is WAITING)."""
    waiting = {t.task_spec for t in workflow.tasks.values() if t.has_state(TaskState.WAITING)}
    return [t for t in workflow.tasks.values() if t.task_spec in waiting and is_pending_arrival(t)]


def _path_to_root(task: Task) -> list[UUID]:
    path = []
    parent = task.parent
    while parent is not None:
        path.append(parent.id)
        parent = parent.parent
    return path


def _drop(workflow: Any, keep: set[UUID]) -> int:
    doomed = [task_id for task_id in workflow.tasks if task_id not in keep]
    for task_id in doomed:
        del workflow.tasks[task_id]
    for task in workflow.tasks.values():
        if any(child not in keep for child in task._children):
            task._children = [child for child in task._children if child in keep]
    return len(doomed)


def _splice_chains(workflow: Any, anchors: list[Task]) -> int:
    """Remove finished path links that have exactly one child and are nobody's required parent."""
    protected = {workflow.task_tree.id, *(t.id for t in anchors)}
    protected.update(t._parent for t in anchors if t._parent is not None)
    spliced = 0
    for task in list(workflow.tasks.values()):
        if task.id in protected or len(task._children) != 1 or task._parent is None:
            continue
        _splice(workflow, task)
        spliced += 1
    return spliced


def _splice(workflow: Any, task: Task) -> None:
    parent = workflow.tasks[task._parent]
    child = workflow.tasks[task._children[0]]
    parent._children = [child.id if c == task.id else c for c in parent._children]
    child._parent = parent.id
    del workflow.tasks[task.id]


def _drop_orphan_subprocesses(workflow: BpmnWorkflow) -> int:
    """Subprocesses whose calling task was removed are finished history: drop them too."""
    removed = 0
    changed = True
    while changed:
        changed = False
        for task_id in list(workflow.subprocesses):
            if not _task_exists(workflow, task_id):
                removed += len(workflow.subprocesses.pop(task_id).tasks)
                changed = True
    return removed


def _task_exists(workflow: BpmnWorkflow, task_id: UUID) -> bool:
    return task_id in workflow.tasks or any(task_id in sp.tasks for sp in workflow.subprocesses.values())
