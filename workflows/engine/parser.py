"""Parse Camunda 7 BPMN into SpiffWorkflow specs, with kimflow's readings of the Camunda dialect.

One parser per file: each executable process of the file becomes one ParsedProcess (its spec and the specs of
its embedded and event subprocesses). Call activities are not embedded: a call starts a separate instance of
the called process at run time, as Camunda does, so the called process is resolved by key when it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    BoundaryEventParser,
    EndEventParser,
    EventBasedGatewayParser,
    IntermediateCatchEventParser,
    IntermediateThrowEventParser,
    ReceiveTaskParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import (
    ConditionalGatewayParser,
    GatewayParser,
    ScriptTaskParser,
    SubprocessParser,
    SubWorkflowParser,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import first, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    EventBasedGateway,
    EventSubprocess,
    ExclusiveGateway,
    InclusiveGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ReceiveTask,
    ScriptTask,
    StartEvent,
    SubWorkflowTask,
    UserTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition

from workflows.durations import ttl_days
from workflows.engine.camunda import NSMAP, camunda_attr, read_extensions, read_properties
from workflows.engine.specs import (
    TIMER_CLASSES,
    CallActivitySpec,
    DecisionTaskSpec,
    ExternalTaskSpec,
    KimParallelGateway,
    KimParallelMultiInstance,
    KimSequentialMultiInstance,
    PassThroughTask,
)
from workflows.errors import Problem

MI_COLLECTION_PREFIX = "_mi_collection_"
_IDENTIFIER = re.compile(r"^\s*(?:\$\{\s*)?([A-Za-z][A-Za-z0-9_]*)\s*\}?\s*$")


class _CamundaExtensions:
    """Store the Camunda attributes of every flow node in its spec's extensions."""

    node: etree._Element

    def parse_extensions(self, node: etree._Element | None = None) -> dict[str, Any]:
        node = self.node if node is None else node
        return {"camunda": read_extensions(node), "properties": read_properties(node)}


class _CamundaMultiInstanceParser(_CamundaExtensions):
    """Multi-instance as Camunda writes it: camunda:collection + camunda:elementVariable, or a cardinality."""

    def _add_multiinstance_task(self, loop_characteristics: etree._Element) -> None:
        parser: Any = self
        info = read_extensions(parser.node).get("multi_instance", {})
        collection, cardinality = info.get("collection"), info.get("cardinality")
        if collection is None and cardinality is None:
            parser.raise_validation_exception("A multi-instance activity needs camunda:collection or a loopCardinality")
        data_input = input_item = None
        if collection is not None:
            match = _IDENTIFIER.match(collection)
            data_input = TaskDataReference(match.group(1) if match else MI_COLLECTION_PREFIX + parser.bpmn_id)
            element = info.get("element_variable")
            input_item = TaskDataReference(element) if element else None
        original = parser.spec.task_specs.pop(parser.task.name)
        cls = KimSequentialMultiInstance if info.get("sequential") else KimParallelMultiInstance
        parser.task = cls(parser.spec, original.name, task_spec="", cardinality=None if collection else cardinality,
                          data_input=data_input, data_output=None, input_item=input_item, output_item=None,
                          condition=None, description="Multi-instance")
        parser.task.extensions = {"camunda": {"multi_instance": info}, "properties": {}}
        parser._copy_task_attrs(original, loop_characteristics)


class _Timers:
    """Timer events with kimflow's clock-aware definitions (ISO literals or expressions)."""

    node: etree._Element

    def parse_timer_event(self, event: etree._Element) -> Any:
        parser: Any = self
        name = parser.node.get("name", parser.node.get("id"))
        description = parser.get_event_description(event)
        for tag, cls in TIMER_CLASSES.items():
            definition = first(parser.xpath(f".//bpmn:{tag}"))
            if definition is not None:
                return cls(name, (definition.text or "").strip(), description=description)
        raise ValidationException("A timer event needs timeDate, timeDuration or timeCycle",
                                  node=parser.node, file_name=parser.filename)


