"""Deliver BPMN events into a workflow: messages, signals and errors, targeted the way Camunda targets them."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition, SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine.specs import camunda


def deliver_message(task: Task, name: str, payload: dict[str, Any]) -> None:
    """Hand a message to one waiting catch event (intermediate, boundary, receive task)."""
    event = BpmnEvent(MessageEventDefinition(name), payload=dict(payload))
    task.task_spec.catch(task, event)
    task.task_spec._update(task)


def broadcast(workflow: BpmnWorkflow, kind: str, name: str, payload: dict[str, Any]) -> int:
    """Offer a message or signal to the whole instance (event subprocess starts included); returns catches."""
    definition = MessageEventDefinition(name) if kind == "message" else SignalEventDefinition(name)
    event = BpmnEvent(definition, payload=dict(payload))
    caught = workflow.event_manager.catch(event)
    _forget_uncaught(workflow, event)
    return int(caught)


def throw_error(workflow: BpmnWorkflow, task: Task, code: str, message: str | None) -> bool:
    """A BPMN error raised at `task`: its own error boundary events first, then anything that catches it."""
    definition = ErrorEventDefinition(code, code=code)
    for catcher in _boundary_catchers(task, definition):
        event = BpmnEvent(definition, payload=_error_payload(catcher, code, message))
        catcher.task_spec.catch(catcher, event)
        catcher.task_spec._update(catcher)
        return True
    event = BpmnEvent(definition, payload={})
    caught = workflow.event_manager.catch(event)
    _forget_uncaught(workflow, event)
    return bool(caught)


def _boundary_catchers(task: Task, definition: ErrorEventDefinition) -> list[Task]:
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    return [child for child in parent.children
            if isinstance(child.task_spec, BoundaryEvent) and child.has_state(TaskState.WAITING)
            and child.task_spec.event_definition == definition]


def _error_payload(catcher: Task, code: str, message: str | None) -> dict[str, Any]:
    attributes = camunda(catcher.task_spec)
    payload: dict[str, Any] = {}
    if attributes.get("error_code_variable"):
        payload[attributes["error_code_variable"]] = code
    if attributes.get("error_message_variable"):
        payload[attributes["error_message_variable"]] = message
    return payload


def _forget_uncaught(workflow: BpmnWorkflow, event: BpmnEvent) -> None:
    if event in workflow.bpmn_events:
        workflow.bpmn_events.remove(event)
