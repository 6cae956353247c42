"""Messages between procedures: a case refers a person to another authority with exactly the data its throw
event lists (the consent covers that much, no more), the other procedure reports back to the case by its
Aktenzeichen, and a report back that finds no waiting case is retried and then becomes an incident instead of
vanishing."""

from __future__ import annotations

from datetime import timedelta

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from workflows import audit, human_tasks, incidents, instances, timers
from workflows.clock import ManualClock


def _start_fall(runtime: Runtime, aktenzeichen: str = "FM-2026-000001") -> str:
    with runtime.command(ADMIN) as ctx:
        return instances.start(ctx, key="fall", business_key=aktenzeichen, variables_in={
            "aktenzeichen": aktenzeichen, "person_name": "Amina K.", "gesundheit": "vertraulich"}).id


def _complete(runtime: Runtime, instance_id: str, **values: object) -> None:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id))
        human_tasks.complete(ctx, task.id, values)


def _abh_cases(runtime: Runtime) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return [i.id for i in instances.list_instances(ctx) if i.definition_key == "abh_pruefung"]


def test_a_referral_carries_only_the_listed_data_and_the_report_comes_back(runtime: Runtime) -> None:
    deploy(runtime, "message_referral")
    fall = _start_fall(runtime)
    _complete(runtime, fall)  # Verweisung vorbereiten → the message starts the ABH procedure
    (abh,) = _abh_cases(runtime)
    with runtime.command(ADMIN) as ctx:
        assert instances.get_variables(ctx, abh) == {
            "fm_aktenzeichen": "FM-2026-000001", "person_name": "Amina K.", "anliegen": "Prüfung Bleiberecht"}
        (sent,) = audit.for_instance(ctx, fall, kinds=["message_thrown"])
    assert sent.details["receivers"] == [abh] and sent.details["variables"] == ["anliegen", "fm_aktenzeichen",
                                                                                 "person_name"]
    _complete(runtime, abh, ergebnis="Aufenthaltserlaubnis nach § 25a erteilt")
    with runtime.command(ADMIN) as ctx:
        assert instances.get(ctx, fall).state == "completed"  # type: ignore[union-attr]
        assert instances.get_variables(ctx, fall)["ergebnis"] == "Aufenthaltserlaubnis nach § 25a erteilt"
        assert "gesundheit" not in (instances.get_variables(ctx, abh) or {})


def test_a_report_back_without_a_waiting_case_is_retried_then_an_incident(runtime: Runtime,
                                                                           clock: ManualClock) -> None:
    deploy(runtime, "message_referral")
    fall = _start_fall(runtime)
    _complete(runtime, fall)
    (abh,) = _abh_cases(runtime)
    with runtime.command(ADMIN) as ctx:
        instances.terminate(ctx, fall, reason="Umzug")  # nobody waits for the report any more
    _complete(runtime, abh, ergebnis="abgelehnt")
    for _ in range(3):  # the default three attempts, five minutes apart
        clock.advance(minutes=6)
        with runtime.command() as ctx:
            timers.fire_due(ctx)
    with runtime.command(ADMIN) as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=abh)
        assert incident.element_id == "rueckmelden"
        assert "rueckmeldung_an_fall" in incident.message and "No process definition or execution" in incident.message
        assert instances.get(ctx, abh).state == "active"  # type: ignore[union-attr]
        assert instances.get_variables(ctx, abh)["ergebnis"] == "abgelehnt"  # nothing lost


def test_a_retry_delivers_once_the_case_waits_again(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "message_referral")
    fall = _start_fall(runtime, "FM-2026-000002")
    _complete(runtime, fall)
    (abh,) = _abh_cases(runtime)
    with runtime.command(ADMIN) as ctx:
        instances.set_variables(ctx, abh, {"fm_aktenzeichen": "FM-2026-999999"}, reason="Tippfehler")
    _complete(runtime, abh, ergebnis="erteilt")
    clock.advance(minutes=20)
    for _ in range(3):
        with runtime.command() as ctx:
            timers.fire_due(ctx)
        clock.advance(minutes=6)
    with runtime.command(ADMIN) as ctx:
        (incident,) = incidents.list_open(ctx, instance_id=abh)
        instances.set_variables(ctx, abh, {"fm_aktenzeichen": "FM-2026-000002"}, reason="Aktenzeichen berichtigt")
        incidents.retry(ctx, incident.id)
    with runtime.command(ADMIN) as ctx:
        assert instances.get(ctx, abh).state == "completed"  # type: ignore[union-attr]
        assert instances.get(ctx, fall).state == "completed"  # type: ignore[union-attr]
        assert incidents.list_open(ctx, instance_id=abh) == []
    _ = timedelta
