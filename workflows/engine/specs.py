"""kimflow's own task specs and event definitions, where Camunda 7 semantics differ from SpiffWorkflow's.

Everything else stays SpiffWorkflow's; Camunda attributes live in `spec.extensions["camunda"]`.
Specs reach the per-command context (clock, decisions, settings) only through
`my_task.workflow.script_engine`, which the runner sets on every workflow it loads.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import (
    InclusiveGateway,
    ParallelGateway,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from workflows.durations import parse_cycle, parse_datetime, parse_duration

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from workflows.engine.scripting import ScriptEngine

LOOP_VARIABLES = ("loopCounter", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances")


def engine_of(my_task: Task) -> ScriptEngine:
    return my_task.workflow.script_engine


def camunda(spec: Any) -> dict[str, Any]:
    """The Camunda attributes kimflow read for a task spec (empty for Spiff's internal specs)."""
    extensions = getattr(spec, "extensions", None) or {}
    return extensions.get("camunda", {})


# --- tasks -------------------------------------------------------------------------------------------------


class PassThroughTask(BpmnSpecMixin):
    """An activity that runs at once: manual and undefined tasks, as in Camunda 7 (SpiffWorkflow waits)."""


class ExternalTaskSpec(PassThroughTask):
    """A service/send/business-rule task with camunda:type="external": waits for an outside worker."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True


class CallActivitySpec(PassThroughTask):
    """A call activity: waits while a separate child instance (Camunda semantics) runs to its end."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True


class DecisionTaskSpec(PassThroughTask):
    """A business rule task with camunda:decisionRef, evaluated by kimflow's DMN engine."""

    def _run_hook(self, my_task: Task) -> Any:
        engine_of(my_task).run_decision(my_task, camunda(self))
        return super()._run_hook(my_task)


class _CamundaMultiInstance:
    """Camunda's multi-instance: collection + elementVariable or cardinality, loop counters, no output list.

    The element variable and loop counters are local to each instance: they are not merged back.
    """

    name: str

    def _camunda_loop(self) -> dict[str, Any]:
        return camunda(self).get("multi_instance", {})

    def _update_hook(self, my_task: Task) -> Any:
        engine_of(my_task).prepare_multi_instance(my_task, self._camunda_loop())
        return super()._update_hook(my_task)  # type: ignore[misc]

    def create_child(self, my_task: Task, item: Any, key_or_index: Any = None) -> None:
        super().create_child(my_task, item, key_or_index)  # type: ignore[misc]
        child = my_task.children[-1]
        child.data["loopCounter"] = len(list(self._instances(my_task))) - 1  # type: ignore[attr-defined]

    def merge_child(self, workflow: Any, child: Task) -> None:
        element = self._camunda_loop().get("element_variable")
        for name in (*LOOP_VARIABLES, element):
            if name:
                child.data.pop(name, None)
        super().merge_child(workflow, child)  # type: ignore[misc]
        my_task = child.parent
        if my_task is not None:
            for name in (*LOOP_VARIABLES, element, engine_of(my_task).MI_COLLECTION_PREFIX + self.name):
                if name:
                    my_task.data.pop(name, None)

    def check_completion_condition(self, my_task: Task) -> Any:
        condition = self._camunda_loop().get("completion_condition")
        if not condition:
            return False
        instances = list(self._instances(my_task))  # type: ignore[attr-defined]
        completed = [t for t in instances if t.has_state(TaskState.COMPLETED)]
        counters = {
            "nrOfInstances": len(instances) + len(my_task.internal_data.get("remaining", [])),
            "nrOfCompletedInstances": len(completed),
            "nrOfActiveInstances": len([t for t in instances if not t.has_state(TaskState.FINISHED_MASK)]),
        }
        return engine_of(my_task).evaluate_with(my_task, condition, counters)


class KimParallelMultiInstance(_CamundaMultiInstance, ParallelMultiInstanceTask):
    pass


class KimSequentialMultiInstance(_CamundaMultiInstance, SequentialMultiInstanceTask):
    pass


# --- gateways ----------------------------------------------------------------------------------------------

JOIN_USED = "kim_join_used"


class KimParallelGateway(ParallelGateway):
    """A parallel join that counts every branch's arrival exactly once.

    Each branch that reaches a join leaves a copy of it; SpiffWorkflow cancels the older waiting copy when the
    next branch arrives and counts the cancelled copies to decide whether all branches are in. A join that fires
    uses its arrivals up (see use_up_arrivals), so that a later round of a loop never counts them again.
    """

    def _check_threshold_unstructured(self, my_task: Task) -> bool:
        waiting = set(self.inputs)
        for task in my_task.workflow.get_tasks(spec_name=self.name):
            if task.internal_data.get(JOIN_USED) or my_task.is_descendant_of(task):
                continue  # arrived in an earlier round
            if task.is_descendant_of(my_task):
                _discard_input_above(task, waiting)  # a loop that reaches the join again before it fires
            elif task.parent is not None and task.parent.state == TaskState.COMPLETED:
                waiting.discard(task.parent.task_spec)
        return not waiting

    def _run_hook(self, my_task: Task) -> bool:
        """Merge the data of this round's arrivals only (SpiffWorkflow merges every earlier copy's)."""
        for task in sorted(join_arrivals(my_task), key=lambda t: t.last_state_change):
            DeepMerge.merge(my_task.data, task.parent.data)
        my_task._inherit_data()
        return True


def join_arrivals(join_task: Task) -> list[Task]:
    """The other branches' copies of a join that arrived since it last fired."""
    return [t for t in join_task.workflow.tasks.values()
            if t.task_spec == join_task.task_spec and t is not join_task and t.has_state(TaskState.FINISHED_MASK)
            and not t.internal_data.get(JOIN_USED) and not join_task.is_descendant_of(t)]


def use_up_arrivals(join_task: Task) -> None:
    """A join fired: the arrivals it merged must not count for its next firing (a loop's next round)."""
    for task in join_arrivals(join_task):
        task.internal_data[JOIN_USED] = True


def is_pending_arrival(task: Task) -> bool:
    """A cancelled copy of a parallel or inclusive join that the join has not used yet: it stands for a branch
    that has arrived; the join counts it and merges its data when it fires. (The end of a scope is a join too;
    a branch that ends shares its data at once, see engine.scope, so its copies are not kept.)"""
    return (isinstance(task.task_spec, ParallelGateway | InclusiveGateway) and task.has_state(TaskState.CANCELLED)
            and not task.internal_data.get(JOIN_USED))


def _discard_input_above(task: Task, waiting: set[Any]) -> None:
    ancestor: Task | None = task
    while ancestor is not None and ancestor.task_spec not in waiting:
        ancestor = ancestor.parent
    if ancestor is not None:
        waiting.discard(ancestor.task_spec)


# --- timers ------------------------------------------------------------------------------------------------


def _timer_value(my_task: Task, expression: str) -> Any:
    """A timer text is an ISO literal or a JUEL expression; literals are used as they are.

    Evaluation errors are kept on the task instead of raised: the runner turns them into an incident for this
    timer, so that a broken timer expression never takes the step that reached it down with it, and never
    silently keeps a deadline from firing.
    """
    try:
        value = engine_of(my_task).timer_value(my_task, expression)
        if value in (None, ""):
            raise ValueError(f"the timer expression {expression!r} evaluated to nothing")
        return value
    except Exception as error:
        my_task.internal_data["kim_timer_error"] = str(error) or error.__class__.__name__
        return None


def _now(my_task: Task) -> datetime:
    return engine_of(my_task).now()


def _guarded(my_task: Task, compute: Any) -> Any:
    try:
        return compute()
    except ValueError as error:
        my_task.internal_data["kim_timer_error"] = str(error)
        return None


class KimTimeDateTimer(TimeDateEventDefinition):
    def has_fired(self, my_task: Task) -> bool:
        due = my_task._get_internal_data("kim_due")
        if due is None:
            value = _timer_value(my_task, self.expression)
            if value is None:
                return False
            due = _guarded(my_task, lambda: parse_datetime(value, engine_of(my_task).timezone).isoformat())
            if due is None:
                return False
            my_task._set_internal_data(kim_due=due, event_value=due)
        if datetime.fromisoformat(due) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class KimDurationTimer(DurationTimerEventDefinition):
    def has_fired(self, my_task: Task) -> bool:
        due = my_task._get_internal_data("kim_due")
        if due is None:
            value = _timer_value(my_task, self.expression)
            if value is None:
                return False
            engine = engine_of(my_task)
            due = _guarded(my_task, lambda: parse_duration(str(value)).add_to(engine.now(), engine.timezone)
                           .isoformat())
            if due is None:
                return False
            my_task._set_internal_data(kim_due=due, event_value=due)
        if datetime.fromisoformat(due) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class KimCycleTimer(CycleTimerEventDefinition):
    """R[n]/duration cycles: each firing creates a new branch; the task finishes after the last one."""

    def cycle_complete(self, my_task: Task) -> bool:
        state = my_task._get_internal_data("kim_cycle")
        engine = engine_of(my_task)
        if state is None:
            value = _timer_value(my_task, self.expression)
            if value is None:
                return False
            first = _guarded(my_task, lambda: parse_cycle(str(value), engine.timezone)
                             .first_due(engine.now(), engine.timezone).isoformat())
            if first is None:
                return False
            cycle = parse_cycle(str(value), engine.timezone)
            state = {"remaining": cycle.repetitions, "due": first, "expression": str(value)}
        fired = False
        if state["remaining"] == 0:
            my_task.internal_data["event_fired"] = True
        elif datetime.fromisoformat(state["due"]) <= engine.now():
            cycle = parse_cycle(state["expression"], engine.timezone)
            previous = datetime.fromisoformat(state["due"])
            due = cycle.next_due(previous, engine.timezone)
            while previous < due <= engine.now():  # moments missed while no worker ran fire once, not each
                previous, due = due, cycle.next_due(due, engine.timezone)
            state["due"] = due.isoformat()
            if state["remaining"] is not None:
                state["remaining"] -= 1
            fired = True
        my_task._set_internal_data(kim_cycle=state, kim_due=state["due"] if state["remaining"] != 0 else None)
        return fired

    def details(self, my_task: Task) -> Any:
        return None


TIMER_CLASSES = {
    "timeDate": KimTimeDateTimer,
    "timeDuration": KimDurationTimer,
    "timeCycle": KimCycleTimer,
}
