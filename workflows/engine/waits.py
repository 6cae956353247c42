"""What an instance waits for, in kimflow's own terms: user tasks, external tasks, timers, messages, signals.

The projections are written from these; nothing outside the engine package needs SpiffWorkflow's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import UserTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task

from workflows.engine import runner
from workflows.engine.specs import ExternalTaskSpec, camunda


@dataclass(frozen=True)
class HumanWait:
    task_id: str
    element_id: str
    name: str | None
    info: dict[str, Any]  # assignee, candidates, due, follow-up, priority, form (evaluated at activation)
    properties: dict[str, str]


@dataclass(frozen=True)
class ExternalWait:
    task_id: str
    element_id: str
    topic: str | None
    priority: int
    properties: dict[str, str]


@dataclass(frozen=True)
class TimerWait:
    task_id: str
    element_id: str
    kind: str
    due: str


@dataclass(frozen=True)
class SubscriptionWait:
    event_type: str  # message | signal
    name: str
    element_id: str
    task_id: str | None  # None: an event subprocess start, the whole instance listens


@dataclass
class Waits:
    human: dict[str, HumanWait] = field(default_factory=dict)
    external: dict[str, ExternalWait] = field(default_factory=dict)
    timers: dict[str, TimerWait] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionWait] = field(default_factory=dict)


def collect(workflow: BpmnWorkflow, skip: set[str] | frozenset[str] = frozenset()) -> Waits:
    waits = Waits()
    for task in runner.manual_tasks(workflow):
        task_id = str(task.id)
        if task_id in skip:
            continue
        if isinstance(task.task_spec, UserTask):
            waits.human[task_id] = _human(task)
        elif isinstance(task.task_spec, ExternalTaskSpec):
            waits.external[task_id] = _external(task)
    for task in runner.waiting_events(workflow):
        due = task.internal_data.get("kim_due")
        if due:
            kind = camunda(task.task_spec).get("element_type", "timer")
            waits.timers[str(task.id)] = TimerWait(str(task.id), runner.element_id(task), kind, due)
        for number, definition in enumerate(_definitions(task.task_spec.event_definition)):
            subscription = _subscription(definition, runner.element_id(task), str(task.id))
            if subscription is not None:
                waits.subscriptions[f"{task.id}:{number}"] = subscription
    waits.subscriptions.update(_event_subprocess_starts(workflow))
    return waits


def _human(task: Task) -> HumanWait:
    info = task.internal_data.get("kim_task", {})
    extensions = task.task_spec.extensions or {}
    return HumanWait(str(task.id), runner.element_id(task), info.get("name") or task.task_spec.bpmn_name, info,
                     extensions.get("properties", {}))


def _external(task: Task) -> ExternalWait:
    info = task.internal_data.get("kim_external", {})
    topic = info.get("topic") or camunda(task.task_spec).get("topic")
    properties = (task.task_spec.extensions or {}).get("properties", {})
    return ExternalWait(str(task.id), runner.element_id(task), topic, int(info.get("priority", 0)), properties)


def _definitions(definition: Any) -> list[Any]:
    """An event-based gateway waits for several events at once (a MultipleEventDefinition)."""
    return list(getattr(definition, "event_definitions", None) or [definition])


def _subscription(definition: Any, element_id: str, task_id: str | None) -> SubscriptionWait | None:
    if isinstance(definition, MessageEventDefinition):
        return SubscriptionWait("message", definition.name, element_id, task_id)
    if isinstance(definition, SignalEventDefinition):
        return SubscriptionWait("signal", definition.name, element_id, task_id)
    return None


def _event_subprocess_starts(workflow: BpmnWorkflow) -> dict[str, SubscriptionWait]:
    found = {}
    for name in workflow.spec.start.trigger_specs:
        sub_spec = workflow.subprocess_specs.get(name)
        for start in getattr(sub_spec, "bpmn_start_events", []):
            subscription = _subscription(start.event_definition, start.bpmn_id, None)
            if subscription is not None:
                found[f"start:{start.bpmn_id}"] = subscription
    return found
