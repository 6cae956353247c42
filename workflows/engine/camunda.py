"""Read the Camunda 7 dialect from BPMN XML into plain, JSON-serializable dictionaries.

SpiffWorkflow ignores most `camunda:` attributes. kimflow reads them here, stores them in each task spec's
`extensions["camunda"]` (which SpiffWorkflow serializes with the spec), and interprets them at run time.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "camunda": CAMUNDA_NS,
}

_C = f"{{{CAMUNDA_NS}}}"

# Attributes copied verbatim (camunda name -> kimflow key). Values are literal text or expressions.
_ATTRIBUTES = {
    "assignee": "assignee",
    "candidateUsers": "candidate_users",
    "candidateGroups": "candidate_groups",
    "dueDate": "due_date",
    "followUpDate": "follow_up_date",
    "priority": "priority",
    "formKey": "form_key",
    "formRef": "form_ref",
    "formRefBinding": "form_ref_binding",
    "formRefVersion": "form_ref_version",
    "type": "type",
    "topic": "topic",
    "taskPriority": "task_priority",
    "decisionRef": "decision_ref",
    "decisionRefBinding": "decision_ref_binding",
    "decisionRefVersion": "decision_ref_version",
    "decisionRefVersionTag": "decision_ref_version_tag",
    "decisionRefTenantId": "decision_ref_tenant_id",
    "mapDecisionResult": "map_decision_result",
    "resultVariable": "result_variable",
    "calledElementBinding": "called_element_binding",
    "calledElementVersion": "called_element_version",
    "calledElementVersionTag": "called_element_version_tag",
    "calledElementTenantId": "called_element_tenant_id",
    "collection": "collection",
    "elementVariable": "element_variable",
    "asyncBefore": "async_before",
    "asyncAfter": "async_after",
    "initiator": "initiator",
    "errorCodeVariable": "error_code_variable",
    "errorMessageVariable": "error_message_variable",
    "escalationCodeVariable": "escalation_code_variable",
    "variableName": "variable_name",
    "variableEvents": "variable_events",
}


def local_name(node: etree._Element) -> str:
    return etree.QName(node).localname


def camunda_attr(node: etree._Element, name: str) -> str | None:
    value = node.get(_C + name)
    return value if value is None else value.strip() or None


def read_extensions(node: etree._Element) -> dict[str, Any]:
    """Everything kimflow needs of one flow node's Camunda dialect, as plain data."""
    data: dict[str, Any] = {"element_type": local_name(node)}
    for attribute, key in _ATTRIBUTES.items():
        value = camunda_attr(node, attribute)
        if value is not None:
            data[key] = value
    elements = _extension_elements(node)
    if elements is not None:
        data.update(_read_extension_elements(elements))
    data.update(_event_definition_attributes(node))
    if local_name(node) == "startEvent":
        data["interrupting"] = node.get("isInterrupting", "true") != "false"
    if local_name(node) == "callActivity":
        data["called_element"] = node.get("calledElement")
    if local_name(node) == "scriptTask":
        data["script_format"] = (node.get("scriptFormat") or "").strip().lower() or None
    loop = node.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    if loop is not None:
        data["multi_instance"] = _read_multi_instance(loop)
    return {k: v for k, v in data.items() if v not in (None, {}, [])}


def _event_definition_attributes(node: etree._Element) -> dict[str, Any]:
    """camunda:errorCodeVariable and friends sit on the event definition, not on the event."""
    found = {}
    for child in node:
        if isinstance(child.tag, str) and local_name(child).endswith("EventDefinition"):
            for attribute in ("errorCodeVariable", "errorMessageVariable", "escalationCodeVariable"):
                value = camunda_attr(child, attribute)
                if value:
                    found[_ATTRIBUTES[attribute]] = value
    return found


def read_properties(node: etree._Element) -> dict[str, str]:
    elements = _extension_elements(node)
    if elements is None:
        return {}
    return _properties(elements)


def _extension_elements(node: etree._Element) -> etree._Element | None:
    return node.find(f"{{{BPMN_NS}}}extensionElements")


