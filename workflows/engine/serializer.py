"""Serialize specs once per version and instance state without its spec.

A spec is parsed at deploy time, serialized once and stored by content hash. Instance state is stored without
the spec (most of a naive serialization is spec); on load, the spec objects come from a per-process cache keyed
by that hash. Specs are immutable after parsing, so sharing them between workflows is safe.
"""

from __future__ import annotations

import hashlib
import json
from copy import deepcopy
from dataclasses import asdict, dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BpmnTaskSpecConverter,
    MultiInstanceTaskConverter,
    ParallelGatewayConverter,
)
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from workflows.durations import Duration
from workflows.engine import specs
from workflows.feel_functions import YearsMonths

SERIALIZER_VERSION = f"kimflow-1+spiff-{SPIFF_FORMAT}"


class KimWorkflowConverter(BpmnWorkflowConverter):
    """The top-level workflow without its spec: the spec comes from the version's stored bundle."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], bundle: SpecBundle | None = None) -> BpmnWorkflow:
        if bundle is None:
            raise ValueError("instance state is stored without its spec: pass the spec bundle")
        workflow = self.target_class(bundle.spec, dict(bundle.subprocess_specs), deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class KimParallelGatewayConverter(ParallelGatewayConverter):
    """kimflow's parallel join keeps SpiffWorkflow's name in stored specs: specs stored before it existed restore
    as kimflow's join too, and the content hash of a spec does not change."""

    def __init__(self, target_class: type, registry: Any, typename: str | None = None) -> None:
        super().__init__(target_class, registry, "ParallelGateway")


def _config() -> dict[Any, Any]:
    config = deepcopy(DEFAULT_CONFIG)
    config[BpmnWorkflow] = KimWorkflowConverter
    del config[ParallelGateway]
    config[specs.KimParallelGateway] = KimParallelGatewayConverter
    tasks: tuple[type, ...] = (specs.PassThroughTask, specs.ExternalTaskSpec, specs.CallActivitySpec,
                               specs.DecisionTaskSpec)
    config.update(dict.fromkeys(tasks, BpmnTaskSpecConverter))
    config.update(dict.fromkeys((specs.KimParallelMultiInstance, specs.KimSequentialMultiInstance),
                                MultiInstanceTaskConverter))
    config.update(dict.fromkeys(specs.TIMER_CLASSES.values(), TimerConditionalEventDefinitionConverter))
    return config


_REGISTRY = BpmnWorkflowSerializer.configure(_config())


def _register_variable_types() -> None:
    """Values scripts, helpers and FEEL put into variables that JSON has no type for (SpiffWorkflow knows
    datetime, timedelta and UUID): each is stored as a tagged object and comes back as the same type."""
    _REGISTRY.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    _REGISTRY.register(time, lambda v: {"value": v.isoformat()}, lambda d: time.fromisoformat(d["value"]))
    _REGISTRY.register(timedelta, lambda v: {"days": v.days, "seconds": v.seconds, "microseconds": v.microseconds},
                       lambda d: timedelta(**d))  # SpiffWorkflow's own converter drops the microseconds
    _REGISTRY.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    _REGISTRY.register(Duration, asdict, lambda d: Duration(**d), typename="kimflow.Duration")
    _REGISTRY.register(YearsMonths, asdict, lambda d: YearsMonths(**d), typename="kimflow.YearsMonths")


_register_variable_types()

_ENCODER = create_encoder(_REGISTRY, None)


def _dumps(value: Any) -> str:
    _REGISTRY._encoder_mode = True
    try:
        return json.dumps(value, cls=_ENCODER, separators=(",", ":"))
    finally:
        _REGISTRY._encoder_mode = False


@dataclass(frozen=True)
class SpecBundle:
    """A process spec with the specs of its embedded subprocesses; `hash` identifies its content."""

    hash: str
    spec: Any
    subprocess_specs: dict[str, Any]


def dump_specs(spec: Any, subprocess_specs: dict[str, Any]) -> tuple[str, str]:
    """(content hash, serialized bundle) of a freshly parsed spec."""
    text = _dumps({
        "spec": _REGISTRY.convert(spec),
        "subprocess_specs": {name: _REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    })
    return hashlib.sha256(text.encode()).hexdigest(), text


@lru_cache(maxsize=256)
def load_specs(spec_hash: str, text: str) -> SpecBundle:
    """Restore a stored bundle once per process; later calls with the same hash reuse the objects."""
    dct = json.loads(text)
    spec = _REGISTRY.restore(dct["spec"])
    subprocess_specs = {name: _REGISTRY.restore(s) for name, s in dct["subprocess_specs"].items()}
    for process_spec in (spec, *subprocess_specs.values()):
        _connect_triggered_subprocesses(process_spec)
    return SpecBundle(spec_hash, spec, subprocess_specs)


def _connect_triggered_subprocesses(spec: Any) -> None:
    """Do once what SpiffWorkflow does to the spec when a message, signal, error or escalation first starts an
    event subprocess (its `trigger_wf`): later instances sharing the spec would otherwise start that event
    subprocess with the process and wait for it forever. Only the way out is connected, not the way in.
    """
    start = spec.start
    for name in start.trigger_specs:
        event_subprocess = spec.task_specs[name]
        if start not in event_subprocess.inputs:
            event_subprocess.inputs = [*event_subprocess.inputs, start]
            event_subprocess.connect(spec.end)


def bundle_from_parse(spec: Any, subprocess_specs: dict[str, Any]) -> tuple[SpecBundle, str]:
    """Round-trip a parsed spec through its serialization, so that runs always use restored specs."""
    spec_hash, text = dump_specs(spec, subprocess_specs)
    return load_specs(spec_hash, text), text


def state_to_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    return _REGISTRY.convert(workflow)


def state_from_dict(dct: dict[str, Any], bundle: SpecBundle) -> BpmnWorkflow:
    return _REGISTRY.restore(deepcopy(dct), bundle=bundle)


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow as JSON text; converters run as the encoder reaches each object (no intermediate dict)."""
    return _dumps(workflow)


def load_state(text: str, bundle: SpecBundle) -> BpmnWorkflow:
    return _REGISTRY.restore(json.loads(text), bundle=bundle)
