"""Deploy-time checks of the Camunda dialect that SpiffWorkflow's parser does not make.

Every finding names the file, the element and the line, and says what to use instead. Nothing here runs
model code: expressions and scripts are only compiled by the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from workflows import sandbox
from workflows.durations import (
    looks_like_duration,
    parse_cycle,
    parse_datetime,
    parse_duration,
    parse_retry_cycle,
    ttl_days,
)
from workflows.engine.camunda import BPMN_NS, CAMUNDA_NS, camunda_attr, local_name, read_extensions
from workflows.errors import ExpressionError, Problem

_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_NS}}}"

USE_EXTERNAL = ('use camunda:type="external" with a camunda:topic (worked by an external-task worker over '
                "the REST API) or a Python script task")
UNSUPPORTED_ELEMENTS = {
    "complexGateway": "Complex gateways are not supported: use an inclusive or exclusive gateway.",
    "transaction": "Transaction subprocesses are not supported: use an embedded subprocess.",
    "adHocSubProcess": "Ad-hoc subprocesses are not supported.",
    "compensateEventDefinition": "Compensation events are not supported: model the undo step explicitly.",
    "cancelEventDefinition": "Cancel events are not supported (they need transaction subprocesses).",
    "linkEventDefinition": "Link events are not supported: connect the flow directly.",
}
SCRIPT_FORMATS = {"python", "juel"}
EXPRESSION_ATTRIBUTES = ("assignee", "candidateUsers", "candidateGroups", "priority", "topic", "taskPriority",
                         "decisionRefVersion", "calledElementVersion", "collection", "errorMessage")
DATE_ATTRIBUTES = ("dueDate", "followUpDate")


class _Checker:
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []

    def add(self, node: etree._Element, message: str) -> None:
        element = node.get("id") or _nearest_id(node)
        self.problems.append(Problem(self.filename, message, element=element, line=node.sourceline))

    def expression(self, node: etree._Element, text: str | None, what: str) -> None:
        if not text or not text.strip():
            return
        try:
            sandbox.compile_expression(text)
        except ExpressionError as error:
            self.add(node, f"{what}: {error}")

    def attribute_expression(self, node: etree._Element, text: str | None, what: str) -> None:
        if text and sandbox.is_juel(text):
            self.expression(node, text, what)

    def script(self, node: etree._Element, text: str | None, what: str) -> None:
        try:
            sandbox.compile_script(text or "")
        except ExpressionError as error:
            self.add(node, f"{what}: {error}")


def _nearest_id(node: etree._Element) -> str | None:
    parent = node.getparent()
    while parent is not None:
        if parent.get("id"):
            return str(parent.get("id"))
        parent = parent.getparent()
    return None


def lint(tree: etree._ElementTree, filename: str) -> list[Problem]:
    checker = _Checker(filename)
    for node in tree.getroot().iter():
        if not isinstance(node.tag, str):
            continue
        for check in _checks_for(node):
            check(checker, node)
    return checker.problems


def _checks_for(node: etree._Element) -> Iterator[Callable[[_Checker, etree._Element], None]]:
    name = local_name(node)
    namespace = etree.QName(node).namespace
    if namespace == CAMUNDA_NS:
        yield from _CAMUNDA_ELEMENT_CHECKS.get(name, ())
        return
    if namespace != BPMN_NS:
        return
    if name in UNSUPPORTED_ELEMENTS:
        yield _unsupported
    yield _java_attributes
    yield _attribute_expressions
    yield from _BPMN_ELEMENT_CHECKS.get(name, ())


def _unsupported(checker: _Checker, node: etree._Element) -> None:
    checker.add(node, UNSUPPORTED_ELEMENTS[local_name(node)])


def _java_attributes(checker: _Checker, node: etree._Element) -> None:
    for attribute, label in (("class", "Java class"), ("delegateExpression", "Java delegate expression")):
        if camunda_attr(node, attribute):
            checker.add(node, f"camunda:{attribute} ({label}) is Java-only and not supported in kimflow: "
                              f"{USE_EXTERNAL}.")
    if camunda_attr(node, "expression"):
        checker.add(node, "camunda:expression calls Java beans and is not supported in kimflow: "
                          f"{USE_EXTERNAL}.")
    if camunda_attr(node, "resultVariable") and local_name(node) == "serviceTask":
        checker.add(node, "camunda:resultVariable on a service task belongs to a Java expression: "
                          f"{USE_EXTERNAL}.")


def _attribute_expressions(checker: _Checker, node: etree._Element) -> None:
    for attribute in EXPRESSION_ATTRIBUTES:
        checker.attribute_expression(node, camunda_attr(node, attribute), f"camunda:{attribute}")
    for attribute in DATE_ATTRIBUTES:
        value = camunda_attr(node, attribute)
        if value and sandbox.is_juel(value):
            checker.expression(node, value, f"camunda:{attribute}")
        elif value and not _is_date_or_duration(value):
            checker.add(node, f"camunda:{attribute} must be an expression, an ISO 8601 date-time or an ISO 8601 "
                              f"duration, not {value!r}.")


def _is_date_or_duration(value: str) -> bool:
    try:
        if looks_like_duration(value):
            parse_duration(value)
        else:
            parse_datetime(value)
    except ValueError:
        return False
    return True


def _implementation(checker: _Checker, node: etree._Element) -> None:
    """Service and send tasks need an implementation kimflow can run."""
    if camunda_attr(node, "type") == "external":
        if not camunda_attr(node, "topic"):
            checker.add(node, 'An external task needs camunda:topic (the topic workers fetch).')
        return
    if node.find(f"{_B}extensionElements/{_C}connector") is not None:
        return  # reported by the connector check
    if not any(camunda_attr(node, a) for a in ("class", "delegateExpression", "expression")):
        checker.add(node, f"The {local_name(node)} has no implementation: {USE_EXTERNAL}.")


def _message_throw(checker: _Checker, node: etree._Element) -> None:
    parent = node.getparent()
    throws = parent is not None and local_name(parent) in ("intermediateThrowEvent", "endEvent")
    if throws and camunda_attr(node, "type"):
        checker.add(node, "Implementations on message throw events are not supported: use a send task with "
                          'camunda:type="external" before the event.')


def _business_rule(checker: _Checker, node: etree._Element) -> None:
    if camunda_attr(node, "type") == "external":
        _implementation(checker, node)
        return
    if not camunda_attr(node, "decisionRef"):
        checker.add(node, "A business rule task needs camunda:decisionRef (the key of a DMN decision) or "
                          'camunda:type="external".')
    mode = camunda_attr(node, "mapDecisionResult")
    if mode and mode not in ("singleEntry", "singleResult", "collectEntries", "resultList"):
        checker.add(node, f"camunda:mapDecisionResult {mode!r} is unknown: use singleEntry, singleResult, "
                          "collectEntries or resultList.")
    binding = camunda_attr(node, "decisionRefBinding")
    if binding and binding not in ("latest", "deployment", "version", "versionTag"):
        checker.add(node, f"camunda:decisionRefBinding {binding!r} is unknown.")


def _script_task(checker: _Checker, node: etree._Element) -> None:
    script_format = (node.get("scriptFormat") or "").strip().lower()
    if camunda_attr(node, "resource"):
        checker.add(node, "Scripts loaded from camunda:resource are not supported: put the script inline.")
        return
    if script_format not in SCRIPT_FORMATS:
        checker.add(node, f"scriptFormat {script_format or '(none)'!r} is not supported: kimflow runs Python "
                          'scripts in a sandbox (scriptFormat="python").')
        return
    script = node.find(f"{_B}script")
    text = script.text if script is not None else ""
    if camunda_attr(node, "resultVariable") or script_format == "juel":
        checker.expression(node, text, "Script")
    else:
        checker.script(node, text, "Script")


def _call_activity(checker: _Checker, node: etree._Element) -> None:
    binding = camunda_attr(node, "calledElementBinding")
    if binding and binding not in ("latest", "deployment", "version", "versionTag"):
        checker.add(node, f"camunda:calledElementBinding {binding!r} is unknown.")
    if binding == "version" and not camunda_attr(node, "calledElementVersion"):
        checker.add(node, 'calledElementBinding="version" needs camunda:calledElementVersion.')
    if node.get("calledElement") and sandbox.is_juel(node.get("calledElement") or ""):
        checker.expression(node, node.get("calledElement"), "calledElement")


def _condition(checker: _Checker, node: etree._Element) -> None:
    language = (node.get("language") or "").strip().lower()
    if language and language not in SCRIPT_FORMATS:
        checker.add(node, f"Condition language {language!r} is not supported: write a JUEL ${{…}} or Python "
                          "expression.")
        return
    if node.get(f"{_C}resource"):
        checker.add(node, "Conditions loaded from camunda:resource are not supported.")
        return
    checker.expression(node, node.text, "Condition")


def _timer(checker: _Checker, node: etree._Element) -> None:
    text = (node.text or "").strip()
    kind = local_name(node)
    if not text:
        checker.add(node, f"The timer's {kind} is empty.")
    elif sandbox.is_juel(text):
        checker.expression(node, text, f"Timer {kind}")
    else:
        _timer_literal(checker, node, kind, text)


def _timer_literal(checker: _Checker, node: etree._Element, kind: str, text: str) -> None:
    parsers: dict[str, Callable[[str], Any]] = {"timeDate": parse_datetime, "timeDuration": parse_duration,
                                                "timeCycle": parse_cycle}
    try:
        parsers[kind](text)
    except ValueError:
        hint = " (cron expressions are not supported; use R/P1D style cycles)" if kind == "timeCycle" else ""
        checker.add(node, f"{text!r} is not a valid ISO 8601 {kind}{hint}.")


def _retry_cycle(checker: _Checker, node: etree._Element) -> None:
    text = (node.text or "").strip()
    if not text:
        return
    if sandbox.is_juel(text):
        checker.add(node, "Expressions in camunda:failedJobRetryTimeCycle are not supported: write a cycle "
                          "(R3/PT5M) or a list of intervals (PT1M,PT5M,PT10M).")
        return
    try:
        parse_retry_cycle(text)
    except ValueError:
        checker.add(node, f"camunda:failedJobRetryTimeCycle {text!r} is neither a cycle (R3/PT5M) nor a list of "
                          "ISO 8601 durations (PT1M,PT5M,PT10M).")


def _multi_instance(checker: _Checker, node: etree._Element) -> None:
    info = read_extensions(node.getparent()).get("multi_instance", {})
    for key in ("collection", "cardinality", "completion_condition"):
        value = info.get(key)
        if value and (key != "collection" or sandbox.is_juel(value)):
            checker.expression(node, value, f"Multi-instance {key.replace('_', ' ')}")


def _standard_loop(checker: _Checker, node: etree._Element) -> None:
    checker.add(node, "Standard loops are not supported: model the loop with a gateway and a sequence flow "
                      "back (kimflow keeps such loops flat for years).")


def _connector(checker: _Checker, node: etree._Element) -> None:
    checker.add(node, f"Camunda Connect connectors are not supported: {USE_EXTERNAL}.")


def _listener(checker: _Checker, node: etree._Element) -> None:
    kind = local_name(node)
    if any(node.get(a) for a in ("class", "delegateExpression", "expression")):
        checker.add(node, f"Java {kind}s (class, delegateExpression, expression) are not supported: use a "
                          'listener with a <camunda:script scriptFormat="python"> body.')
        return
    script = node.find(f"{_C}script")
    if script is None or (script.get("scriptFormat") or "").lower() != "python" or script.get("resource"):
        checker.add(node, f'A {kind} needs an inline <camunda:script scriptFormat="python">.')
        return
    events = {"executionListener": ("start", "end"), "taskListener": ("create", "complete")}[kind]
    if node.get("event") not in events:
        checker.add(node, f"{kind} event {node.get('event')!r} is not supported: use {' or '.join(events)}.")
        return
    checker.script(node, script.text, f"{kind} script")


def _parameter(checker: _Checker, node: etree._Element) -> None:
    children = [c for c in node if isinstance(c.tag, str)]
    if not children:
        checker.attribute_expression(node, node.text, f"Parameter {node.get('name')!r}")
        return
    for child in children:
        if local_name(child) == "script":
            script_format = (child.get("scriptFormat") or "").lower()
            if script_format != "python" or child.get("resource"):
                checker.add(node, f"Parameter {node.get('name')!r}: only inline Python scripts are supported.")
            else:
                checker.expression(node, child.text, f"Parameter {node.get('name')!r}")


def _form_field(checker: _Checker, node: etree._Element) -> None:
    field_type = node.get("type") or "string"
    if field_type not in ("string", "long", "boolean", "date", "enum"):
        checker.add(node, f"Form field type {field_type!r} is not supported: use string, long, boolean, date "
                          "or enum.")


def _history_time_to_live(checker: _Checker, node: etree._Element) -> None:
    try:
        ttl_days(camunda_attr(node, "historyTimeToLive"))
    except ValueError as error:
        checker.add(node, str(error))


_BPMN_ELEMENT_CHECKS: dict[str, tuple[Callable[[_Checker, etree._Element], None], ...]] = {
    "process": (_history_time_to_live,),
    "serviceTask": (_implementation,),
    "sendTask": (_implementation,),
    "businessRuleTask": (_business_rule,),
    "scriptTask": (_script_task,),
    "callActivity": (_call_activity,),
    "conditionExpression": (_condition,),
    "timeDate": (_timer,),
    "timeDuration": (_timer,),
    "timeCycle": (_timer,),
    "multiInstanceLoopCharacteristics": (_multi_instance,),
    "standardLoopCharacteristics": (_standard_loop,),
    "messageEventDefinition": (_message_throw,),
}

_CAMUNDA_ELEMENT_CHECKS: dict[str, tuple[Callable[[_Checker, etree._Element], None], ...]] = {
    "connector": (_connector,),
    "executionListener": (_listener,),
    "taskListener": (_listener,),
    "inputParameter": (_parameter,),
    "outputParameter": (_parameter,),
    "formField": (_form_field,),
    "failedJobRetryTimeCycle": (_retry_cycle,),
}
