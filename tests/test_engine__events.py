"""BPMN events in the positions BPMN allows that no other test runs: signal, message, timer, error, escalation,
terminate and none events as start, intermediate, boundary, end and event-subprocess start events.

Engine tests run every scenario straight through and with save/restore per step; database tests are only for
what needs the runtime (signals between instances, signal start events, thrown messages, timer rows).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from tests.engine_harness import Harness
from workflows import audit, human_tasks, instances, messages, schema
from workflows.clock import ManualClock
from workflows.engine import EngineWorkflow, events, runner
from workflows.engine.serializer import dump_state


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


# --- signal ------------------------------------------------------------------------------------------------


def test_signal_boundary_interrupting_cancels_the_task(restore: bool) -> None:
    h = Harness("signal_events/boundary.bpmn", "signal_boundary", restore=restore).start()
    assert h.waiting() == ["gesetz_geaendert", "rundschreiben"]
    h.signal("stag_reform", stichtag="2024-06-27")
    assert h.ready() == ["neu_bewerten"]
    assert h.waiting() == []
    assert h.variables["stichtag"] == "2024-06-27"
    h.complete("neu_bewerten")
    assert h.completed
    assert "pruefen" not in h.history()


def test_signal_boundary_non_interrupting_keeps_the_task(restore: bool) -> None:
    h = Harness("signal_events/boundary.bpmn", "signal_boundary", restore=restore).start()
    h.signal("rundschreiben")
    assert h.ready() == ["lesen", "pruefen"]
    assert h.waiting() == ["gesetz_geaendert", "rundschreiben"]  # it stays armed while its task is active
    h.complete("pruefen")
    assert h.ready() == ["lesen"]
    assert h.waiting() == []
    h.complete("lesen")
    assert h.completed


def test_signal_boundary_non_interrupting_fires_each_time_while_the_task_is_active(restore: bool) -> None:
    h = Harness("signal_events/boundary.bpmn", "signal_boundary", restore=restore).start()
    h.signal("rundschreiben")
    h.signal("rundschreiben")
    assert h.ready() == ["lesen", "lesen", "pruefen"]
    h.signal("stag_reform")
    assert h.ready() == ["lesen", "lesen", "neu_bewerten"]  # branches that already left stay, as in Camunda
    assert h.waiting() == []
    h.complete("lesen")
    h.complete("lesen")
    h.complete("neu_bewerten")
    assert h.completed


def test_two_signals_in_one_command_both_fire_the_non_interrupting_boundary(restore: bool) -> None:
    h = Harness("signal_events/boundary.bpmn", "signal_boundary", restore=restore).start()

    def two_signals(workflow: EngineWorkflow) -> None:
        assert events.broadcast(workflow, "signal", "rundschreiben", {}) == 1
        assert events.broadcast(workflow, "signal", "rundschreiben", {}) == 1  # the copy listens at once

    h.act(two_signals)
    assert h.ready() == ["lesen", "lesen", "pruefen"]


def test_signal_intermediate_throw_is_caught_in_the_same_instance(restore: bool) -> None:
    h = Harness("signal_events/throw.bpmn", "signal_throw", restore=restore).start()
    assert h.waiting() == ["auf_freigabe_warten"]
    h.complete("freigeben", freigegeben_von="tina")
    assert h.ready() == ["bescheid"]
    assert h.history()[-3:] == ["freigabe_melden", "auf_freigabe_warten", "end_freigabe"]
    # caught here and still sent out once, for the other instances (signals are global in Camunda)
    assert runner.outbound_events(h.workflow) == [("signal", "freigabe", {})]  # type: ignore[arg-type]


def test_signal_event_subprocess_non_interrupting_runs_beside_the_flow_each_time(restore: bool) -> None:
    h = Harness("signal_events/event_subprocess.bpmn", "signal_event_subprocess", restore=restore).start()
    h.signal("rundschreiben")
    h.signal("rundschreiben")
    assert h.ready() == ["beachten", "beachten", "bearbeiten"]
    h.complete("beachten")
    h.complete("bearbeiten")
    assert h.ready() == ["beachten"]
    h.complete("beachten")
    assert h.completed


def test_signal_event_subprocess_interrupting_ends_the_flow(restore: bool) -> None:
    h = Harness("signal_events/event_subprocess.bpmn", "signal_event_subprocess", restore=restore).start()
    h.signal("rundschreiben")
    h.signal("verfahren_einstellen")
    assert h.ready() == ["dokumentieren"]  # the main flow and the running non-interrupting one are cancelled
    h.complete("dokumentieren")
    assert h.completed


def test_an_event_subprocess_started_in_one_instance_leaves_later_instances_alone(restore: bool) -> None:
    first = Harness("signal_events/event_subprocess.bpmn", "signal_event_subprocess", restore=restore).start()
    first.signal("rundschreiben")
    later = Harness("signal_events/event_subprocess.bpmn", "signal_event_subprocess", restore=restore).start()
    assert later.bundle is first.bundle  # instances of one version share its spec, as in the runtime
    assert later.waiting() == []
    later.complete("bearbeiten")
    assert later.completed


# --- message -----------------------------------------------------------------------------------------------


def test_message_boundary_non_interrupting_keeps_the_task(restore: bool) -> None:
    h = Harness("message_events/boundary_non_interrupting.bpmn", "message_nachreichung", restore=restore).start()
    assert h.waiting() == ["nachgereicht"]
    h.message("unterlage_nachgereicht", dokument="Reisepass")
    assert h.ready() == ["pruefen", "zuordnen"]
    assert h.variables["dokument"] == "Reisepass"
    h.complete("pruefen")
    assert h.ready() == ["zuordnen"]  # the branch that left through the boundary event goes on by itself
    h.complete("zuordnen")
    assert h.completed


def test_message_boundary_non_interrupting_fires_each_time_while_the_task_is_active(restore: bool) -> None:
    h = Harness("message_events/boundary_non_interrupting.bpmn", "message_nachreichung", restore=restore).start()
    h.message("unterlage_nachgereicht", dokument="Reisepass")
    h.message("unterlage_nachgereicht", dokument="Meldebescheinigung")
    assert h.ready() == ["pruefen", "zuordnen", "zuordnen"]
    assert h.waiting() == ["nachgereicht"]
    assert sorted(t.data["dokument"] for t in runner.manual_tasks(h.workflow)  # type: ignore[arg-type]
                  if runner.element_id(t) == "zuordnen") == ["Meldebescheinigung", "Reisepass"]
    h.complete("pruefen")
    assert h.waiting() == []
    h.complete("zuordnen")
    h.complete("zuordnen")
    assert h.completed


def test_a_boundary_that_fires_a_thousand_times_keeps_the_state_flat(restore: bool) -> None:
    h = Harness("message_events/boundary_repeated.bpmn", "message_posteingang", restore=restore).start()
    sizes = {}
    for number in range(1, 1001):
        h.message("post_eingegangen", nummer=number)
        if number in (10, 1000):
            sizes[number] = len(dump_state(h.workflow))  # type: ignore[arg-type]
    assert h.history().count("vermerken") == 1000
    assert h.waiting() == ["post"]
    assert sizes[1000] < 2 * sizes[10]
    h.complete("pruefen")
    assert h.completed


def test_message_intermediate_throw_and_end_event_throw_out_of_the_instance(restore: bool) -> None:
    h = Harness("message_events/throw_and_end.bpmn", "message_senden", restore=restore).start(entscheidung="positiv")
    assert h.ready() == ["ablegen"]
    h.complete("ablegen")
    assert h.completed
    assert h.history() == ["start", "mitteilen", "ablegen", "end"]
    thrown = runner.outbound_events(h.workflow)  # type: ignore[arg-type]
    assert [(kind, name) for kind, name, _payload in thrown] == [("message", "entscheidung_mitgeteilt"),
                                                                ("message", "akte_geschlossen")]


# --- timer -------------------------------------------------------------------------------------------------


def test_timer_event_subprocess_interrupting_cancels_the_flow(restore: bool) -> None:
    clock = ManualClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    h = Harness("timer_events/event_subprocess_interrupting.bpmn", "timer_abbruch", restore=restore,
                clock=clock).start()
    assert h.waiting() == ["frist_start"]
    h.wait(days=27, hours=23)
    assert h.ready() == ["stellungnahme"]
    h.wait(hours=1)
    assert h.ready() == ["nach_aktenlage"]
    h.complete("nach_aktenlage")
    assert h.completed
    assert "stellungnahme" not in h.history()


@pytest.mark.parametrize(("scenario", "key", "task"), [
    ("timer_events/event_subprocess_interrupting.bpmn", "timer_abbruch", "stellungnahme"),
    ("timers/event_subprocess_timer.bpmn", "untaetigkeit", "bearbeiten"),
])
def test_a_timer_event_subprocess_not_yet_due_does_not_keep_the_instance_open(restore: bool, scenario: str,
                                                                               key: str, task: str) -> None:
    h = Harness(scenario, key, restore=restore).start()
    h.complete(task)
    assert h.completed  # Camunda ends the instance; the timer of the event subprocess goes with it
    assert h.waiting() == []
    h.wait(days=200)
    assert h.ready() == []


# --- error -------------------------------------------------------------------------------------------------


def test_error_end_event_starts_the_error_event_subprocess(restore: bool) -> None:
    h = Harness("error_events/event_subprocess.bpmn", "error_event_subprocess", restore=restore).start()
    assert h.ready() == ["pruefen"]
    h.complete("pruefen", identitaet_geklaert=False)
    assert h.ready() == ["klaeren"]
    assert h.variables["fehlercode"] == "IDENTITAET"
    assert h.variables["fehlertext"] == "Identität nicht geklärt"
    h.complete("klaeren")
    assert h.completed
    assert h.history()[-4:] == ["fehler_start", "klaeren", "fehler_end", "fehler"]


def test_an_error_end_event_sets_the_error_variables_of_the_boundary_that_catches_it(restore: bool) -> None:
    h = Harness("error_events/boundary_variables.bpmn", "error_nachweise", restore=restore).start()
    h.complete("nachweise_pruefen", fehlende=2, identitaet_geklaert=True)
    assert h.ready() == ["nachfordern"]
    assert h.variables["fehlercode"] == "UNVOLLSTAENDIG"
    assert h.variables["fehlertext"] == "Es fehlen 2 Nachweise"  # camunda:errorMessage of the error, evaluated
    h.complete("nachfordern")
    assert h.completed
    assert h.history()[-3:] == ["pruefung_gescheitert", "nachfordern", "end_nachgefordert"]
    assert "bescheiden" not in h.history()


def test_an_error_without_camunda_error_message_leaves_the_message_variable_empty(restore: bool) -> None:
    h = Harness("error_events/boundary_variables.bpmn", "error_nachweise", restore=restore).start()
    h.complete("nachweise_pruefen", fehlende=0, identitaet_geklaert=False)
    assert h.ready() == ["nachfordern"]
    assert h.variables["fehlercode"] == "IDENTITAET"
    assert h.variables["fehlertext"] is None
    assert events.ERROR_DETAILS not in h.variables


def test_an_error_end_event_leaves_no_error_variables_on_the_normal_path(restore: bool) -> None:
    h = Harness("error_events/boundary_variables.bpmn", "error_nachweise", restore=restore).start()
    h.complete("nachweise_pruefen", fehlende=0, identitaet_geklaert=True)
    assert h.ready() == ["bescheiden"]
    assert "fehlercode" not in h.variables


def test_an_error_event_subprocess_waits_for_its_error(restore: bool) -> None:
    h = Harness("error_events/event_subprocess.bpmn", "error_event_subprocess", restore=restore).start()
    assert h.ready() == ["pruefen"]  # SpiffWorkflow alone reads an error start event as a none start event
    h.complete("pruefen", identitaet_geklaert=True)
    assert h.completed
    assert "klaeren" not in h.history()


# --- escalation --------------------------------------------------------------------------------------------


def test_escalation_end_event_is_caught_by_an_interrupting_boundary(restore: bool) -> None:
    h = Harness("escalation_events/end_and_interrupting_boundary.bpmn", "escalation_abgabe", restore=restore).start()
    assert h.waiting() == ["abgegeben"]
    h.complete("bearbeiten", zu_schwierig=True)
    assert h.ready() == ["teamleitung"]
    h.complete("teamleitung")
    assert h.completed
    assert h.history()[-5:] == ["abgeben", "sachbearbeitung", "abgegeben", "teamleitung", "end_tl"]


def test_escalation_boundary_stays_quiet_on_the_normal_path(restore: bool) -> None:
    h = Harness("escalation_events/end_and_interrupting_boundary.bpmn", "escalation_abgabe", restore=restore).start()
    h.complete("bearbeiten", zu_schwierig=False)
    assert h.completed
    assert h.history()[-2:] == ["sachbearbeitung", "end"]


def test_escalation_event_subprocess_non_interrupting(restore: bool) -> None:
    h = Harness("escalation_events/event_subprocess.bpmn", "escalation_event_subprocess", restore=restore).start(
        massnahme="info")
    assert h.ready() == ["bearbeiten", "zur_kenntnis"]
    h.complete("zur_kenntnis")
    h.complete("bearbeiten")
    assert h.completed


def test_escalation_event_subprocess_interrupting(restore: bool) -> None:
    h = Harness("escalation_events/event_subprocess.bpmn", "escalation_event_subprocess", restore=restore).start(
        massnahme="stopp")
    assert h.ready() == ["stopp_dokumentieren"]
    h.complete("stopp_dokumentieren")
    assert h.completed
    assert "bearbeiten" not in h.history()


def test_escalation_event_subprocesses_wait_for_their_escalation(restore: bool) -> None:
    h = Harness("escalation_events/event_subprocess.bpmn", "escalation_event_subprocess", restore=restore).start(
        massnahme="keine")
    assert h.ready() == ["bearbeiten"]
    h.complete("bearbeiten")
    assert h.completed


# --- terminate and none ------------------------------------------------------------------------------------


def test_terminate_end_event_in_a_subprocess_ends_only_the_subprocess(restore: bool) -> None:
    h = Harness("terminate_events/in_subprocess.bpmn", "terminate_subprocess", restore=restore).start()
    assert h.ready() == ["unterlagen", "zustaendigkeit"]
    h.complete("zustaendigkeit")
    assert h.ready() == ["abgeben"]
    assert not h.completed
    h.complete("abgeben")
    assert h.completed
    assert "unterlagen" not in h.history()


def test_none_intermediate_throw_event_passes_through(restore: bool) -> None:
    h = Harness("none_events/intermediate_throw.bpmn", "none_throw", restore=restore).start()
    assert h.ready() == ["entscheiden"]
    assert h.history() == ["start", "vollstaendig"]
    assert h.variables["meilenstein"] == "vollständig"  # its end listener ran


# --- through the runtime -----------------------------------------------------------------------------------


def _open_tasks(runtime: Runtime, instance_id: str | None = None) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        query = human_tasks.TaskQuery(instance_id=instance_id)
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, query))


def _complete_only_task(runtime: Runtime, instance_id: str, **values: object) -> None:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id))
        human_tasks.complete(ctx, task.id, values)


def test_signal_start_event_starts_an_instance(runtime: Runtime) -> None:
    deploy(runtime, "signal_events")
    with runtime.command() as ctx:
        assert messages.throw_signal(ctx, "stag_reform", {"stichtag": "2024-06-27"}) == 1
    with runtime.command() as ctx:
        (started,) = instances.list_instances(ctx)
        assert started.definition_key == "signal_start"
        assert instances.get_variables(ctx, started.id) == {"stichtag": "2024-06-27"}
    assert _open_tasks(runtime, started.id) == ["bestand_pruefen"]


def test_signal_intermediate_throw_reaches_boundary_and_event_subprocess_of_other_instances(
        runtime: Runtime) -> None:
    deploy(runtime, "signal_events")
    with runtime.command() as ctx:
        boundary = instances.start(ctx, key="signal_boundary").id
        event_subprocess = instances.start(ctx, key="signal_event_subprocess").id
        sender = instances.start(ctx, key="signal_senden").id
    _complete_only_task(runtime, sender, zusammenfassung="Neue Anwendungshinweise")
    assert _open_tasks(runtime, boundary) == ["lesen", "pruefen"]
    assert _open_tasks(runtime, event_subprocess) == ["beachten", "bearbeiten"]
    with runtime.command() as ctx:
        assert instances.get(ctx, sender).state == "completed"  # type: ignore[union-attr]
        assert [e.details["instances"] for e in audit.query(ctx, kinds=["signal_thrown"])] == [2]


def test_a_signal_caught_in_the_throwing_instance_reaches_the_other_instances_too(runtime: Runtime) -> None:
    deploy(runtime, "signal_events")
    with runtime.command() as ctx:
        sender = instances.start(ctx, key="signal_throw").id
        other = instances.start(ctx, key="signal_throw").id
    with runtime.command(ADMIN) as ctx:
        (freigeben,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=sender))
        human_tasks.complete(ctx, freigeben.id, {"freigegeben_von": "tina"})
    assert _open_tasks(runtime, sender) == ["bescheid"]  # caught once, not again through the broadcast
    assert _open_tasks(runtime, other) == ["bescheid", "freigeben"]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, other) == {}
        assert [e.details["instances"] for e in audit.query(ctx, kinds=["signal_thrown"])] == [1]


def test_a_thrown_signal_does_not_carry_the_cases_variables_to_other_cases(runtime: Runtime) -> None:
    deploy(runtime, "signal_events")
    with runtime.command() as ctx:
        other_case = instances.start(ctx, key="signal_boundary").id
        sender = instances.start(ctx, key="signal_senden", variables_in={"bzr_eintraege": 2}).id
    _complete_only_task(runtime, sender)
    assert _open_tasks(runtime, other_case) == ["lesen", "pruefen"]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, other_case) == {}


def test_message_throw_and_end_events_are_recorded(runtime: Runtime) -> None:
    deploy(runtime, "message_events")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="message_senden", variables_in={"entscheidung": "positiv"}).id
    _complete_only_task(runtime, instance)
    with runtime.command() as ctx:
        thrown = audit.for_instance(ctx, instance, kinds=["message_thrown"])
        assert instances.get(ctx, instance).state == "completed"  # type: ignore[union-attr]
    assert [e.details["name"] for e in thrown] == ["entscheidung_mitgeteilt", "akte_geschlossen"]


def test_a_second_message_to_a_waiting_non_interrupting_boundary_correlates_again(runtime: Runtime) -> None:
    deploy(runtime, "message_events")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="message_nachreichung", business_key="ABH-7").id
    for dokument in ("Reisepass", "Meldebescheinigung"):
        with runtime.command() as ctx:
            (result,) = messages.correlate(ctx, "unterlage_nachgereicht", business_key="ABH-7",
                                           process_variables={"dokument": dokument})
        assert result.instance_id == instance
    assert _open_tasks(runtime, instance) == ["pruefen", "zuordnen", "zuordnen"]
    with runtime.command(ADMIN) as ctx:
        (pruefen,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance, task_definition_key="pruefen"))
        human_tasks.complete(ctx, pruefen.id, {})
    with runtime.command() as ctx, pytest.raises(messages.CorrelationError):
        messages.correlate(ctx, "unterlage_nachgereicht", business_key="ABH-7")


def test_a_message_event_subprocess_starts_again_on_each_message(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="messages", business_key="A").id
    for _ in range(2):
        with runtime.command() as ctx:
            messages.correlate(ctx, "adresse_geaendert", business_key="A")
    assert _open_tasks(runtime, instance) == ["adresse_pruefen", "adresse_pruefen"]


def test_a_message_event_subprocess_started_once_still_correlates_in_later_instances(runtime: Runtime) -> None:
    deploy(runtime, "messages")
    with runtime.command() as ctx:
        instances.start(ctx, key="messages", business_key="A")
    with runtime.command() as ctx:
        messages.correlate(ctx, "adresse_geaendert", business_key="A")
    with runtime.command() as ctx:
        later = instances.start(ctx, key="messages", business_key="B").id
    with runtime.command() as ctx:
        (result,) = messages.correlate(ctx, "adresse_geaendert", business_key="B")
    assert result.instance_id == later
    assert _open_tasks(runtime, later) == ["adresse_pruefen"]


def _timers(runtime: Runtime, instance_id: str) -> list[str]:
    with runtime.command() as ctx:
        rows = ctx.session.scalars(sa.select(schema.Timer).where(schema.Timer.instance_id == instance_id))
        return [row.element_id for row in rows]


def test_an_instance_that_ends_before_its_event_subprocess_timer_leaves_no_timer(runtime: Runtime) -> None:
    deploy(runtime, "timers")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="untaetigkeit").id
    assert _timers(runtime, instance) == ["drei_monate"]
    _complete_only_task(runtime, instance)
    with runtime.command() as ctx:
        assert instances.get(ctx, instance).state == "completed"  # type: ignore[union-attr]
    assert _timers(runtime, instance) == []
