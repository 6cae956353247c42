"""Every model in bpmn/ opens cleanly in Camunda Modeler: a BPMNDiagram with a shape for every flow node (and
every boundary event, lane, participant, data object reference) and an edge for every sequence flow, with
shapes that do not overlap; every model and form deploys together; every user task and start event names a
form. Unit tests on the files; the deployment check uses the engine's own validation without a database."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree

from workflows.engine import lint, parser

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "bpmn").glob("*.bpmn"))
FORMS = {p.name: p for p in (ROOT / "forms").glob("*.form")}
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
FLOW_NODES = ("task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask",
              "receiveTask", "callActivity", "subProcess", "startEvent", "endEvent", "intermediateCatchEvent",
              "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
              "eventBasedGateway")


def _ids(tree: etree._ElementTree, *tags: str) -> set[str]:
    return {node.get("id") for tag in tags for node in tree.iter(f"{{{BPMN}}}{tag}")}


def _shapes(tree: etree._ElementTree) -> dict[str, tuple[float, float, float, float]]:
    found = {}
    for shape in tree.iter(f"{{{BPMNDI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        assert bounds is not None, f"shape {shape.get('id')} has no bounds"
        found[shape.get("bpmnElement")] = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    return found


def test_there_are_models() -> None:
    assert MODELS, "bpmn/ holds the KIM processes"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_every_flow_node_has_a_shape_and_every_flow_an_edge(path: Path) -> None:
    tree = etree.parse(str(path))
    shapes = _shapes(tree)
    edges = {edge.get("bpmnElement") for edge in tree.iter(f"{{{BPMNDI}}}BPMNEdge")}
    assert _ids(tree, *FLOW_NODES) - set(shapes) == set()
    assert _ids(tree, "sequenceFlow") - edges == set()
    for edge in tree.iter(f"{{{BPMNDI}}}BPMNEdge"):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, edge.get("id")


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_shapes_of_one_level_do_not_overlap(path: Path) -> None:
    tree = etree.parse(str(path))
    shapes = _shapes(tree)
    containers = _ids(tree, "subProcess", "participant", "lane")
    boundary = _ids(tree, "boundaryEvent")
    plain = {k: v for k, v in shapes.items() if k not in containers and k not in boundary}

    def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    clashes = [(x, y) for (x, a), (y, b) in combinations(plain.items(), 2) if overlap(a, b)]
    assert clashes == []


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_models_parse_lint_clean_and_name_their_forms(path: Path) -> None:
    tree = etree.parse(str(path))
    assert lint.lint(tree, path.name) == []
    processes, problems = parser.parse_processes(tree, path.name)
    assert problems == [] and processes
    for node in [*tree.iter(f"{{{BPMN}}}userTask"), *tree.iter(f"{{{BPMN}}}startEvent")]:
        if node.getparent().tag == f"{{{BPMN}}}subProcess" and node.tag.endswith("startEvent"):
            continue  # start events of (event) subprocesses have no form
        if node.find(f"{{{BPMN}}}messageEventDefinition") is not None or \
                node.find(f"{{{BPMN}}}timerEventDefinition") is not None or \
                node.find(f"{{{BPMN}}}signalEventDefinition") is not None:
            continue  # started by a message, timer or signal: nobody fills in a form
        assert node.get(f"{{{CAMUNDA}}}formRef"), f"{path.name}: {node.get('id')} has no camunda:formRef"


def test_all_models_decisions_and_forms_deploy_together() -> None:
    from workflows import decisions, forms

    form_keys = {forms.parse_form_js(p.read_bytes(), name).key for name, p in FORMS.items()}
    decision_keys = {d.key for p in (ROOT / "bpmn").glob("*.dmn") for d in decisions.parse_dmn(p.read_bytes(), p.name)}
    for path in MODELS:
        processes, _problems = parser.parse_processes(etree.parse(str(path)), path.name)
        for process in processes:
            assert {ref for ref, _element, _line in process.form_refs} - form_keys == set(), path.name
            assert {ref for ref, _element, _line in process.decision_refs} - decision_keys == set(), path.name
