"""Run one scenario model through the engine layer alone (no database), as SpiffWorkflow's own tests do:
straight through, or with the state saved and restored after every single step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task

from workflows import decisions, helpers, variables
from workflows.clock import ManualClock
from workflows.engine import events, runner
from workflows.engine.parser import parse_processes
from workflows.engine.scripting import EngineContext
from workflows.engine.serializer import bundle_from_parse, dump_state, load_state

DATA = Path(__file__).parent / "data"


class Harness:
    def __init__(self, scenario_file: str, process_key: str, *, restore: bool, clock: ManualClock | None = None,
                 dmn_files: tuple[str, ...] = ()):
        tree = etree.parse(str(DATA / scenario_file))
        processes, problems = parse_processes(tree, scenario_file)
        assert not problems, problems
        parsed = next(p for p in processes if p.key == process_key)
        self.bundle, _text = bundle_from_parse(parsed.spec, parsed.subprocess_specs)
        self.restore = restore
        self.clock = clock or ManualClock()
        self.decisions = [d for name in dmn_files for d in decisions.parse_dmn((DATA / name).read_bytes(), name)]
        self.workflow: BpmnWorkflow | None = None
        self.blocked: set[str] = set()
        self.failures: list[runner.StepFailure] = []
        self.events: list[dict[str, Any]] = []
        self.saves = 0

    # --- driving ---------------------------------------------------------------------------------------------

    def context(self) -> EngineContext:
        context = EngineContext(now=self.clock.now(), helpers=helpers.default_helpers(self.clock.now))
        context.run_decision = self._run_decision
        return context

    def _run_decision(self, task: Task, attributes: Any, data: dict[str, Any]) -> None:
        result = decisions.evaluate_in(self.decisions, attributes["decision_ref"], data)
        value = decisions.map_decision_result(result, attributes.get("map_decision_result") or "resultList")
        if attributes.get("result_variable"):
            data[attributes["result_variable"]] = value

    def start(self, **start_variables: Any) -> Harness:
        self.workflow = runner.new_workflow(self.bundle, self.context(), start_variables)
        self.run()
        return self

    def start_at(self, start_event: str, **start_variables: Any) -> Harness:
        """Start at one start event only (a message or signal start, as correlation starts an instance)."""
        self.workflow = runner.new_workflow(self.bundle, self.context(), start_variables, start_events=[start_event])
        self.run()
        return self

    def run(self) -> None:
        """Advance to the wait states one step at a time, saving and restoring between steps if asked."""
        assert self.workflow is not None
        self.workflow.script_engine.context.now = self.clock.now()
        while True:
            outcome = runner.advance(self.workflow, self.bundle, self.blocked, step_limit=1)
            self.workflow = outcome.workflow
            self.failures.extend(outcome.failures)
            self._save_restore()
            if outcome.steps == 0:
                break
        runner.finish(self.workflow)
        self._save_restore()

    def _save_restore(self) -> None:
        assert self.workflow is not None
        self.events.extend(self.workflow.script_engine.context.events)
        self.workflow.script_engine.context.events.clear()
        if self.restore:
            text = dump_state(self.workflow)
            self.workflow = runner.attach(load_state(text, self.bundle), self.bundle, self.context())
            self.saves += 1

    def act(self, action: Callable[[BpmnWorkflow], None]) -> None:
        assert self.workflow is not None
        self.workflow.script_engine.context.now = self.clock.now()
        action(self.workflow)
        self.run()

    def complete(self, element: str, **values: Any) -> None:
        task = self.ready_task(element)
        self.act(lambda wf: runner.complete_task(wf, task, values))

    def message(self, name: str, **payload: Any) -> None:
        task = next((t for t in runner.waiting_events(self.workflow)  # type: ignore[arg-type]
                     if getattr(t.task_spec.event_definition, "name", None) == name), None)
        if task is None:
            self.act(lambda wf: events.broadcast(wf, "message", name, payload))
        else:
            self.act(lambda wf: events.deliver_message(task, name, payload))

    def signal(self, name: str, **payload: Any) -> None:
        self.act(lambda wf: events.broadcast(wf, "signal", name, payload))

    def wait(self, **delta: float) -> None:
        self.clock.advance(**delta)
        self.run()

    # --- looking ---------------------------------------------------------------------------------------------

    def ready(self) -> list[str]:
        assert self.workflow is not None
        return sorted(runner.element_id(t) for t in runner.manual_tasks(self.workflow))

    def ready_task(self, element: str) -> Task:
        assert self.workflow is not None
        found = [t for t in runner.manual_tasks(self.workflow) if runner.element_id(t) == element]
        assert found, f"{element} is not ready; ready: {self.ready()}"
        return found[0]

    def waiting(self) -> list[str]:
        assert self.workflow is not None
        return sorted(runner.element_id(t) for t in runner.waiting_events(self.workflow))

    @property
    def variables(self) -> dict[str, Any]:
        assert self.workflow is not None
        return variables.of(self.workflow)

    @property
    def completed(self) -> bool:
        return bool(self.workflow is not None and self.workflow.completed)

    def history(self) -> list[str]:
        return [e["element_id"] for e in self.events if e["kind"] == "activity_end" and e["state"] == "completed"]
