"""Process instances through the runtime API: start, variables, suspend, resume, terminate, call activities."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, CASEWORKER, OTHER_CASEWORKER, SUPERVISOR, deploy
from workflows import audit, human_tasks, instances, schema
from workflows.context import Actor
from workflows.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from workflows.states import InstanceState


def _tasks(runtime: Runtime, actor: Actor = ADMIN, **filters: object) -> list[schema.HumanTask]:
    with runtime.command(actor) as ctx:
        return human_tasks.find(ctx, human_tasks.TaskQuery(**filters))  # type: ignore[arg-type]


def _complete(runtime: Runtime, task_id: str, actor: Actor = ADMIN, **values: object) -> None:
    with runtime.command(actor) as ctx:
        human_tasks.complete(ctx, task_id, values)


def test_start_by_key_runs_to_the_first_task_and_records_the_start(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command(CASEWORKER) as ctx:
        started = instances.start(ctx, key="three_tasks", business_key="FM-2026-17", variables_in={"name": "Ada"})
    assert started.state == InstanceState.ACTIVE
    assert started.started_by == "erika"
    tasks = _tasks(runtime)
    assert [(t.task_definition_key, t.business_key, t.candidate_groups) for t in tasks] == [
        ("task_a", "FM-2026-17", ["fm-team"])]
    with runtime.command() as ctx:
        kinds = [e.kind for e in audit.for_instance(ctx, started.id)]
        assert instances.get_variables(ctx, started.id) == {"name": "Ada"}
    assert kinds[:3] == ["instance_started", "activity_end", "task_created"]


def test_unknown_key_is_not_found(runtime: Runtime) -> None:
    with runtime.command() as ctx, pytest.raises(NotFoundError):
        instances.start(ctx, key="nope")


def test_candidate_starter_groups_and_users(runtime: Runtime) -> None:
    deploy(runtime, "user_task_attributes")
    with runtime.command(OTHER_CASEWORKER) as ctx, pytest.raises(PermissionDeniedError):
        instances.start(ctx, key="attributes")
    with runtime.command(CASEWORKER) as ctx:
        assert instances.start(ctx, key="attributes", variables_in={"tage": 3}).state == "active"
    with runtime.command(Actor("tina", "supervisor", frozenset())) as ctx:
        instances.start(ctx, key="attributes")


def test_whole_instance_to_completion(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    for step in range(3):
        _complete(runtime, _tasks(runtime)[0].id, CASEWORKER, step=step)
    with runtime.command() as ctx:
        done = instances.get(ctx, started.id)
        assert done is not None and done.state == InstanceState.COMPLETED and done.ended_at is not None
        assert instances.get_variables(ctx, started.id) == {"step": 2}
        history = [(e.kind, e.element_id) for e in audit.for_instance(ctx, started.id, kinds=["activity_end"])]
    assert [element for _kind, element in history] == ["start", "task_a", "task_b", "task_c", "end"]
    assert _tasks(runtime) == []


def test_set_variables_is_audited_with_old_and_new_value(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks", variables_in={"frist": "2026-02-01"})
    with runtime.command(SUPERVISOR) as ctx:
        instances.set_variables(ctx, started.id, {"frist": "2026-03-01", "neu": 1}, ["nicht_da"],
                                reason="Frist verlängert")
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, started.id) == {"frist": "2026-03-01", "neu": 1}
        event = audit.for_instance(ctx, started.id, kinds=["variables_updated"])[0]
    assert event.actor == "tina"
    assert event.details["changes"]["frist"] == {"old": "2026-02-01", "new": "2026-03-01"}
    assert event.details["reason"] == "Frist verlängert"
    _complete(runtime, _tasks(runtime)[0].id)
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, started.id)["neu"] == 1  # the change reached the next task


def test_invalid_variable_names_are_refused(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    with runtime.command() as ctx, pytest.raises(InvalidInputError):
        instances.set_variables(ctx, started.id, {"__class__": 1})


def test_suspend_blocks_work_and_resume_allows_it_again(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    task_id = _tasks(runtime)[0].id
    with runtime.command(SUPERVISOR) as ctx:
        instances.suspend(ctx, started.id, reason="Klärung")
    assert _tasks(runtime)[0].suspended
    with runtime.command(CASEWORKER) as ctx, pytest.raises(ConflictError):
        human_tasks.complete(ctx, task_id)
    with runtime.command(SUPERVISOR) as ctx:
        instances.resume(ctx, started.id)
    _complete(runtime, task_id, CASEWORKER)
    assert _tasks(runtime)[0].task_definition_key == "task_b"


def test_terminate_needs_a_reason_and_removes_open_work(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    with runtime.command(SUPERVISOR) as ctx, pytest.raises(InvalidInputError):
        instances.terminate(ctx, started.id, reason=" ")
    with runtime.command(SUPERVISOR) as ctx:
        instances.terminate(ctx, started.id, reason="Wegzug aus dem Kreis")
    with runtime.command() as ctx:
        ended = instances.get(ctx, started.id)
        assert ended is not None and ended.state == InstanceState.TERMINATED
        assert ended.end_reason == "Wegzug aus dem Kreis"
        assert audit.for_instance(ctx, started.id, kinds=["instance_terminated"])[0].actor == "tina"
    assert _tasks(runtime) == []
    with runtime.command() as ctx, pytest.raises(ConflictError):
        instances.terminate(ctx, started.id, reason="again")


def test_call_activity_starts_a_child_instance_with_mappings(runtime: Runtime) -> None:
    deploy(runtime, "call_activity")
    with runtime.command() as ctx:
        parent = instances.start(ctx, key="parent", variables_in={"aktenzeichen": "EB-2026-4", "person": "Ada",
                                                                   "alter": 30, "intern": "x"})
    with runtime.command() as ctx:
        children = instances.list_instances(ctx, super_instance_id=parent.id)
        assert len(children) == 1
        child = children[0]
        assert (child.definition_key, child.business_key) == ("child", "EB-2026-4")
        assert instances.get_variables(ctx, child.id) == {"antragsteller": "Ada", "alter_naechstes_jahr": 31}
    (task,) = _tasks(runtime)
    assert task.instance_id == child.id
    _complete(runtime, task.id, ergebnis="positiv", sonst="nicht zurück")
    with runtime.command() as ctx:
        assert instances.get(ctx, child.id).state == InstanceState.COMPLETED  # type: ignore[union-attr]
        variables = instances.get_variables(ctx, parent.id)
    assert variables["einbuergerung_ergebnis"] == "positiv"
    assert "sonst" not in variables
    assert [t.task_definition_key for t in _tasks(runtime)] == ["abschluss"]


def test_call_activity_child_that_ends_at_once_returns_all_variables(runtime: Runtime) -> None:
    deploy(runtime, "call_activity")
    with runtime.command() as ctx:
        parent = instances.start(ctx, key="parent_all", variables_in={"zahl": 21})
        assert instances.get(ctx, parent.id).state == InstanceState.COMPLETED  # type: ignore[union-attr]
        assert instances.get_variables(ctx, parent.id) == {"zahl": 21, "doppelt": 42}


def test_terminating_a_parent_terminates_its_child(runtime: Runtime) -> None:
    deploy(runtime, "call_activity")
    with runtime.command() as ctx:
        parent = instances.start(ctx, key="parent", variables_in={"aktenzeichen": "X", "person": "Y", "alter": 1})
    with runtime.command(SUPERVISOR) as ctx:
        instances.terminate(ctx, parent.id, reason="Antrag zurückgenommen")
    with runtime.command() as ctx:
        states = {i.definition_key: i.state for i in instances.list_instances(ctx)}
    assert states == {"parent": "terminated", "child": "terminated"}


def test_instance_state_survives_many_commands_without_spec_in_state(runtime: Runtime) -> None:
    deploy(runtime, "loop")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="wiedervorlage_loop", variables_in={"abgeschlossen": False})
    sizes = []
    for _round in range(30):
        for _ in range(2):
            _complete(runtime, _tasks(runtime)[0].id)
        with runtime.command() as ctx:
            sizes.append(len(ctx.session.get(schema.ProcessInstance, started.id).engine_state))  # type: ignore[union-attr]
    assert max(sizes) < 8000
    assert sizes[-1] <= sizes[5] * 1.2
    with runtime.command() as ctx:
        row = ctx.session.get(schema.ProcessInstance, started.id)
        assert '"spec"' not in row.engine_state  # type: ignore[union-attr]
        assert ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.AuditEvent).where(
            schema.AuditEvent.instance_id == started.id, schema.AuditEvent.kind == "task_completed")) == 60
