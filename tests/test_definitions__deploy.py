"""Deployments: validated together, versioned by content, stored once; on any error nothing is stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import DATA, deploy, scenario_files
from workflows import definitions, instances, schema
from workflows.definitions import DuplicateMode
from workflows.errors import DeploymentError


def _deploy_file(runtime: Runtime, relative: str, **kwargs: object) -> definitions.DeploymentResult:
    path = DATA / relative
    with runtime.command() as ctx:
        return definitions.deploy(ctx, [(path.name, path.read_bytes())], **kwargs)  # type: ignore[arg-type]


def _problems(runtime: Runtime, relative: str) -> list:
    with pytest.raises(DeploymentError) as caught:
        _deploy_file(runtime, relative)
    return caught.value.problems


def _count(runtime: Runtime, model: type) -> int:
    with runtime.command() as ctx:
        return int(ctx.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_deploy_stores_definitions_spec_and_resources(runtime: Runtime) -> None:
    result = deploy(runtime, "user_task_attributes")
    assert [(p.key, p.version) for p in result.processes] == [("attributes", 1)]
    assert sorted((f.key, f.version) for f in result.forms) == [("erstkontakt", 1), ("start_form", 1)]
    definition = result.processes[0]
    assert definition.candidate_starter_groups == ["fm-team"]
    assert definition.candidate_starter_users == ["tina"]
    assert definition.start_form["form_ref"] == "start_form"
    assert _count(runtime, schema.ProcessSpec) == 1
    assert _count(runtime, schema.DeploymentResource) == 3


def test_version_tag_and_history_time_to_live_are_read(runtime: Runtime) -> None:
    definition = deploy(runtime, "three_tasks").processes[0]
    assert (definition.version_tag, definition.history_time_to_live, definition.name) == ("1.0", 180,
                                                                                          "Drei Aufgaben")


def test_unchanged_content_is_not_versioned_again(runtime: Runtime) -> None:
    first = deploy(runtime, "three_tasks")
    second = deploy(runtime, "three_tasks")
    assert second.duplicate
    assert second.deployment.id == first.deployment.id
    assert _count(runtime, schema.ProcessDefinition) == 1


def test_changed_content_becomes_the_next_version_and_running_instances_stay(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        old = instances.start(ctx, key="three_tasks")
    (name, content), = scenario_files("three_tasks")
    changed = content.replace(b'name="Hilfeplan"', b'name="Hilfeplan erstellen"')
    with runtime.command() as ctx:
        result = definitions.deploy(ctx, [(name, changed)])
    assert [(p.key, p.version) for p in result.processes] == [("three_tasks", 2)]
    with runtime.command() as ctx:
        new = instances.start(ctx, key="three_tasks")
        assert instances.get(ctx, old.id).definition_id.startswith("three_tasks:1:")  # type: ignore[union-attr]
        assert new.definition_id.startswith("three_tasks:2:")
        assert ctx.session.get(schema.ProcessSpec, result.processes[0].spec_hash) is not None


def test_always_mode_versions_even_unchanged_content(runtime: Runtime) -> None:
    _deploy_file(runtime, "three_tasks/three_tasks.bpmn")
    again = _deploy_file(runtime, "three_tasks/three_tasks.bpmn", mode=DuplicateMode.ALWAYS)
    assert [(p.key, p.version) for p in again.processes] == [("three_tasks", 2)]
    assert _count(runtime, schema.ProcessSpec) == 1  # same spec content is stored once


def test_java_constructs_are_rejected_with_element_line_and_advice(runtime: Runtime) -> None:
    problems = _problems(runtime, "invalid/java_constructs.bpmn")
    by_element = {p.element: p for p in problems}
    assert {"java_class", "delegate", "connector", "listener_task", "no_impl"} <= set(by_element)
    assert "camunda:class" in by_element["java_class"].message
    assert 'camunda:type="external"' in by_element["java_class"].message
    assert by_element["java_class"].line == 6
    assert by_element["java_class"].file == "java_constructs.bpmn"
    assert "connector" in by_element["connector"].message.lower()
    assert "python" in by_element["listener_task"].message.lower()
    assert _count(runtime, schema.Deployment) == 0


def test_expression_and_script_errors_are_all_reported(runtime: Runtime) -> None:
    problems = _problems(runtime, "invalid/bad_expressions.bpmn")
    elements = {p.element for p in problems}
    assert {"f2", "skript", "groovy", "warten", "dunder", "aufgabe"} <= elements
    messages = " ".join(p.message for p in problems)
    assert "groovy" in messages
    assert "P3X" in messages
    assert all(p.line for p in problems)


def test_missing_form_and_decision_references(runtime: Runtime) -> None:
    problems = _problems(runtime, "invalid/missing_references.bpmn")
    assert {(p.element, "form" in p.message or "decision" in p.message) for p in problems} == {
        ("form_task", True), ("file_form", True), ("rule", True)}


def test_references_to_already_deployed_forms_and_decisions_are_fine(runtime: Runtime) -> None:
    erstkontakt = DATA / "user_task_attributes" / "erstkontakt.form"
    dmn = DATA / "business_rule" / "straftaten.dmn"
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(erstkontakt.name, erstkontakt.read_bytes()), (dmn.name, dmn.read_bytes())])
    bpmn = (DATA / "business_rule" / "business_rule.bpmn")
    with runtime.command() as ctx:
        result = definitions.deploy(ctx, [(bpmn.name, bpmn.read_bytes())])
    assert [p.key for p in result.processes] == ["business_rule"]


@pytest.mark.parametrize("name", ["invalid/xxe.bpmn", "invalid/billion_laughs.bpmn"])
def test_hostile_xml_is_refused_before_parsing(runtime: Runtime, name: str) -> None:
    problems = _problems(runtime, name)
    assert "DOCTYPE" in problems[0].message
    assert problems[0].line == 2


def test_malformed_xml_names_file_and_line(runtime: Runtime) -> None:
    problems = _problems(runtime, "invalid/malformed.bpmn")
    assert problems[0].file == "malformed.bpmn"
    assert problems[0].line in (5, 6)
    assert "well-formed" in problems[0].message


def test_one_bad_file_stores_nothing_of_the_whole_deployment(runtime: Runtime) -> None:
    files = [*scenario_files("three_tasks"), ("malformed.bpmn", (DATA / "invalid/malformed.bpmn").read_bytes())]
    with runtime.command() as ctx, pytest.raises(DeploymentError):
        definitions.deploy(ctx, files)
    for model in (schema.Deployment, schema.DeploymentResource, schema.ProcessDefinition, schema.ProcessSpec):
        assert _count(runtime, model) == 0


def test_duplicate_process_keys_in_one_deployment(runtime: Runtime) -> None:
    (name, content), = scenario_files("three_tasks")
    with runtime.command() as ctx, pytest.raises(DeploymentError) as caught:
        definitions.deploy(ctx, [(name, content), ("copy.bpmn", content)])
    assert "three_tasks" in caught.value.problems[0].message


def test_deployment_too_large_is_refused(runtime: Runtime) -> None:
    with runtime.command() as ctx, pytest.raises(DeploymentError) as caught:
        definitions.deploy(ctx, [("big.bpmn", b" " * (ctx.settings.max_deployment_bytes + 1))])
    assert "larger" in caught.value.problems[0].message


def test_delete_deployment_refused_while_instances_run_unless_cascade(runtime: Runtime) -> None:
    result = deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    from workflows.errors import ConflictError

    with runtime.command() as ctx, pytest.raises(ConflictError):
        definitions.delete_deployment(ctx, result.deployment.id)
    with runtime.command() as ctx:
        assert definitions.delete_deployment(ctx, result.deployment.id, cascade=True)
    with runtime.command() as ctx:
        assert instances.get(ctx, started.id) is None
        assert ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.HumanTask)) == 0
