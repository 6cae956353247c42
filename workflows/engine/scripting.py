"""The per-command script engine: sandboxed expressions and scripts, the command's clock, decisions.

SpiffWorkflow calls `evaluate` for conditions and `execute` for script tasks; kimflow's specs call the other
methods. Every evaluation goes through workflows.sandbox (never Python's eval) with a time and step budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine

from workflows import sandbox
from workflows.engine.parser import MI_COLLECTION_PREFIX
from workflows.errors import ExpressionError, KimflowError

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

DecisionRunner = Callable[["Task", Mapping[str, Any], dict[str, Any]], Any]
MessageSender = Callable[[str, dict[str, Any]], dict[str, Any]]


class StepError(KimflowError):
    """An automatic step failed; carries the element so that the incident names the right place."""

    code = "step_failed"

    def __init__(self, message: str, *, element_id: str | None, task_id: str | None = None):
        super().__init__(message)
        self.element_id = element_id
        self.task_id = task_id


@dataclass
class EngineContext:
    """What one command gives the engine: its instant, settings, helpers and outward-facing hooks."""

    now: datetime
    timezone: str = "Europe/Berlin"
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    helpers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    run_decision: DecisionRunner | None = None
    send_message: MessageSender | None = None  # deliver a message that leaves the instance (raises if it cannot)
    actor: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    interrupts: list[Any] = field(default_factory=list)  # event subprocess tasks whose start interrupts

    def record(self, kind: str, **details: Any) -> None:
        """Note something for the audit trail; the runtime writes these in the command's transaction."""
        self.events.append({"kind": kind, **details})


class ScriptEngine(PythonScriptEngine):
    MI_COLLECTION_PREFIX = MI_COLLECTION_PREFIX

    def __init__(self, context: EngineContext):
        super().__init__(environment=None)
        self.context = context

    # --- called by SpiffWorkflow ---------------------------------------------------------------------------

    def validate(self, expression: str) -> None:
        sandbox.compile_expression(expression)

    def evaluate(self, task: Task, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        variables = dict(task.data)
        if external_context:
            variables.update(external_context)
        return self._evaluate(task, expression, variables)

    def execute(self, task: Task, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        result_variable = _camunda(task).get("result_variable")
        try:
            if result_variable:
                value = sandbox.compile_expression(script).evaluate(task.data, self.context.helpers,
                                                                    self.context.limits)
                task.data[result_variable] = value
            else:
                sandbox.compile_script(script).execute(task.data, self.context.helpers, self.context.limits)
        except ExpressionError as error:
            raise StepError(f"Script failed: {error}", element_id=_element(task), task_id=str(task.id)) from error
        return True

    # --- called by kimflow's specs and runner ---------------------------------------------------------------

    def now(self) -> datetime:
        return self.context.now

    @property
    def timezone(self) -> str:
        return self.context.timezone

    def evaluate_with(self, task: Task, expression: str, extra: Mapping[str, Any]) -> Any:
        return self._evaluate(task, expression, {**task.data, **extra})

    def evaluate_text(self, task: Task, text: str, variables: Mapping[str, Any] | None = None) -> Any:
        """A Camunda attribute value: JUEL expressions are evaluated, anything else is literal text."""
        if not sandbox.is_juel(text):
            return text
        return self._evaluate(task, text, dict(task.data) if variables is None else variables)

    def timer_value(self, task: Task, text: str) -> Any:
        return self.evaluate_text(task, text)

    def run_decision(self, task: Task, attributes: Mapping[str, Any]) -> None:
        if self.context.run_decision is None:
            raise StepError("Decisions are not available in this context", element_id=_element(task))
        self.context.run_decision(task, attributes, task.data)

    def prepare_multi_instance(self, task: Task, loop: Mapping[str, Any]) -> None:
        """Evaluate a collection given as an expression into the hidden variable the spec iterates."""
        collection = loop.get("collection")
        spec_input = getattr(task.task_spec, "data_input", None)
        if collection and spec_input is not None and spec_input.bpmn_id.startswith(MI_COLLECTION_PREFIX):
            task.data[spec_input.bpmn_id] = self._evaluate(task, collection, dict(task.data))

    def _evaluate(self, task: Task, expression: str, variables: Mapping[str, Any]) -> Any:
        try:
            compiled = sandbox.compile_expression(expression)
            return compiled.evaluate(variables, self.context.helpers, self.context.limits)
        except ExpressionError as error:
            raise StepError(f"Expression {expression!r} failed: {error}", element_id=_element(task),
                            task_id=str(task.id)) from error


def _camunda(task: Task) -> dict[str, Any]:
    extensions = getattr(task.task_spec, "extensions", None) or {}
    return extensions.get("camunda", {})


def _element(task: Task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
