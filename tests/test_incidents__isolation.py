"""Failing steps become incidents without losing earlier work; retries re-run exactly the failed step;
an exception at any point of a command leaves the database exactly as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from workflows import audit, execution, human_tasks, incidents, instance_rows, instances, projections, schema, timers
from workflows.clock import ManualClock
from workflows.engine import runner


def _open_tasks(runtime: Runtime) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery()))


def _complete_only(runtime: Runtime, **values: Any) -> None:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery())
        human_tasks.complete(ctx, task.id, values)


def _fire(runtime: Runtime) -> None:
    with runtime.command() as ctx:
        timers.fire_due(ctx)


def test_failing_script_is_retried_on_its_cycle_then_becomes_an_incident(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "scripts")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="scripts", variables_in={"alter": 20}).id  # `strafen` is missing
    with runtime.command() as ctx:
        assert incidents.list_open(ctx, instance_id=instance) == []  # first failure: a retry is scheduled
        (retry,) = ctx.session.scalars(sa.select(schema.Timer).where(schema.Timer.kind == "job_retry")).all()
        assert (retry.element_id, retry.due_at) == ("berechnen", clock.now() + timedelta(minutes=10))
    clock.advance(minutes=9)
    _fire(runtime)
    clock.advance(minutes=1)
    _fire(runtime)  # second of R2 attempts fails too: now it needs a person
    with runtime.command() as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=instance)
        assert incident.element_id == "berechnen"
        assert "strafen" in incident.message
        assert incident.stacktrace
        assert instances.get(ctx, instance).open_incidents == 1  # type: ignore[union-attr]
        assert [e.details["attempt"] for e in audit.for_instance(ctx, instance, kinds=["job_failed"])] == [1]
    assert _open_tasks(runtime) == []
    with runtime.command() as ctx:
        incidents.retry(ctx, incident.id)  # still failing: counted as another attempt
    with runtime.command() as ctx:
        assert incidents.get(ctx, incident.id).attempts == 2  # type: ignore[union-attr]
        instances.set_variables(ctx, instance, {"strafen": [30, 20]}, reason="Strafen nachgetragen")
    with runtime.command() as ctx:
        incidents.retry(ctx, incident.id)
    with runtime.command() as ctx:
        assert incidents.get(ctx, incident.id).state == "resolved"  # type: ignore[union-attr]
        assert instances.get(ctx, instance).open_incidents == 0  # type: ignore[union-attr]
        assert instances.get_variables(ctx, instance)["summe"] == 50
        kinds = [e.kind for e in audit.for_instance(ctx, instance)]
    assert {"incident_created", "incident_updated", "incident_retried", "incident_resolved"} <= set(kinds)
    assert _open_tasks(runtime) == ["sehen"]


def test_default_retries_then_incident_and_earlier_completion_stays(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "scripts")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="attack").id
    _complete_only(runtime, bearbeitet=True)
    for _ in range(2):  # three attempts in all, five minutes apart (settings)
        clock.advance(seconds=runtime.settings.job_retry_delay_seconds)
        _fire(runtime)
    with runtime.command() as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=instance)
        assert incident.element_id == "boese"
        assert instances.get_variables(ctx, instance) == {"bearbeitet": True}
        assert len(audit.for_instance(ctx, instance, kinds=["task_completed"])) == 1
        assert len(audit.for_instance(ctx, instance, kinds=["job_failed"])) == 2


def test_a_retry_that_succeeds_needs_no_incident(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "scripts")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="scripts", variables_in={"alter": 20}).id
    with runtime.command() as ctx:
        instances.set_variables(ctx, instance, {"strafen": [91]})
    clock.advance(minutes=10)
    _fire(runtime)
    with runtime.command() as ctx:
        assert incidents.list_open(ctx, instance_id=instance) == []
        assert instances.get_variables(ctx, instance)["erheblich"] is True
        assert ctx.session.scalars(sa.select(schema.Timer).where(schema.Timer.kind == "job_retry")).all() == []
    assert _open_tasks(runtime) == ["sehen"]


class Boom(Exception):
    pass


@contextmanager
def _explode(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> Iterator[None]:
    original = getattr(target, name)

    def boom(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise Boom(name)

    monkeypatch.setattr(target, name, boom)
    yield
    monkeypatch.setattr(target, name, original)


def _snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    with runtime.command() as ctx:
        return {table.name: sorted(map(tuple, ctx.session.execute(sa.select(table)).all()), key=repr)
                for table in schema.Base.metadata.sorted_tables}


@pytest.mark.parametrize("target,name", [
    (projections, "_sync_human_tasks"),
    (projections, "_sync_variables"),
    (execution, "dump_state"),
    (audit, "statement_for"),
    (runner, "finish"),
    (instance_rows, "saved"),  # after every statement of the command ran: the transaction still rolls back
])
def test_an_exception_anywhere_in_a_command_leaves_the_database_as_it_was(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        instances.start(ctx, key="three_tasks", variables_in={"a": 1})
    before = _snapshot(runtime)
    with _explode(monkeypatch, target, name), pytest.raises(Boom, match=f"^{name}$"):
        _complete_only(runtime, b=2)
        raise Boom("the command did not reach the exploding function")
    assert _snapshot(runtime) == before
    _complete_only(runtime, b=2)  # and the instance works as before
    assert _open_tasks(runtime) == ["task_b"]