class KimTaskParser(_CamundaMultiInstanceParser, TaskParser):
    pass


class KimExternalTaskParser(KimTaskParser):
    def create_task(self) -> Any:
        return ExternalTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)


class KimBusinessRuleTaskParser(KimTaskParser):
    def create_task(self) -> Any:
        if camunda_attr(self.node, "type") == "external":
            return ExternalTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return DecisionTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)


class KimCallActivityParser(KimTaskParser):
    def create_task(self) -> Any:
        if not self.node.get("calledElement"):
            self.raise_validation_exception("A call activity needs calledElement (the key of the called process)")
        return CallActivitySpec(self.spec, self.bpmn_id, **self.bpmn_attributes)


class KimScriptTaskParser(_CamundaMultiInstanceParser, ScriptTaskParser):
    pass


class KimSubWorkflowParser(_CamundaMultiInstanceParser, SubWorkflowParser):
    def create_task(self) -> Any:
        # SpiffWorkflow looks for a namespaced triggeredByEvent attribute; BPMN files carry it unqualified.
        subworkflow_spec = SubprocessParser.get_subprocess_spec(self)
        spec_class = EventSubprocess if self.node.get("triggeredByEvent") == "true" else self.spec_class
        return spec_class(self.spec, self.bpmn_id, subworkflow_spec=subworkflow_spec, **self.bpmn_attributes)


class KimGatewayParser(_CamundaExtensions, GatewayParser):
    pass


class KimConditionalGatewayParser(_CamundaExtensions, ConditionalGatewayParser):
    pass


class KimStartEventParser(_Timers, _CamundaExtensions, StartEventParser):
    def create_task(self) -> Any:
        # SpiffWorkflow's start events know no error or escalation and would start such an event subprocess at
        # once, as if it had a none start event; BPMN (and Camunda) start it when the error or escalation comes.
        event_definition = self.get_event_definition([
            MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, TIMER_EVENT_XPATH, CONDITIONAL_EVENT_XPATH, ERROR_EVENT_XPATH,
            ESCALATION_EVENT_XPATH])
        if isinstance(event_definition, tuple(TIMER_CLASSES.values())) and \
                etree.QName(self.node.getparent()).localname == "process":
            # The scheduler starts the instance when the process's start timer is due (workflows/timers.py);
            # inside the instance that moment has come. Waiting on it again would start the flow once more
            # on every cycle. Timer starts of event subprocesses do wait.
            event_definition = NoneEventDefinition()
        task = self._create_task(event_definition)
        self.spec.start.connect(task)
        return task


class KimEndEventParser(_Timers, _CamundaExtensions, EndEventParser):
    def parse_extensions(self, node: etree._Element | None = None) -> dict[str, Any]:
        extensions = super().parse_extensions(node)
        message = _error_message(self.node) if node is None else None
        if message is not None:
            extensions["camunda"]["error_message"] = message
        return extensions

    def create_task(self) -> Any:
        # SpiffWorkflow's end events know no signal; BPMN (and Camunda) have signal end events.
        event_definition = self.get_event_definition([
            MESSAGE_EVENT_XPATH, CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
            TERMINATION_EVENT_XPATH, SIGNAL_EVENT_XPATH])
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task


def _error_message(end_event: etree._Element) -> str | None:
    """camunda:errorMessage sits on the bpmn:error that the end event's errorRef names (text or expression)."""
    definition = end_event.find("bpmn:errorEventDefinition", NSMAP)
    ref = definition.get("errorRef") if definition is not None else None
    if not ref:
        return None
    errors = end_event.getroottree().getroot().xpath("//bpmn:error[@id=$id]", namespaces=NSMAP, id=ref)
    return camunda_attr(errors[0], "errorMessage") if errors else None


class KimIntermediateCatchEventParser(_Timers, _CamundaExtensions, IntermediateCatchEventParser):
    pass


