"""Camunda behaviour around each activity: input/output mappings, script listeners and the history record.

Activation (input mappings, `start`/`create` listeners) runs as its own engine step when a task becomes READY,
so that a failure there is isolated to that task. Completion work (`end`/`complete` listeners, output
mappings, the history record) runs inside SpiffWorkflow's completion, before the next tasks take over the data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import EventSubprocess, UserTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

from workflows import sandbox
from workflows.durations import looks_like_duration, parse_datetime, parse_duration
from workflows.engine import data, events, scope
from workflows.engine.specs import TIMER_CLASSES, ExternalTaskSpec, camunda, engine_of, use_up_arrivals

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from workflows.engine.serializer import SpecBundle

_TIMERS = tuple(TIMER_CLASSES.values())
_MISSING = "__kim_missing__"


def install(bundle: SpecBundle) -> None:
    """Connect the completion hooks to every task spec of a bundle, once per process."""
    if getattr(bundle.spec, "_kim_hooks", False):
        return
    for spec in (bundle.spec, *bundle.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            task_spec.completed_event.connect(_on_completed)
            task_spec.cancelled_event.connect(_on_cancelled)
            if events.rearms(task_spec):
                task_spec.update_event.connect(events.rearm_when_fired)
    bundle.spec._kim_hooks = True


def is_activated(task: Task) -> bool:
    return "kim_activated" in task.internal_data


def has_model_code(spec: Any) -> bool:
    attributes = camunda(spec)
    return bool(attributes.get("io") or attributes.get("listeners") or attributes.get("error_message"))


def has_expressions(spec: Any) -> bool:
    """Attribute values that are evaluated when the task is created (names, assignees, dates...)."""
    attributes = camunda(spec)
    texts = [getattr(spec, "bpmn_name", None) or "", *(v for v in attributes.values() if isinstance(v, str))]
    return any(sandbox.is_juel(text) for text in texts) or any(
        k in attributes for k in ("due_date", "follow_up_date", "priority"))


def is_timer(task: Task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), _TIMERS)


def activate(task: Task) -> None:
    """Input mappings and start/create listeners; marks the task as started for the history."""
    context = engine_of(task).context
    task.internal_data["kim_activated"] = context.now.isoformat()
    attributes = camunda(task.task_spec)
    inputs = attributes.get("io", {}).get("inputs", [])
    if inputs:
        previous = {}
        for parameter in inputs:
            name = parameter["name"]
            previous[name] = task.data.get(name, _MISSING)
            task.data[name] = parameter_value(task, parameter["value"])
        task.internal_data["kim_locals"] = previous
        if events.throws_message(task.task_spec):  # what the message carries, before the locals are gone
            task.internal_data["kim_message"] = {p["name"]: task.data[p["name"]] for p in inputs}
    if isinstance(task.task_spec, UserTask):
        task.internal_data["kim_task"] = _user_task_info(task, attributes)
    elif isinstance(task.task_spec, ExternalTaskSpec):
        task.internal_data["kim_external"] = _external_info(task, attributes)
    _run_listeners(task, attributes, ("start", "create"))
    events.prepare_error_end_event(task)


def _user_task_info(task: Task, attributes: dict[str, Any]) -> dict[str, Any]:
    """Evaluate who may work the task, its deadlines, priority and form, once, when it is created."""
    engine = engine_of(task)
    value = engine.evaluate_text
    name = getattr(task.task_spec, "bpmn_name", None)
    info: dict[str, Any] = {
        "name": str(value(task, name)) if name else None,
        "description": getattr(task.task_spec, "documentation", None),
        "assignee": _optional_text(value(task, attributes["assignee"])) if attributes.get("assignee") else None,
        "candidate_groups": _names(value(task, attributes.get("candidate_groups", ""))),
        "candidate_users": _names(value(task, attributes.get("candidate_users", ""))),
        "due": _moment(task, value(task, attributes["due_date"])) if attributes.get("due_date") else None,
        "follow_up": (_moment(task, value(task, attributes["follow_up_date"]))
                      if attributes.get("follow_up_date") else None),
        "priority": int(value(task, attributes["priority"])) if attributes.get("priority") else 50,
    }
    keys = ("form_ref", "form_ref_binding", "form_ref_version", "form_key", "form_data")
    form: dict[str, Any] = {k: attributes[k] for k in keys if k in attributes}
    if form:
        form["element_id"] = getattr(task.task_spec, "bpmn_id", None)
    info["form"] = form or None
    return info


def _external_info(task: Task, attributes: dict[str, Any]) -> dict[str, Any]:
    engine = engine_of(task)
    priority = attributes.get("task_priority")
    return {"topic": str(engine.evaluate_text(task, attributes.get("topic", ""))),
            "priority": int(engine.evaluate_text(task, priority)) if priority else 0}


def _optional_text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _names(value: Any) -> list[str]:
    """Candidate lists: a comma-separated text or a collection, as Camunda accepts both."""
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _moment(task: Task, value: Any) -> str | None:
    """Due and follow-up dates: a date-time, an ISO 8601 date-time, or a duration from now."""
    engine = engine_of(task)
    if value in (None, ""):
        return None
    if isinstance(value, str) and looks_like_duration(value):
        return parse_duration(value).add_to(engine.now(), engine.timezone).isoformat()
    if isinstance(value, datetime | date | str):
        return parse_datetime(value, engine.timezone).isoformat()
    raise ValueError(f"{value!r} is neither a date nor a duration")


def _on_completed(_workflow: Any, task: Task) -> None:
    if isinstance(task.task_spec, UnstructuredJoin):
        use_up_arrivals(task)
    attributes = camunda(task.task_spec)
    if attributes.get("interrupting") and attributes.get("element_type") == "startEvent":
        _note_interrupt(task)
    events.take_error_details(task)
    _run_listeners(task, attributes, ("end", "complete"))
    outputs = attributes.get("io", {}).get("outputs", [])
    values = {p["name"]: parameter_value(task, p["value"]) for p in outputs}
    for name, value in task.internal_data.pop("kim_locals", {}).items():
        if value == _MISSING:
            task.data.pop(name, None)
        else:
            task.data[name] = value
    task.data.update(values)
    _record(task, "completed")
    _share_with_the_process(task)


def _share_with_the_process(task: Task) -> None:
    """Camunda keeps one variable scope per process: a branch that ends hands on what it set (engine.scope)."""
    if scope.terminates(task):
        scope.gather_cancelled_branches(task, data.engine_names(task.workflow.top_workflow))
    elif scope.ends_branch(task):
        scope.share_ended_branch(task, data.engine_names(task.workflow.top_workflow))


def _note_interrupt(task: Task) -> None:
    """An interrupting start event of an event subprocess fired: the enclosing scope must be cancelled."""
    parent_id = getattr(task.workflow, "parent_task_id", None)
    if parent_id is None:
        return
    parent = task.workflow.top_workflow.get_task_from_id(parent_id)
    if isinstance(parent.task_spec, EventSubprocess):
        engine_of(task).context.interrupts.append(parent)


def _on_cancelled(_workflow: Any, task: Task) -> None:
    if task.has_state(TaskState.CANCELLED) and is_activated(task):
        _record(task, "cancelled")
    if task.has_state(TaskState.CANCELLED) and task.internal_data.get("kim_child"):
        engine_of(task).context.record("call_cancelled", element_id=getattr(task.task_spec, "bpmn_id", None),
                                       task_id=str(task.id), child_instance_id=task.internal_data["kim_child"])


def _record(task: Task, state: str) -> None:
    attributes = camunda(task.task_spec)
    if "element_type" not in attributes and not attributes.get("multi_instance"):
        return  # SpiffWorkflow's internal specs are not activities
    element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    element_type = attributes.get("element_type", "multiInstanceBody")
    if "element_type" not in attributes:
        element = f"{element}#multiInstanceBody"
    context = engine_of(task).context
    context.record("activity_end", element_id=element, task_id=str(task.id), state=state,
                   element_type=element_type, element_name=getattr(task.task_spec, "bpmn_name", None),
                   started_at=task.internal_data.get("kim_activated") or task.internal_data.get("kim_seen"),
                   ended_at=context.now.isoformat())


def _run_listeners(task: Task, attributes: dict[str, Any], events: tuple[str, ...]) -> None:
    for listener in attributes.get("listeners", []):
        if listener.get("event") in events and listener.get("script"):
            context = engine_of(task).context
            sandbox.compile_script(listener["script"]).execute(task.data, context.helpers, context.limits)


def parameter_value(task: Task, value: dict[str, Any]) -> Any:
    """Evaluate a Camunda input/output parameter: text or expression, list, map or Python script."""
    kind = value.get("kind")
    if kind == "list":
        return [parameter_value(task, item) for item in value["items"]]
    if kind == "map":
        return {key: parameter_value(task, item) for key, item in value["entries"]}
    engine = engine_of(task)
    if kind == "script":
        return engine.evaluate(task, value["text"])
    return engine.evaluate_text(task, value.get("text", ""))
