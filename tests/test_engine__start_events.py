"""A process with several start events starts at the one that was triggered, as in Camunda 7: a message or
signal start event by correlation, the none start event by a plain start. A process that starts only on
messages cannot be started plainly."""

from __future__ import annotations

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from tests.engine_harness import Harness
from workflows import human_tasks, instances, messages
from workflows.errors import InvalidInputError

MODEL = "start_choice/start_choice.bpmn"


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


def _open_tasks(runtime: Runtime, instance_id: str) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        query = human_tasks.TaskQuery(instance_id=instance_id)
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, query))


def test_started_at_its_message_start_event_only_that_path_runs(restore: bool) -> None:
    h = Harness(MODEL, "antrag_oder_verweisung", restore=restore).start_at("verweisung_eingegangen")
    assert h.ready() == []
    assert h.waiting() == ["verweisung_eingegangen"]
    h.message("verweisung_eingegangen", fm_aktenzeichen="FM-1")
    assert h.ready() == ["verweisung_annehmen"]
    assert h.variables == {"fm_aktenzeichen": "FM-1"}
    h.complete("verweisung_annehmen")
    assert h.completed
    assert "antrag_eingegangen" not in h.history()


def test_started_at_its_none_start_event_the_message_start_does_not_wait(restore: bool) -> None:
    h = Harness(MODEL, "antrag_oder_verweisung", restore=restore).start_at("antrag_eingegangen")
    assert h.ready() == ["antrag_pruefen"]
    assert h.waiting() == []


def test_correlating_a_message_starts_at_the_message_start_event(runtime: Runtime) -> None:
    deploy(runtime, "start_choice")
    with runtime.command() as ctx:
        (result,) = messages.correlate(ctx, "verweisung_eingegangen", business_key="ABH-3",
                                       process_variables={"fm_aktenzeichen": "FM-1"})
    assert result.kind == "ProcessDefinition"
    assert _open_tasks(runtime, result.instance_id) == ["verweisung_annehmen"]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, result.instance_id) == {"fm_aktenzeichen": "FM-1"}


def test_a_signal_starts_at_the_signal_start_event(runtime: Runtime) -> None:
    deploy(runtime, "start_choice")
    with runtime.command() as ctx:
        assert messages.throw_signal(ctx, "erlass_eingegangen", {"erlass": "2026-01"}) == 1
        (started,) = instances.list_instances(ctx, definition_key="antrag_oder_verweisung")
    assert _open_tasks(runtime, started.id) == ["erlass_umsetzen"]


def test_a_plain_start_runs_the_none_start_event_and_leaves_the_message_to_new_instances(runtime: Runtime) -> None:
    deploy(runtime, "start_choice")
    with runtime.command() as ctx:
        plain = instances.start(ctx, key="antrag_oder_verweisung", business_key="ABH-4").id
    assert _open_tasks(runtime, plain) == ["antrag_pruefen"]
    with runtime.command() as ctx:  # the plain instance does not wait for the message: one target only
        (result,) = messages.correlate(ctx, "verweisung_eingegangen", business_key="ABH-4")
    assert result.kind == "ProcessDefinition" and result.instance_id != plain
    assert _open_tasks(runtime, plain) == ["antrag_pruefen"]


def test_a_process_with_only_message_start_events_cannot_be_started_plainly(runtime: Runtime) -> None:
    deploy(runtime, "start_choice")
    with runtime.command() as ctx, pytest.raises(InvalidInputError, match=r"no none start event.*meldung_eingegangen"):
        instances.start(ctx, key="nur_nachricht")
    with runtime.command() as ctx:
        (result,) = messages.correlate(ctx, "meldung_eingegangen")
    assert _open_tasks(runtime, result.instance_id) == ["meldung_aufnehmen"]