class KimIntermediateThrowEventParser(_Timers, _CamundaExtensions, IntermediateThrowEventParser):
    pass


class KimBoundaryEventParser(_Timers, _CamundaExtensions, BoundaryEventParser):
    pass


class KimEventBasedGatewayParser(_CamundaExtensions, EventBasedGatewayParser):
    pass


class KimReceiveTaskParser(_Timers, _CamundaMultiInstanceParser, ReceiveTaskParser):
    pass


class KimBpmnParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("userTask"): (KimTaskParser, UserTask),
        full_tag("task"): (KimTaskParser, PassThroughTask),
        full_tag("manualTask"): (KimTaskParser, PassThroughTask),
        full_tag("serviceTask"): (KimExternalTaskParser, ExternalTaskSpec),
        full_tag("sendTask"): (KimExternalTaskParser, ExternalTaskSpec),
        full_tag("businessRuleTask"): (KimBusinessRuleTaskParser, DecisionTaskSpec),
        full_tag("scriptTask"): (KimScriptTaskParser, ScriptTask),
        full_tag("callActivity"): (KimCallActivityParser, CallActivitySpec),
        full_tag("subProcess"): (KimSubWorkflowParser, SubWorkflowTask),
        full_tag("exclusiveGateway"): (KimConditionalGatewayParser, ExclusiveGateway),
        full_tag("inclusiveGateway"): (KimConditionalGatewayParser, InclusiveGateway),
        full_tag("parallelGateway"): (KimGatewayParser, KimParallelGateway),
        full_tag("eventBasedGateway"): (KimEventBasedGatewayParser, EventBasedGateway),
        full_tag("startEvent"): (KimStartEventParser, StartEvent),
        full_tag("endEvent"): (KimEndEventParser, EndEvent),
        full_tag("intermediateCatchEvent"): (KimIntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (KimIntermediateThrowEventParser, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (KimBoundaryEventParser, BoundaryEvent),
        full_tag("receiveTask"): (KimReceiveTaskParser, ReceiveTask),
    }

    def __init__(self) -> None:
        super().__init__(namespaces=NSMAP)


# --- what the rest of kimflow gets -------------------------------------------------------------------------


@dataclass(frozen=True)
class StartEventInfo:
    element_id: str
    kind: str  # none | message | timer | signal
    name: str | None = None
    timer: dict[str, str] | None = None


@dataclass
class ParsedProcess:
    key: str
    name: str | None
    spec: Any
    subprocess_specs: dict[str, Any]
    version_tag: str | None = None
    history_time_to_live: int | None = None
    candidate_starter_groups: list[str] = field(default_factory=list)
    candidate_starter_users: list[str] = field(default_factory=list)
    start_events: list[StartEventInfo] = field(default_factory=list)
    start_form: dict[str, Any] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    form_refs: list[tuple[str, str, int | None]] = field(default_factory=list)  # (form key, element id, line)
    groups: list[str] = field(default_factory=list)  # groups named in the model: who may see its cases
    decision_refs: list[tuple[str, str, int | None]] = field(default_factory=list)


def parse_processes(tree: etree._ElementTree, filename: str) -> tuple[list[ParsedProcess], list[Problem]]:
    """Parse every executable process of one BPMN file; problems carry file, element and line."""
    parser = KimBpmnParser()
    try:
        parser.add_bpmn_xml(tree, filename)
        processes = [_parsed(parser, tree, key) for key in parser.get_process_ids()]
    except ValidationException as error:
        return [], [_problem_from(error, tree, filename)]
    if not processes:
        return [], [Problem(filename, "The file has no executable process (isExecutable=\"true\").")]
    return processes, []


def _problem_from(error: ValidationException, tree: etree._ElementTree, filename: str) -> Problem:
    element = getattr(error, "id", "") or None
    line = None
    if element:
        found = tree.getroot().xpath("//*[@id=$id]", id=element)
        line = found[0].sourceline if found else None
    message = str(error).split("\n")[0] or error.__class__.__name__
    return Problem(filename, message, element=element, line=line)


def _parsed(parser: KimBpmnParser, tree: etree._ElementTree, key: str) -> ParsedProcess:
    node = tree.getroot().xpath("//bpmn:process[@id=$id]", namespaces=NSMAP, id=key)[0]
    spec = parser.get_spec(key)
    subprocess_specs = parser.get_subprocess_specs(key)
    ttl = camunda_attr(node, "historyTimeToLive")
    process = ParsedProcess(
        key=key,
        name=node.get("name"),
        spec=spec,
        subprocess_specs=subprocess_specs,
        version_tag=camunda_attr(node, "versionTag"),
        history_time_to_live=_ttl(ttl),
        candidate_starter_groups=_split(camunda_attr(node, "candidateStarterGroups")),
        candidate_starter_users=_split(camunda_attr(node, "candidateStarterUsers")),
        properties=read_properties(node),
    )
    process.start_events = [_start_event(e) for e in node.findall("bpmn:startEvent", NSMAP)]
    process.start_form = _start_form(node)
    process.form_refs, process.decision_refs = _references(node)
    process.groups = sorted(set(process.candidate_starter_groups) | _named_groups(node))
    return process


def _named_groups(process: etree._Element) -> set[str]:
    """Literal candidate groups of every task (expressions are resolved per task at run time)."""
    found: set[str] = set()
    for node in process.iter():
        if isinstance(node.tag, str):
            value = camunda_attr(node, "candidateGroups") or ""
            if "${" not in value and "#{" not in value:
                found.update(_split(value))
    return found


def _ttl(text: str | None) -> int | None:
    try:
        return ttl_days(text)
    except ValueError:
        return None  # lint reports it with element and line


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _start_event(node: etree._Element) -> StartEventInfo:
    root = node.getroottree().getroot()
    for kind, tag in (("message", "messageEventDefinition"), ("signal", "signalEventDefinition")):
        definition = node.find(f"bpmn:{tag}", NSMAP)
        if definition is not None:
            ref = definition.get(f"{kind}Ref")
            target = root.xpath(f"//bpmn:{kind}[@id=$id]", namespaces=NSMAP, id=ref) if ref else []
            return StartEventInfo(node.get("id"), kind, target[0].get("name") if target else None)
    timer = node.find("bpmn:timerEventDefinition", NSMAP)
    if timer is not None:
        found = {etree.QName(c).localname: (c.text or "").strip() for c in timer if isinstance(c.tag, str)}
        return StartEventInfo(node.get("id"), "timer", node.get("name"), found)
    return StartEventInfo(node.get("id"), "none", node.get("name"))


def _start_form(process: etree._Element) -> dict[str, Any] | None:
    for node in process.findall("bpmn:startEvent", NSMAP):
        extensions = read_extensions(node)
        keys = ("form_key", "form_ref", "form_ref_binding", "form_ref_version", "form_data", "initiator")
        form: dict[str, Any] = {k: extensions[k] for k in keys if k in extensions}
        if form:
            form["element_id"] = node.get("id")
            return form
    return None


def _references(process: etree._Element) -> tuple[list[Any], list[Any]]:
    forms, decisions = [], []
    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        ref = form_key_reference(camunda_attr(node, "formRef"), camunda_attr(node, "formKey"))
        if ref:
            forms.append((ref, node.get("id"), node.sourceline))
        decision = camunda_attr(node, "decisionRef")
        if decision:
            decisions.append((decision, node.get("id"), node.sourceline))
    return forms, decisions


def form_key_reference(form_ref: str | None, form_key: str | None) -> str | None:
    """The form a task refers to: camunda:formRef, or camunda:formKey="camunda-forms:deployment:NAME.form"."""
    if form_ref:
        return form_ref
    prefix = "camunda-forms:deployment:"
    if form_key and form_key.startswith(prefix):
        return "resource:" + form_key[len(prefix):]
    return None
