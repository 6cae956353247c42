"""Message correlation and signals, with Camunda 7's rules.

A message is correlated by name plus business key and/or correlation keys (process variables that must be
equal). Without `all`, exactly one target must match — a waiting instance or a message start event — and the
error says whether none or several did. Signals go to every instance waiting for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from workflows import audit, execution, instances, schema, variables
from workflows.context import Ctx
from workflows.engine import events, runner
from workflows.errors import InvalidInputError, NotFoundError
from workflows.states import InstanceState

MS = schema.MessageSubscription


class CorrelationError(InvalidInputError):
    """No target or several targets match a message (Camunda's MismatchingMessageCorrelationException)."""

    code = "mismatching_correlation"

    def __init__(self, message: str, *, targets: int = 0):
        super().__init__(message)
        self.targets = targets


@dataclass(frozen=True)
class CorrelationResult:
    kind: str  # "Execution" or "ProcessDefinition"
    instance_id: str
    definition_id: str | None = None


def correlate(ctx: Ctx, name: str, *, business_key: str | None = None,
              correlation_keys: Mapping[str, Any] | None = None, process_variables: Mapping[str, Any] | None = None,
              all_targets: bool = False, instance_id: str | None = None) -> list[CorrelationResult]:
    """Deliver to the waiting instances (and start events) that match; `instance_id` narrows to one instance."""
    if not name:
        raise InvalidInputError("messageName is required.")
    subscriptions = _matching_subscriptions(ctx, name, business_key, correlation_keys or {}, instance_id)
    starts = _matching_start_definitions(ctx, name) if not correlation_keys and instance_id is None else []
    total = len(subscriptions) + len(starts)
    if total == 0 and not all_targets:  # correlating to all of none is fine in Camunda
        raise CorrelationError(f"Cannot correlate message '{name}': No process definition or execution matches the "
                               "parameters.", targets=0)
    if not all_targets and total > 1:
        raise CorrelationError(f"Cannot correlate message '{name}': {total} targets (executions or start events) "
                               "match the parameters; correlate with all=true or narrow it down.", targets=total)
    payload = dict(process_variables or {})
    results = [_deliver(ctx, sub, name, payload) for sub in _one_per_task(subscriptions)]
    for definition in starts:
        results.append(_start_by_message(ctx, definition, name, business_key, payload))
    return results


def _matching_subscriptions(ctx: Ctx, name: str, business_key: str | None, correlation_keys: Mapping[str, Any],
                            instance_id: str | None = None) -> list[schema.MessageSubscription]:
    active = sa.select(schema.ProcessInstance.id).where(schema.ProcessInstance.state == InstanceState.ACTIVE)
    query = sa.select(MS).where(MS.event_type == "message", MS.name == name, MS.instance_id.in_(active))
    if business_key is not None:
        query = query.where(MS.business_key == business_key)
    if instance_id is not None:
        query = query.where(MS.instance_id == instance_id)
    for key, value in correlation_keys.items():
        query = query.where(MS.instance_id.in_(_instances_with_variable(key, value)))
    return list(ctx.session.scalars(query.order_by(MS.created_at, MS.id)))


def _instances_with_variable(name: str, value: Any) -> Any:
    model = schema.ProcessVariable
    query = sa.select(model.instance_id).where(model.name == name)
    if value is None:
        return query.where(model.type == "Null")
    kind = variables.camunda_type(value)
    kinds = ["Integer", "Long"] if kind in ("Integer", "Long") else [kind]  # a number matches whatever its width
    return query.where(model.text_value == variables.text_of(value), model.type.in_(kinds))


def _one_per_task(subscriptions: list[schema.MessageSubscription]) -> list[schema.MessageSubscription]:
    seen, unique = set(), []
    for sub in subscriptions:
        key = (sub.instance_id, sub.task_id or sub.element_id)
        if key not in seen:
            seen.add(key)
            unique.append(sub)
    return unique


def _matching_start_definitions(ctx: Ctx, name: str, kind: str = "message") -> list[schema.ProcessDefinition]:
    latest = sa.select(schema.ProcessDefinition.key, sa.func.max(schema.ProcessDefinition.version).label("v")) \
        .group_by(schema.ProcessDefinition.key).subquery()
    query = sa.select(schema.ProcessDefinition).join(
        latest, sa.and_(schema.ProcessDefinition.key == latest.c.key, schema.ProcessDefinition.version == latest.c.v))
    return [d for d in ctx.session.scalars(query)
            if any(e.get("kind") == kind and e.get("name") == name for e in d.start_events or [])]


def _deliver(ctx: Ctx, sub: schema.MessageSubscription, name: str, payload: dict[str, Any]) -> CorrelationResult:
    def catch(loaded: execution.Loaded) -> None:
        if sub.task_id:
            task = runner.find_task(loaded.workflow, sub.task_id)
            if task is None:
                raise NotFoundError(f"The waiting event of subscription {sub.id} is gone.")
            events.deliver_message(task, name, payload)
        else:
            events.broadcast(loaded.workflow, "message", name, payload)
        loaded.engine.record("message_correlated", element_id=sub.element_id, task_id=sub.task_id, message=name,
                             variables=sorted(payload))

    execution.run_command(ctx, sub.instance_id, catch)
    return CorrelationResult("Execution", sub.instance_id)


def _start_by_message(ctx: Ctx, definition: schema.ProcessDefinition, name: str, business_key: str | None,
                      payload: dict[str, Any]) -> CorrelationResult:
    started = _start_by_event(ctx, definition, "message", name, business_key, payload)
    audit.record(ctx, "message_correlated", instance_id=started, definition_key=definition.key,
                 details={"message": name, "start_event": True, "variables": sorted(payload)})
    return CorrelationResult("ProcessDefinition", started, definition.id)


def _start_by_event(ctx: Ctx, definition: schema.ProcessDefinition, kind: str, name: str, business_key: str | None,
                    payload: dict[str, Any]) -> str:
    """Start an instance and hand the event to its start event; returns the new instance's id."""
    element = next(e["element_id"] for e in definition.start_events or []
                   if e.get("kind") == kind and e.get("name") == name)
    started = instances.start(ctx, definition_id=definition.id, business_key=business_key, variables_in=payload,
                              start_event=element)

    def catch(loaded: execution.Loaded) -> None:
        events.broadcast(loaded.workflow, kind, name, payload)

    if _still_waiting_for(ctx, started.id, name):
        execution.run_command(ctx, started.id, catch)
    return started.id


def _still_waiting_for(ctx: Ctx, instance_id: str, name: str) -> bool:
    query = sa.select(sa.func.count()).select_from(MS).where(MS.instance_id == instance_id, MS.name == name)
    return bool(ctx.session.scalar(query))


def throw_signal(ctx: Ctx, name: str, variables_in: Mapping[str, Any] | None = None, *,
                 exclude: set[str] | frozenset[str] = frozenset()) -> int:
    """Deliver a signal to every instance waiting for it and start every process with a signal start event for it
    (latest versions); returns how many instances caught it."""
    query = sa.select(MS.instance_id).where(MS.event_type == "signal", MS.name == name).distinct()
    caught = 0
    for instance_id in list(ctx.session.scalars(query)):
        if instance_id in exclude or instance_id in ctx.busy:
            continue
        def catch(loaded: execution.Loaded) -> None:
            events.broadcast(loaded.workflow, "signal", name, dict(variables_in or {}))

        execution.run_command(ctx, instance_id, catch)
        caught += 1
    for definition in _matching_start_definitions(ctx, name, "signal"):
        _start_by_event(ctx.as_system(), definition, "signal", name, None, dict(variables_in or {}))
        caught += 1
    audit.record(ctx, "signal_thrown", details={"signal": name, "instances": caught})
    return caught


def send_from(ctx: Ctx, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Deliver a message a case threw, while its step runs: to the case its `businessKey` names, or to the
    process that starts on it. Carries only the variables the throw event lists (engine.events). Returns what
    the thrower's audit event records.

    A message addressed to a case (with a businessKey) that no case waits for makes the step fail: it is retried
    and then becomes an incident, so that a referral or a report back never vanishes. A message without address
    and without any receiver is only recorded, as Camunda 7 does nothing for a throw event without
    implementation.
    """
    from workflows.engine.scripting import StepError

    business_key, variables = payload.get("business_key"), dict(payload.get("variables") or {})
    details = {"business_key": business_key, "variables": sorted(variables)}
    try:
        results = correlate(ctx.as_system(), name, business_key=business_key, process_variables=variables)
    except CorrelationError as error:
        if error.targets == 0 and business_key is None:
            return {**details, "caught": False}
        raise StepError(f"The message '{name}' could not be delivered: {error}",
                        element_id=payload.get("element_id")) from error
    return {**details, "caught": True, "receivers": [r.instance_id for r in results]}
