"""Camunda attributes in the forms that no other test runs: candidate users from an expression, a literal due
date-time and a follow-up duration, singleResult decision mapping, and version bindings of forms and calls.

Engine tests run straight through and with save/restore per step; bindings need deployed versions, so they run
through the runtime.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, DATA, deploy
from tests.engine_harness import Harness
from workflows import definitions, forms, human_tasks, instances
from workflows.clock import ManualClock


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


def test_candidates_from_expressions_literal_due_date_and_follow_up_duration(restore: bool) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    h = Harness("task_attributes/candidates_and_dates.bpmn", "beteiligte_und_fristen", restore=restore,
                clock=clock).start(vertretung=["bernd", "tina"], teams="fm-team, abh-team")
    info = h.ready_task("sichten").internal_data["kim_task"]
    assert info["candidate_users"] == ["bernd", "tina"]  # a list from ${vertretung}
    assert info["candidate_groups"] == ["fm-team", "abh-team"]  # a comma-separated text from ${teams}
    assert info["due"] == "2026-04-01T10:00:00+00:00"  # 12:00 in Berlin summer time
    assert info["follow_up"] == "2026-03-09T08:00:00+00:00"  # P1W from creation


def test_business_rule_task_maps_a_single_result_with_all_its_outputs(restore: bool) -> None:
    h = Harness("decision_result/single_result.bpmn", "aufenthalt_bewerten", restore=restore,
                dmn_files=("decision_result/aufenthaltsdauer.dmn",)).start(jahre=6)
    assert h.variables["aufenthalt"] == {"ausreichend": True, "hinweis": "Voraufenthalt erfüllt"}
    assert h.ready() == ["pruefen"]


def _deploy_changed(runtime: Runtime, folder: str, name: str, old: bytes, new: bytes) -> None:
    content = (DATA / folder / name).read_bytes()
    assert old in content
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(name, content.replace(old, new))])


def _labels(form: forms.FormDefinition | None) -> list[str | None]:
    assert form is not None
    return [field.label for field in forms.input_fields(form)]


def test_form_ref_binding_version_keeps_its_form_and_latest_takes_the_newest(runtime: Runtime) -> None:
    deploy(runtime, "user_task_attributes")
    _deploy_changed(runtime, "user_task_attributes", "erstkontakt.form", b'"label": "Name"', b'"label": "Nachname"')
    _deploy_changed(runtime, "user_task_attributes", "start_form.form", b'"label": "Vorname"', b'"label": "Rufname"')
    with runtime.command(ADMIN) as ctx:
        definition = definitions.latest_process(ctx, "attributes", None)
        assert definition is not None and definition.version == 1
        start_form = definitions.resolve_form(ctx, definition.start_form or {}, definition.deployment_id)
        assert _labels(start_form) == ["Rufname"]  # formRefBinding="latest": the newest version of the form
        instance = instances.start(ctx, key="attributes", variables_in={
            "tage": 3, "teams": ["fm-team"], "frist": "P1D", "wiedervorlage": "P1D", "prio": 1}).id
    with runtime.command(ADMIN) as ctx:
        (first,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))
        assert _labels(human_tasks.form_for(ctx, first)) == ["Aktenzeichen", "Name"]  # the file of its deployment
        human_tasks.complete(ctx, first.id)
    with runtime.command(ADMIN) as ctx:
        (second,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))
        assert (second.form or {})["form_ref_binding"] == "version"
        assert _labels(human_tasks.form_for(ctx, second)) == ["Aktenzeichen", "Name"]  # version 1, not 2


def test_call_activity_binding_version_calls_that_version_and_latest_the_newest(runtime: Runtime) -> None:
    deploy(runtime, "call_activity_binding")
    _deploy_changed(runtime, "call_activity_binding", "child.bpmn", b"gebuehr = 255", b"gebuehr = 300")
    with runtime.command() as ctx:
        pinned = instances.start(ctx, key="gebuehr_nach_version").id
        latest = instances.start(ctx, key="gebuehr_aktuell").id
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, pinned) == {"gebuehr": 255}
        assert instances.get_variables(ctx, latest) == {"gebuehr": 300}
        versions = sorted(definitions.info(ctx, child.definition_id).version  # type: ignore[union-attr]
                          for parent in (pinned, latest)
                          for child in instances.list_instances(ctx, super_instance_id=parent))
    assert versions == [1, 2]
