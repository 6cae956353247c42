"""Message correlation and signals with Camunda's rules (business key, correlation keys, one or all)."""

from __future__ import annotations

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from workflows import audit, human_tasks, instances, messages


def _open_tasks(runtime: Runtime, instance_id: str | None = None) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        query = human_tasks.TaskQuery(instance_id=instance_id)
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, query))


def _start(runtime: Runtime, business_key: str, **values: object) -> str:
    with runtime.command() as ctx:
        return instances.start(ctx, key="messages", business_key=business_key, variables_in=values).id


def test_correlate_by_business_key(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    first, second = _start(runtime, "ABH-1"), _start(runtime, "ABH-2")
    with runtime.command() as ctx:
        results = messages.correlate(ctx, "bzr_auskunft", business_key="ABH-2", process_variables={"eintraege": 0})
    assert [(r.kind, r.instance_id) for r in results] == [("Execution", second)]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, second) == {"eintraege": 0}
        assert instances.get_variables(ctx, first) == {}
        assert audit.for_instance(ctx, second, kinds=["message_correlated"])[0].details["message"] == "bzr_auskunft"


def test_correlate_by_correlation_keys(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    _start(runtime, "A", person_id="P-1")
    target = _start(runtime, "B", person_id="P-2")
    with runtime.command() as ctx:
        results = messages.correlate(ctx, "azr_auskunft", correlation_keys={"person_id": "P-2"})
    assert [r.instance_id for r in results] == [target]


def test_no_match_and_ambiguous_match_are_clear_errors(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    _start(runtime, "A")
    _start(runtime, "B")
    with runtime.command() as ctx, pytest.raises(messages.CorrelationError) as none:
        messages.correlate(ctx, "bzr_auskunft", business_key="C")
    assert "No process definition or execution matches" in str(none.value)
    with runtime.command() as ctx, pytest.raises(messages.CorrelationError) as several:
        messages.correlate(ctx, "bzr_auskunft")
    assert "2 targets" in str(several.value)
    with runtime.command() as ctx:
        assert len(messages.correlate(ctx, "bzr_auskunft", all_targets=True)) == 2


def test_both_messages_lead_to_the_decision_and_withdrawal_interrupts(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    instance = _start(runtime, "A")
    for name in ("bzr_auskunft", "azr_auskunft"):
        with runtime.command() as ctx:
            messages.correlate(ctx, name, business_key="A")
    assert _open_tasks(runtime) == ["entscheiden"]
    with runtime.command() as ctx:
        messages.correlate(ctx, "antrag_zurueckgenommen", business_key="A")
        assert instances.get(ctx, instance).state == "completed"  # type: ignore[union-attr]
    assert _open_tasks(runtime) == []


def test_event_subprocess_message_start(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    instance = _start(runtime, "A")
    with runtime.command() as ctx:
        messages.correlate(ctx, "adresse_geaendert", business_key="A", process_variables={"adresse": "Ring 2"})
    assert _open_tasks(runtime, instance) == ["adresse_pruefen"]


def test_message_start_event_starts_a_new_instance(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    with runtime.command() as ctx:
        (result,) = messages.correlate(ctx, "ueberweisung", business_key="FM-9", process_variables={"von": "FM"})
    assert result.kind == "ProcessDefinition"
    with runtime.command() as ctx:
        started = instances.get(ctx, result.instance_id)
        assert started is not None and started.business_key == "FM-9"
        assert instances.get_variables(ctx, result.instance_id) == {"von": "FM"}
    assert _open_tasks(runtime, result.instance_id) == ["aufnehmen"]


def test_signal_reaches_every_waiting_instance(runtime: Runtime) -> None:
    deploy(runtime, "signals")
    with runtime.command() as ctx:
        ids = [instances.start(ctx, key="signals").id for _ in range(3)]
    with runtime.command() as ctx:
        assert messages.throw_signal(ctx, "stag_reform", {"stichtag": "2024-06-27"}) == 3
    assert _open_tasks(runtime) == ["neu_pruefen"] * 3
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, ids[0]) == {"stichtag": "2024-06-27"}


def test_a_signal_thrown_by_one_instance_reaches_the_others(runtime: Runtime) -> None:
    deploy(runtime, "signals", "escalation")
    with runtime.command() as ctx:
        other = instances.start(ctx, key="signals").id
        waiting = [instances.start(ctx, key="signals_seen").id for _ in range(2)]
        instances.start(ctx, key="escalation", variables_in={"schwierig": True})
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(task_definition_key="teamleitung"))
        human_tasks.complete(ctx, task.id)  # the path ends in a signal end event "fall_gesehen"
    assert [_open_tasks(runtime, i) for i in waiting] == [["s_task"], ["s_task"]]
    assert _open_tasks(runtime, other) == []  # waits for "stag_reform", not for this signal
    with runtime.command() as ctx:
        assert [e.details["signal"] for e in audit.query(ctx, kinds=["signal_thrown"])] == ["fall_gesehen"]
