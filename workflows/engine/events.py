"""Deliver BPMN events into a workflow: messages, signals and errors, targeted the way Camunda targets them.

Where SpiffWorkflow's events differ from Camunda 7's, the difference is made up here:

- a non-interrupting message or signal boundary event keeps listening while its task is active (SpiffWorkflow's
  fires once per activation): a fresh waiting copy takes the place of each one that catches;
- a thrown signal leaves the instance even when the instance caught it itself (SpiffWorkflow sends out only
  what nothing caught);
- the catcher of a BPMN error gets its code and message in camunda:errorCodeVariable / errorMessageVariable,
  whether an external-task worker reported the error or an error end event threw it.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition, SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent, ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows.engine.specs import camunda, engine_of

ERROR_DETAILS = "__kim_error"  # code and message of a BPMN error, in the payload from thrower to catcher


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
        catcher.task_spec.catch(catcher, BpmnEvent(definition, payload=_error_details(code, message)))
        catcher.task_spec._update(catcher)
        return True
    event = BpmnEvent(definition, payload=_error_details(code, message))
    caught = workflow.event_manager.catch(event)
    _forget_uncaught(workflow, event)
    return bool(caught)


def prepare_error_end_event(task: Task) -> None:
    """Give the error an error end event throws its code and evaluated camunda:errorMessage.

    SpiffWorkflow throws the end event's data as the payload; the details ride along until the catcher takes
    them (see `take_error_details`).
    """
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(task.task_spec, ThrowingEvent) or not isinstance(definition, ErrorEventDefinition):
        return
    text = camunda(task.task_spec).get("error_message")
    message = engine_of(task).evaluate_text(task, text) if text else None
    task.data.update(_error_details(definition.code, None if message is None else str(message)))


def take_error_details(task: Task) -> None:
    """When a task completes: the catcher of an error sets camunda:errorCodeVariable and errorMessageVariable;
    the details go no further (the thrower drops them too)."""
    error = task.data.pop(ERROR_DETAILS, None)
    if error is None or not isinstance(task.task_spec, CatchingEvent):
        return
    attributes = camunda(task.task_spec)
    if attributes.get("error_code_variable"):
        task.data[attributes["error_code_variable"]] = error["code"]
    if attributes.get("error_message_variable"):
        task.data[attributes["error_message_variable"]] = error["message"]


def _error_details(code: str | None, message: str | None) -> dict[str, Any]:
    return {ERROR_DETAILS: {"code": code, "message": message}}


def send_signal_out(task: Task, outbox_before: int) -> None:
    """Signals are global: one the instance caught itself still leaves it, for the other instances (Camunda 7).

    SpiffWorkflow puts only uncaught events in the workflow's outbox; `outbox_before` is its length before
    `task` ran.
    """
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(task.task_spec, ThrowingEvent) or not isinstance(definition, SignalEventDefinition):
        return
    outbox = task.workflow.top_workflow.bpmn_events
    if not any(event.event_definition == definition for event in outbox[outbox_before:]):
        outbox.append(BpmnEvent(definition, payload={}))


BUSINESS_KEY_PARAMETER = "businessKey"


def throws_message(spec: Any) -> bool:
    return isinstance(spec, ThrowingEvent) and isinstance(getattr(spec, "event_definition", None),
                                                          MessageEventDefinition)


def address_message_out(task: Task, outbox_before: int) -> None:
    """A message that leaves the instance carries exactly the throw event's input parameters (kimflow).

    The process owner lists in camunda:inputOutput what the receiving procedure may learn (a referral carries
    only what the consent covers); an input parameter `businessKey` names the receiving case. Nothing else of
    the case's data travels.
    """
    if not throws_message(task.task_spec):
        return
    definition = task.task_spec.event_definition
    values = dict(task.internal_data.pop("kim_message", {}))  # the input parameters, kept by hooks.activate
    payload = {"business_key": values.pop(BUSINESS_KEY_PARAMETER, None), "variables": values,
               "element_id": getattr(task.task_spec, "bpmn_id", None)}
    outbox = task.workflow.top_workflow.bpmn_events
    send = engine_of(task).context.send_message
    for event in [e for e in outbox[outbox_before:] if e.event_definition == definition]:
        if send is None:  # no runtime around (engine-only tests): the message stays in the outbox
            event.payload = payload
            continue
        delivery = send(definition.name, payload)  # in this step: if it cannot be delivered, the step fails
        outbox.remove(event)
        engine_of(task).context.record("message_thrown", element_id=payload["element_id"], task_id=str(task.id),
                                       name=definition.name, **delivery)


def _boundary_catchers(task: Task, definition: ErrorEventDefinition) -> list[Task]:
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return []
    return [child for child in parent.children
            if isinstance(child.task_spec, BoundaryEvent) and child.has_state(TaskState.WAITING)
            and child.task_spec.event_definition == definition]


def _forget_uncaught(workflow: BpmnWorkflow, event: BpmnEvent) -> None:
    if event in workflow.bpmn_events:
        workflow.bpmn_events.remove(event)


# --- non-interrupting boundary events fire each time -------------------------------------------------------

_REARMING = (MessageEventDefinition, SignalEventDefinition)


def rearms(spec: Any) -> bool:
    """A non-interrupting message or signal boundary event: it catches every event while its task is active."""
    return (isinstance(spec, BoundaryEvent) and not spec.cancel_activity
            and isinstance(spec.event_definition, _REARMING))


def rearm_when_fired(_workflow: Any, boundary: Task) -> None:
    """Put a fresh waiting copy in place of a boundary event that has just caught its event.

    Connected to the spec's update signal, which SpiffWorkflow emits right after a catch and before the event
    becomes READY: so the copy listens at once, also for a second event thrown within the same command.
    """
    if not boundary.has_state(TaskState.WAITING) or not boundary.internal_data.get("event_fired"):
        return
    split = boundary.parent
    if split is not None and _attached_task_active(split):
        fresh = split._add_child(boundary.task_spec, TaskState.WAITING)
        fresh._sync_children(_flow_targets(boundary.task_spec), TaskState.MAYBE)
        fresh.task_spec._update(fresh)
    for child in list(boundary.children):
        if isinstance(child.task_spec, BoundaryEventJoin):
            boundary.workflow._remove_task(child.id)  # the task's own join ends the scope; this one would pile up


def _attached_task_active(split: Task) -> bool:
    return any(not isinstance(child.task_spec, BoundaryEvent) and not child.has_state(TaskState.FINISHED_MASK)
               for child in split.children)


def _flow_targets(spec: Any) -> list[Any]:
    return [output for output in spec.outputs if not isinstance(output, BoundaryEventJoin)]
