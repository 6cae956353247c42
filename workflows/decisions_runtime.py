"""Business rule tasks at run time: find the decision (Camunda binding rules), evaluate it, map its result.

The audit trail records which decision version was used, when it was evaluated, for which decision date (the
process variable `entscheidungsdatum`, which tables for changing law take as an input), and which rules matched,
so that every eligibility decision can be checked against the law it encodes. The result variable gets a
companion `<name>_regel` ("key:version (tag)") so that the case file shows which rule version decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from workflows import decisions, definitions
from workflows.context import Ctx
from workflows.engine.scripting import EngineContext, StepError

# The date a procedure's decision is made for (law in force on that day); models set it, tables read it.
DECISION_DATE = "entscheidungsdatum"

if TYPE_CHECKING:
    from workflows.engine import EngineTask as Task


def run_decision(ctx: Ctx, definition: definitions.DefinitionInfo, engine: EngineContext, task: Task,
                 attributes: Mapping[str, Any], data: dict[str, Any]) -> None:
    element = getattr(task.task_spec, "bpmn_id", None)
    key = str(task.workflow.script_engine.evaluate_text(task, attributes.get("decision_ref", "")))
    version = attributes.get("decision_ref_version")
    resolved = definitions.resolve_decision(
        ctx, key, binding=attributes.get("decision_ref_binding") or "latest",
        version=int(task.workflow.script_engine.evaluate_text(task, version)) if version else None,
        version_tag=attributes.get("decision_ref_version_tag"), deployment_id=definition.deployment_id,
        tenant_id=definition.tenant_id)
    if resolved is None:
        raise StepError(f"The decision {key!r} is not deployed.", element_id=element, task_id=str(task.id))
    row, decision, siblings = resolved
    try:
        result = decisions.evaluate_in(siblings, decision.key, data, helpers=engine.helpers)
        value = decisions.map_decision_result(result, attributes.get("map_decision_result") or "resultList")
    except Exception as error:
        raise StepError(f"Decision {key!r} failed: {error}", element_id=element, task_id=str(task.id)) from error
    if attributes.get("result_variable"):
        data[attributes["result_variable"]] = value
        data[f"{attributes['result_variable']}_regel"] = f"{row.key}:{row.version}" + (
            f" ({row.version_tag})" if row.version_tag else "")
    decision_date = data.get(DECISION_DATE)
    engine.record("decision_evaluated", element_id=element, task_id=str(task.id), decision_key=row.key,
                  decision_id=row.id, decision_version=row.version, version_tag=row.version_tag,
                  evaluated_at=engine.now.isoformat(),
                  decision_date=decision_date.isoformat() if isinstance(decision_date, date) else decision_date,
                  matched_rules=[{"id": m.id, "index": m.index, "annotation": m.annotation}
                                 for m in result.matched_rules],
                  result_variable=attributes.get("result_variable"))
