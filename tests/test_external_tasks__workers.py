"""External tasks: fetch and lock by topic, complete, failure with retries, BPMN errors, lock handling."""

from __future__ import annotations

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from workflows import external_tasks, human_tasks, incidents, instances
from workflows.clock import ManualClock
from workflows.errors import ConflictError, NotFoundError

TOPIC = [external_tasks.TopicRequest("azr-abfrage", lock_duration_ms=60_000)]


def _start(runtime: Runtime, **values: object) -> str:
    deploy(runtime, "external_tasks")
    with runtime.command() as ctx:
        return instances.start(ctx, key="external", business_key="ABH-7", variables_in={"prio": 5, **values}).id


def _fetch(runtime: Runtime, worker: str = "w1", **kwargs: object) -> list[external_tasks.LockedTask]:
    with runtime.command() as ctx:
        return external_tasks.fetch_and_lock(ctx, worker, TOPIC, **kwargs)  # type: ignore[arg-type]


def _open_tasks(runtime: Runtime) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery()))


def test_fetch_lock_and_complete(runtime: Runtime) -> None:
    instance = _start(runtime, name="Ada")
    (locked,) = _fetch(runtime)
    assert locked.row.topic == "azr-abfrage"
    assert locked.row.priority == 5
    assert locked.row.business_key == "ABH-7"
    assert locked.variables["name"] == ("Ada", "String")
    assert _fetch(runtime, "w2") == []  # locked
    with runtime.command() as ctx:
        external_tasks.complete(ctx, locked.row.id, "w1", {"azr_status": "Duldung"})
    assert _open_tasks(runtime) == ["auswerten"]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance)["azr_status"] == "Duldung"


def test_only_the_locking_worker_may_complete(runtime: Runtime) -> None:
    _start(runtime)
    (locked,) = _fetch(runtime)
    with runtime.command() as ctx, pytest.raises(ConflictError):
        external_tasks.complete(ctx, locked.row.id, "intruder")


def test_an_expired_lock_is_taken_over(runtime: Runtime, clock: ManualClock) -> None:
    _start(runtime)
    (locked,) = _fetch(runtime)
    clock.advance(seconds=61)
    (again,) = _fetch(runtime, "w2")
    assert again.row.id == locked.row.id
    with runtime.command() as ctx, pytest.raises(ConflictError):
        external_tasks.complete(ctx, locked.row.id, "w1")


def test_extend_lock_and_unlock(runtime: Runtime, clock: ManualClock) -> None:
    _start(runtime)
    (locked,) = _fetch(runtime)
    with runtime.command() as ctx:
        external_tasks.extend_lock(ctx, locked.row.id, "w1", 600_000)
    clock.advance(seconds=120)
    assert _fetch(runtime, "w2") == []
    with runtime.command() as ctx:
        external_tasks.unlock(ctx, locked.row.id)
    assert len(_fetch(runtime, "w2")) == 1


def test_failure_with_retries_and_timeout_then_incident(runtime: Runtime, clock: ManualClock) -> None:
    instance = _start(runtime)
    (locked,) = _fetch(runtime)
    with runtime.command() as ctx:
        external_tasks.failure(ctx, locked.row.id, "w1", error_message="AZR nicht erreichbar", retries=1,
                               retry_timeout_ms=30_000)
    assert _fetch(runtime) == []  # waiting for the retry timeout
    clock.advance(seconds=31)
    (again,) = _fetch(runtime)
    with runtime.command() as ctx:
        external_tasks.failure(ctx, again.row.id, "w1", error_message="immer noch", error_details="trace", retries=0)
    clock.advance(hours=1)
    assert _fetch(runtime) == []
    with runtime.command() as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=instance)
        assert (incident.incident_type, incident.element_id, incident.message) == (
            "failedExternalTask", "azr_abfrage", "immer noch")
        incidents.retry(ctx, incident.id, retries=2)
    assert len(_fetch(runtime)) == 1
    with runtime.command() as ctx:
        assert incidents.list_open(ctx, instance_id=instance) == []


def test_bpmn_error_is_caught_by_the_boundary_with_code_and_message_variables(runtime: Runtime) -> None:
    instance = _start(runtime)
    (locked,) = _fetch(runtime)
    with runtime.command() as ctx:
        external_tasks.bpmn_error(ctx, locked.row.id, "w1", error_code="NOT_FOUND", error_message="kein Treffer",
                                  variables={"suchlauf": 1})
    assert _open_tasks(runtime) == ["klaeren"]
    with runtime.command() as ctx:
        values = instances.get_variables(ctx, instance)
        assert external_tasks.get(ctx, locked.row.id) is None
    assert (values["fehlercode"], values["fehlertext"], values["suchlauf"]) == ("NOT_FOUND", "kein Treffer", 1)


def test_uncaught_bpmn_error_becomes_an_incident_not_a_silent_end(runtime: Runtime) -> None:
    instance = _start(runtime)
    (locked,) = _fetch(runtime)
    with runtime.command() as ctx:
        external_tasks.bpmn_error(ctx, locked.row.id, "w1", error_code="UNKNOWN_CODE")
    with runtime.command() as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=instance)
        assert "UNKNOWN_CODE" in incident.message
        assert instances.get(ctx, instance).state == "active"  # type: ignore[union-attr]


def test_unknown_task_is_not_found(runtime: Runtime) -> None:
    with runtime.command() as ctx, pytest.raises(NotFoundError):
        external_tasks.complete(ctx, "nope", "w1")


def test_use_priority_orders_fetching(runtime: Runtime) -> None:
    deploy(runtime, "external_tasks")
    with runtime.command() as ctx:
        for prio in (1, 9, 5):
            instances.start(ctx, key="external", variables_in={"prio": prio})
    locked = _fetch(runtime, max_tasks=3, use_priority=True)
    assert [t.row.priority for t in locked] == [9, 5, 1]