def _read_extension_elements(elements: etree._Element) -> dict[str, Any]:
    data: dict[str, Any] = {
        "properties": _properties(elements),
        "form_data": _form_data(elements),
        "io": _input_output(elements),
        "call_in": _call_mappings(elements, "in"),
        "call_out": _call_mappings(elements, "out"),
        "listeners": _listeners(elements),
    }
    retry = elements.find(f"{_C}failedJobRetryTimeCycle")
    if retry is not None and (retry.text or "").strip():
        data["retry_cycle"] = retry.text.strip()
    return data


def _properties(elements: etree._Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in elements.iterfind(f"{_C}properties/{_C}property")}


def _form_data(elements: etree._Element) -> list[dict[str, Any]]:
    fields = []
    for field in elements.iterfind(f"{_C}formData/{_C}formField"):
        fields.append({
            "id": field.get("id"),
            "label": field.get("label"),
            "type": field.get("type") or "string",
            "defaultValue": field.get("defaultValue"),
            "values": [(v.get("id"), v.get("name")) for v in field.iterfind(f"{_C}value")],
            "validation": [(c.get("name"), c.get("config")) for c in field.iterfind(f"{_C}validation/{_C}constraint")],
            "properties": {p.get("id"): p.get("value") for p in field.iterfind(f"{_C}properties/{_C}property")},
        })
    return fields


def _input_output(elements: etree._Element) -> dict[str, Any]:
    io = elements.find(f"{_C}inputOutput")
    if io is None:
        return {}
    return {
        "inputs": [_parameter(p) for p in io.iterfind(f"{_C}inputParameter")],
        "outputs": [_parameter(p) for p in io.iterfind(f"{_C}outputParameter")],
    }


def _parameter(node: etree._Element) -> dict[str, Any]:
    return {"name": node.get("name"), "value": parameter_value(node), "line": node.sourceline}


def parameter_value(node: etree._Element) -> dict[str, Any]:
    """A Camunda parameter value: text/expression, list, map or script, as a tagged dictionary."""
    children = [c for c in node if isinstance(c.tag, str)]
    if not children:
        return {"kind": "text", "text": node.text or ""}
    child = children[0]
    kind = local_name(child)
    if kind == "list":
        return {"kind": "list", "items": [parameter_value(item) for item in child if isinstance(item.tag, str)]}
    if kind == "map":
        entries = [e for e in child if isinstance(e.tag, str)]
        return {"kind": "map", "entries": [(e.get("key"), parameter_value(e)) for e in entries]}
    if kind == "script":
        return {"kind": "script", "format": (child.get("scriptFormat") or "").lower(), "text": child.text or "",
                "resource": child.get("resource")}
    return {"kind": "unknown", "tag": kind}


def _call_mappings(elements: etree._Element, direction: str) -> list[dict[str, Any]]:
    mappings = []
    for node in elements.iterfind(f"{_C}{direction}"):
        mappings.append({
            "source": node.get("source"),
            "source_expression": node.get("sourceExpression"),
            "target": node.get("target"),
            "variables": node.get("variables"),
            "business_key": node.get("businessKey"),
            "local": node.get("local") == "true",
        })
    return mappings


def _listeners(elements: etree._Element) -> list[dict[str, Any]]:
    found = []
    for tag in ("executionListener", "taskListener"):
        for node in elements.iterfind(f"{_C}{tag}"):
            script = node.find(f"{_C}script")
            found.append({
                "kind": tag,
                "event": node.get("event"),
                "class": node.get("class"),
                "delegate_expression": node.get("delegateExpression"),
                "expression": node.get("expression"),
                "script_format": (script.get("scriptFormat") or "").lower() if script is not None else None,
                "script": script.text if script is not None else None,
                "script_resource": script.get("resource") if script is not None else None,
                "line": node.sourceline,
            })
    return found


def _read_multi_instance(loop: etree._Element) -> dict[str, Any]:
    def text_of(tag: str) -> str | None:
        node = loop.find(f"{{{BPMN_NS}}}{tag}")
        return (node.text or "").strip() or None if node is not None else None

    return {
        "sequential": loop.get("isSequential") == "true",
        "collection": camunda_attr(loop, "collection"),
        "element_variable": camunda_attr(loop, "elementVariable"),
        "cardinality": text_of("loopCardinality"),
        "completion_condition": text_of("completionCondition"),
    }
