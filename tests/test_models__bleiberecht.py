"""bpmn/bleiberecht.bpmn end to end with a settable clock: §25a and §25b granted, refused only after an Anhörung,
the document deadline (reminder, then a decision on the file), the Untätigkeit warning, the §25a age alerts and
the §104c expiry alert before an application, a referral from the Fallmanagement that reports back, and the
Wiedervorlage before the permit expires. Every form is submitted empty first (refused) and then validly; the
rule boundaries of aufenthg_25a/aufenthg_25b are tested on the deployed tables."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, ROOT, deploy, deploy_kim
from workflows import (
    audit,
    decisions,
    definitions,
    external_tasks,
    forms,
    human_tasks,
    instances,
    messages,
    schema,
    timers,
)
from workflows.clock import ManualClock
from workflows.context import Actor
from workflows.errors import DeploymentError

ABH = Actor("bernd", "caseworker", frozenset({"abh-team"}))
TEAMLEITUNG = Actor("tina", "supervisor", frozenset({"abh-teamleitung"}))
FM_AKTENZEICHEN = "FM-2026-000042"

MY_FILES = ("bleiberecht.bpmn", "bleiberecht_", "aufenthg_", "abh_")


# --- driving a case --------------------------------------------------------------------------------------------


def _deploy(runtime: Runtime) -> None:
    """Everything in bpmn/ and forms/; while another model there does not deploy, only this procedure's files."""
    try:
        deploy_kim(runtime)
    except DeploymentError as error:
        if any(str(p.file).startswith(MY_FILES) for p in error.problems):
            raise
        warnings.warn(f"deploy_kim failed on other models, deploying bleiberecht alone: {error}", stacklevel=2)
        files = [(p.name, p.read_bytes()) for folder in ("bpmn", "forms") for p in sorted((ROOT / folder).iterdir())
                 if p.name.startswith(MY_FILES)]
        with runtime.command() as ctx:
            definitions.deploy(ctx, files, name="bleiberecht", source="test")


def _start_form(runtime: Runtime, values: Mapping[str, Any]) -> tuple[str | None, dict[str, list[str]]]:
    """Validate the start form as the Tasklist would, then start with the clean values (business key = AZ)."""
    with runtime.command(ABH) as ctx:
        definition = definitions.latest_process(ctx, "bleiberecht")
        assert definition is not None and definition.start_form is not None
        form = definitions.resolve_form(ctx, definition.start_form, definition.deployment_id)
        assert form is not None and form.key == "abh_antrag"
        clean, errors = forms.validate_submission(form, values, today=ctx.now().date())
        if errors:
            return None, errors
        return instances.start(ctx, key="bleiberecht", business_key=clean["aktenzeichen"], variables_in=clean).id, {}


def _start(runtime: Runtime, **overrides: Any) -> str:
    values = {"aktenzeichen": "ABH-2026-000101", "person_name": "Samira A.", "geburtsdatum": "2004-03-15",
              "antragsdatum": "2026-01-05", "antragsart": "25a", "verlaengerung": False,
              "aufenthaltsstatus": "duldung", **overrides}
    instance, errors = _start_form(runtime, values)
    assert errors == {} and instance is not None
    return instance


def _refer(runtime: Runtime, **variables: Any) -> str:
    """The Fallmanagement's referral, as its throw event sends it (bpmn/fallmanagement.bpmn)."""
    payload = {"fm_aktenzeichen": FM_AKTENZEICHEN, "person_name": "Amina K.", "geburtsdatum": "2000-02-20",
               "verweisung_anliegen": "Bleiberecht prüfen", "einwilligung_zweck": "Prüfung eines Bleiberechts",
               "einwilligung_erteilt_am": "2025-12-15", **variables}
    with runtime.command() as ctx:
        (started,) = messages.correlate(ctx, "verweisung_fm_an_abh", process_variables=payload)
    assert started.kind == "ProcessDefinition"
    return started.instance_id


def _open(runtime: Runtime, instance: str) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance)))


def _task(runtime: Runtime, instance: str, element: str, actor: Actor = ABH) -> Any:
    with runtime.command(actor) as ctx:
        found = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance, task_definition_key=element))
    assert len(found) == 1, f"{element}: {_open(runtime, instance)}"
    return found[0]


def _submit(runtime: Runtime, instance: str, element: str, values: Mapping[str, Any], actor: Actor = ABH) -> None:
    """Submit the task's form: empty first (the form refuses it, nothing happens), then with the values."""
    task = _task(runtime, instance, element, actor)
    with runtime.command(actor) as ctx:
        assert human_tasks.submit_form(ctx, task.id, {}) != {}, f"{element}: the empty form was accepted"
    with runtime.command(actor) as ctx:
        assert human_tasks.submit_form(ctx, task.id, dict(values)) == {}


def _errors(runtime: Runtime, instance: str, element: str, values: Mapping[str, Any]) -> dict[str, list[str]]:
    task = _task(runtime, instance, element)
    with runtime.command(ABH) as ctx:
        return human_tasks.submit_form(ctx, task.id, dict(values))


def _work(runtime: Runtime, topic: str, variables: Mapping[str, Any] | None = None) -> int:
    with runtime.command() as ctx:
        locked = external_tasks.fetch_and_lock(ctx, "register", [external_tasks.TopicRequest(topic, 60_000)])
        for task in locked:
            external_tasks.complete(ctx, task.row.id, "register", dict(variables or {}))
    return len(locked)


def _fire(runtime: Runtime) -> timers.FireReport:
    with runtime.command() as ctx:
        return timers.fire_due(ctx)


def _variables(runtime: Runtime, instance: str) -> dict[str, Any]:
    with runtime.command(ADMIN) as ctx:
        return instances.get_variables(ctx, instance) or {}


def _state(runtime: Runtime, instance: str) -> str:
    with runtime.command(ADMIN) as ctx:
        view = instances.get(ctx, instance)
    assert view is not None
    return view.state


def _timers(runtime: Runtime, instance: str) -> dict[str, datetime]:
    with runtime.command() as ctx:
        rows = ctx.session.execute(sa.select(schema.Timer.element_id, schema.Timer.due_at)
                                   .where(schema.Timer.instance_id == instance))
        return {element: due.replace(tzinfo=UTC) if due.tzinfo is None else due for element, due in rows}


def _berlin(year: int, month: int, day: int) -> datetime:
    """Midnight in Berlin as UTC: when a timer set to that date fires (and the instant a period ending the day
    before is over)."""
    return datetime(year, month, day, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


VOLLSTAENDIG = {"unterlagen_vollstaendig": True}
VORAUSSETZUNGEN_25A = {
    "voraufenthalt_jahre": 4, "laengste_unterbrechung_monate": 0, "pass_erfuellt": True, "rolle": "jugendlich",
    "duldung_monate": 30, "schulbesuch_jahre": 3, "abschluss_anerkannt": False, "schulbefreiung": False,
    "integrationsprognose": True, "fdgo_bedenken": False, "in_ausbildung": True, "lebensunterhalt_gesichert": False,
    "taeuschung": False, "straftaten": False}
VORAUSSETZUNGEN_25B = {
    "voraufenthalt_jahre": 4.5, "laengste_unterbrechung_monate": 2, "pass_erfuellt": True,
    "minderjaehriges_kind": True, "unterbrechungen_anzahl": 1, "fdgo_erklaerung": True, "grundkenntnisse": True,
    "lebensunterhalt_ueberwiegend": True, "lebensunterhalt_ausnahme": False, "deutsch_a2": True,
    "schulbesuch_kinder": "nachgewiesen", "aktuelle_taeuschung": False, "ausweisungsinteresse": False}
ERTEILEN = {"entscheidung": "erteilen", "atypisch": False, "entscheidung_begruendung": "Voraussetzungen erfüllt."}
ABLEHNEN = {"entscheidung": "ablehnen", "atypisch": False,
            "entscheidung_begruendung": "Antrag nach dem 27. Geburtstag gestellt."}


def _to_decision(runtime: Runtime, instance: str, voraussetzungen: Mapping[str, Any]) -> None:
    _submit(runtime, instance, "vollstaendigkeit_pruefen", VOLLSTAENDIG)
    _submit(runtime, instance, "voraussetzungen_erfassen", voraussetzungen)
    assert _work(runtime, "azr_abfrage", {"azr_ergebnis": "Duldung bestätigt"}) == 1
    assert _work(runtime, "bzr_auskunft", {"bzr_eintraege": 0}) == 1
    assert _open(runtime, instance) == ["entscheidung_treffen"]


# --- the procedure end to end ----------------------------------------------------------------------------------


def test_25a_granted_with_three_years_and_the_wiedervorlage_twelve_weeks_before(runtime: Runtime,
                                                                                 clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime)
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    values = _variables(runtime, instance)
    assert values["voraussetzungen_25a"] == [] and values["vorschlag"] == "erteilen"
    assert values["voraussetzungen_25a_regel"] == "aufenthg_25a:1 (2026-01)"
    with runtime.command() as ctx:
        (evaluated,) = audit.query(ctx, kinds=["decision_evaluated"], instance_id=instance,
                                   element_id="voraussetzungen_25a_pruefen")
    assert evaluated.details["decision_date"] == "2026-01-05"
    assert evaluated.details["version_tag"] == "2026-01"
    _submit(runtime, instance, "entscheidung_treffen", ERTEILEN)
    _submit(runtime, instance, "aufenthaltserlaubnis_erteilen", {"erteilungsdatum": "2026-02-02",
                                                                 "befristung_monate": 36})
    values = _variables(runtime, instance)
    assert (values["ergebnis"], values["gueltig_bis"], values["wiedervorlage_at"]) == (
        "erteilt", "2029-02-01", "2028-11-09")
    assert _timers(runtime, instance) == {"wiedervorlage_abwarten": _berlin(2028, 11, 9)}
    clock.set(_berlin(2028, 11, 8))
    _fire(runtime)
    assert _open(runtime, instance) == []
    clock.set(_berlin(2028, 11, 9))
    _fire(runtime)
    assert _open(runtime, instance) == ["verlaengerung_vorbereiten"]
    assert _task(runtime, instance, "verlaengerung_vorbereiten").due_at.replace(tzinfo=UTC) == _berlin(2029, 2, 1)
    _submit(runtime, instance, "verlaengerung_vorbereiten", {"verlaengerung_massnahme": "person_angeschrieben"})
    assert _state(runtime, instance) == "completed"


def test_25b_granted_with_four_years_and_a_child_and_at_most_two_years(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000102", geburtsdatum="1988-07-01", antragsart="25b",
                      aufenthaltsstatus="beschaeftigungsduldung")
    _to_decision(runtime, instance, {**VORAUSSETZUNGEN_25B, "beschaeftigungsduldung_monate": 31})
    values = _variables(runtime, instance)
    assert [(r["code"], r["art"]) for r in values["voraussetzungen_25b"]] == [("B8", "hinweis")]
    assert values["vorschlag"] == "erteilen"
    _submit(runtime, instance, "entscheidung_treffen", ERTEILEN)
    _submit(runtime, instance, "aufenthaltserlaubnis_erteilen", {"erteilungsdatum": "2026-02-02",
                                                                 "befristung_monate": 36})
    values = _variables(runtime, instance)
    assert (values["hoechstdauer_monate"], values["befristung_monate"], values["gueltig_bis"]) == (
        24, 24, "2028-02-01")
    assert values["hoechstdauer_monate_regel"] == "aufenthg_26:1 (2026-01)"


def test_refused_only_after_an_anhoerung_and_the_statement_period(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000103", geburtsdatum="1998-12-01")  # 27 at application
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    values = _variables(runtime, instance)
    assert (values["vorschlag"], values["maengel"]) == ("ablehnen", ["A4"])
    _submit(runtime, instance, "entscheidung_treffen", ABLEHNEN)
    assert _open(runtime, instance) == ["anhoerung_durchfuehren"]  # no refusal without a hearing
    _submit(runtime, instance, "anhoerung_durchfuehren", {"anhoerung_datum": "2026-01-05",
                                                          "anhoerung_gruende": "Altersgrenze überschritten."})
    assert _timers(runtime, instance)["stellungnahmefrist_abgelaufen"] == _berlin(2026, 1, 20)  # 19.01. + 24:00
    clock.set(_berlin(2026, 1, 20))
    _fire(runtime)  # nobody answered: decide again, now after the hearing
    assert _open(runtime, instance) == ["entscheidung_treffen"]
    _submit(runtime, instance, "entscheidung_treffen", ABLEHNEN)
    assert _open(runtime, instance) == ["ablehnungsbescheid_erlassen"]
    _submit(runtime, instance, "ablehnungsbescheid_erlassen", {"bescheid_datum": "2026-01-21", "ablehnungsgruende":
                                                               "§25a Abs. 1 S. 1 Nr. 4 AufenthG.",
                                                               "rechtsbehelfsbelehrung": True})
    assert _state(runtime, instance) == "completed"
    assert _variables(runtime, instance)["ergebnis"] == "abgelehnt"


def test_a_statement_within_the_period_leads_back_to_the_decision(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000104", geburtsdatum="1998-12-01")
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    _submit(runtime, instance, "entscheidung_treffen", ABLEHNEN)
    _submit(runtime, instance, "anhoerung_durchfuehren", {"anhoerung_datum": "2026-01-05",
                                                          "anhoerung_gruende": "Altersgrenze überschritten."})
    _submit(runtime, instance, "stellungnahme_abwarten", {"stellungnahme_eingegangen": True,
                                                          "stellungnahme_inhalt": "Antrag rechtzeitig per Fax."})
    assert _open(runtime, instance) == ["entscheidung_treffen"]
    atypisch = {**ERTEILEN, "atypisch": True, "atypisch_begruendung": "Fax vom 30.11.2025 belegt den früheren Antrag."}
    _submit(runtime, instance, "entscheidung_treffen", atypisch)
    assert _open(runtime, instance) == ["aufenthaltserlaubnis_erteilen"]


def test_an_atypical_case_needs_a_written_reason(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000105")
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    assert set(_errors(runtime, instance, "entscheidung_treffen", {**ABLEHNEN, "atypisch": True})) == {
        "atypisch_begruendung"}
    short = _errors(runtime, instance, "entscheidung_treffen", {**ABLEHNEN, "atypisch": True,
                                                                "atypisch_begruendung": "zu kurz"})
    assert set(short) == {"atypisch_begruendung"}
    assert _errors(runtime, instance, "entscheidung_treffen", {**ABLEHNEN, "entscheidung": "vielleicht"}) != {}
    assert _errors(runtime, instance, "entscheidung_treffen", ABLEHNEN) == {}  # not atypical: no reason asked
    assert _open(runtime, instance) == ["anhoerung_durchfuehren"]


def test_document_deadline_reminds_a_week_before_and_then_decides_on_the_file(runtime: Runtime,
                                                                              clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000106")
    _submit(runtime, instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": False,
                                                            "fehlende_unterlagen": ["pass", "schulzeugnisse"]})
    _submit(runtime, instance, "unterlagen_nachfordern", {"nachforderung_datum": "2026-01-07",
                                                          "nachforderung_text": "Pass und Schulzeugnisse"})
    values = _variables(runtime, instance)
    assert values["nachforderung_frist"] == "2026-02-04"  # 07.01. + 4 weeks, a Wednesday (§188 Abs. 2 BGB)
    assert _timers(runtime, instance) == {"nachforderung_erinnerung": _berlin(2026, 1, 29),
                                          "nachforderung_frist_abgelaufen": _berlin(2026, 2, 5),
                                          "drei_monate_seit_antrag": _berlin(2026, 4, 8)}
    clock.set(_berlin(2026, 1, 29))
    _fire(runtime)
    assert _open(runtime, instance) == ["an_nachforderung_erinnern", "unterlagen_eingang_abwarten"]
    _submit(runtime, instance, "an_nachforderung_erinnern", {"erinnerung_erledigt": True})
    clock.set(_berlin(2026, 2, 5))
    _fire(runtime)
    assert _open(runtime, instance) == ["voraussetzungen_erfassen"]
    assert _variables(runtime, instance)["nach_aktenlage"] is True


def test_documents_that_arrive_in_time_are_checked_again(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000107")
    _submit(runtime, instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": False,
                                                            "fehlende_unterlagen": ["pass"]})
    _submit(runtime, instance, "unterlagen_nachfordern", {"nachforderung_datum": "2026-01-07",
                                                          "nachforderung_text": "Pass"})
    _submit(runtime, instance, "unterlagen_eingang_abwarten", {"unterlagen_eingegangen": True,
                                                               "unterlagen_eingang_datum": "2026-01-20"})
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]
    assert _timers(runtime, instance).keys() == {"drei_monate_seit_antrag"}


def test_azr_and_bzr_get_a_reminder_when_they_do_not_answer(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000111")
    _submit(runtime, instance, "vollstaendigkeit_pruefen", VOLLSTAENDIG)
    _submit(runtime, instance, "voraussetzungen_erfassen", VORAUSSETZUNGEN_25A)
    due = _timers(runtime, instance)
    assert (due["azr_erinnerung"], due["bzr_erinnerung"]) == (datetime(2026, 1, 19, 8, tzinfo=UTC),
                                                              datetime(2026, 2, 2, 8, tzinfo=UTC))
    clock.set(datetime(2026, 1, 19, 8, tzinfo=UTC))
    _fire(runtime)
    assert _open(runtime, instance) == ["azr_nachhaken"]
    _submit(runtime, instance, "azr_nachhaken", {"erinnerung_erledigt": True, "erinnerung_vermerk": "Telefonisch"})
    assert _work(runtime, "azr_abfrage", {"azr_ergebnis": "Duldung bestätigt"}) == 1
    clock.set(datetime(2026, 2, 2, 8, tzinfo=UTC))
    _fire(runtime)
    assert _open(runtime, instance) == ["bzr_nachhaken"]
    assert _work(runtime, "bzr_auskunft", {"bzr_eintraege": 0}) == 1
    assert _open(runtime, instance) == ["bzr_nachhaken", "entscheidung_treffen"]


def test_untaetigkeit_after_three_months_asks_the_teamleitung_for_the_reason(runtime: Runtime,
                                                                             clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000108")  # applied on Monday 05.01.2026
    # 05.04.2026 is Easter Sunday and 06.04. Easter Monday: the period ends on Tuesday 07.04. (§193 BGB)
    assert _timers(runtime, instance)["drei_monate_seit_antrag"] == _berlin(2026, 4, 8)
    clock.set(_berlin(2026, 4, 7))
    _fire(runtime)
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]
    clock.set(_berlin(2026, 4, 8))
    _fire(runtime)
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen", "zureichenden_grund_dokumentieren"]
    with runtime.command(ABH) as ctx:  # the Ausländerbehörde's caseworkers do not see the supervision task
        assert [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))] \
            == ["vollstaendigkeit_pruefen"]
    reason = {"zureichender_grund": "fehlende_unterlagen",
              "zureichender_grund_erlaeuterung": "Pass wurde erst am 01.04. vorgelegt."}
    task = _task(runtime, instance, "zureichenden_grund_dokumentieren", TEAMLEITUNG)
    with runtime.command(TEAMLEITUNG) as ctx:
        errors = human_tasks.submit_form(ctx, task.id, {**reason, "zureichender_grund_erlaeuterung": "kurz"})
    assert set(errors) == {"zureichender_grund_erlaeuterung"}
    _submit(runtime, instance, "zureichenden_grund_dokumentieren", reason, TEAMLEITUNG)
    with runtime.command() as ctx:
        (done,) = audit.query(ctx, kinds=["task_completed"], instance_id=instance,
                              element_id="zureichenden_grund_dokumentieren")
    assert done.details["variables"] == ["zureichender_grund", "zureichender_grund_erlaeuterung"]
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]


def test_start_form_checks_the_aktenzeichen_and_the_dates(runtime: Runtime) -> None:
    _deploy(runtime)
    good = {"aktenzeichen": "ABH-2026-000109", "person_name": "Samira A.", "geburtsdatum": "2004-03-15",
            "antragsdatum": "2026-01-05", "antragsart": "25a", "aufenthaltsstatus": "104c"}
    _, errors = _start_form(runtime, {**good, "aktenzeichen": "EBH-2026-000109", "geburtsdatum": "15.13.2004"})
    assert set(errors) == {"aktenzeichen", "geburtsdatum", "gueltig_bis_104c"}
    instance, errors = _start_form(runtime, {**good, "gueltig_bis_104c": "30.09.2026"})
    assert errors == {} and instance is not None
    assert _variables(runtime, instance)["gueltig_bis_104c"] == "2026-09-30"


# --- before the application: the §25a age limit and the §104c expiry --------------------------------------------


VERWEISUNG = {"aktenzeichen": "ABH-2026-000201", "person_name": "Amina K.", "geburtsdatum": "2000-02-20",
              "aufenthaltsstatus": "duldung", "antrag_liegt_vor": False}


def test_age_alerts_at_26_years_and_at_26_years_9_months(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _refer(runtime)  # born 20.02.2000: 25 years and 10 months old
    _submit(runtime, instance, "verweisung_annehmen", VERWEISUNG)
    assert _open(runtime, instance) == ["antrag_abwarten"]
    assert _timers(runtime, instance) == {"altersgrenze_26_erreicht": _berlin(2026, 2, 20)}
    clock.set(_berlin(2026, 2, 19))
    _fire(runtime)
    assert _open(runtime, instance) == ["antrag_abwarten"]
    clock.set(_berlin(2026, 2, 20))
    _fire(runtime)
    assert _open(runtime, instance) == ["altersgrenze_26_hinweisen", "antrag_abwarten"]
    _submit(runtime, instance, "altersgrenze_26_hinweisen", {"hinweis_massnahme": "person_angeschrieben"})
    assert _timers(runtime, instance)["altersgrenze_26_9_erreicht"] == _berlin(2026, 11, 20)
    clock.set(_berlin(2026, 11, 20))
    _fire(runtime)
    assert _open(runtime, instance) == ["altersgrenze_26_9_hinweisen", "antrag_abwarten"]
    _submit(runtime, instance, "altersgrenze_26_9_hinweisen", {"hinweis_massnahme": "keine_massnahme",
                                                               "hinweis_begruendung": "Person ist unbekannt verzogen."})
    _submit(runtime, instance, "antrag_abwarten", {"ausgang_vorantrag": "antrag_gestellt",
                                                   "antragsdatum": "2026-12-01", "antragsart": "25a"})
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]


def test_no_age_alert_when_the_application_came_before(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _refer(runtime)
    _submit(runtime, instance, "verweisung_annehmen", VERWEISUNG)
    clock.set(_berlin(2026, 2, 1))
    _submit(runtime, instance, "antrag_abwarten", {"ausgang_vorantrag": "antrag_gestellt",
                                                   "antragsdatum": "2026-02-01", "antragsart": "25a"})
    assert "altersgrenze_26_erreicht" not in _timers(runtime, instance)
    clock.set(_berlin(2027, 1, 1))
    _fire(runtime)
    assert "altersgrenze_26_hinweisen" not in _open(runtime, instance)
    assert "altersgrenze_26_9_hinweisen" not in _open(runtime, instance)


def test_no_age_alert_for_someone_who_is_27_already(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _refer(runtime, geburtsdatum="1998-06-01")
    _submit(runtime, instance, "verweisung_annehmen", {**VERWEISUNG, "geburtsdatum": "1998-06-01"})
    assert _variables(runtime, instance)["hinweis_alter"] is False
    assert _timers(runtime, instance) == {}


def test_104c_expiry_alert_six_months_before(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _refer(runtime, geburtsdatum="1990-05-05")
    _submit(runtime, instance, "verweisung_annehmen", {**VERWEISUNG, "geburtsdatum": "1990-05-05",
                                                       "aufenthaltsstatus": "104c", "gueltig_bis_104c": "2026-09-30"})
    assert _timers(runtime, instance) == {"ablauf_104c_naht": _berlin(2026, 3, 30)}
    clock.set(_berlin(2026, 3, 30))
    _fire(runtime)
    assert _open(runtime, instance) == ["ablauf_104c_hinweisen", "antrag_abwarten"]
    _submit(runtime, instance, "ablauf_104c_hinweisen", {"hinweis_massnahme": "beratungstermin"})
    _submit(runtime, instance, "antrag_abwarten", {"ausgang_vorantrag": "antrag_gestellt",
                                                   "antragsdatum": "2026-04-15", "antragsart": "25b"})
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]


# --- the referral from the Fallmanagement ------------------------------------------------------------------------


def _fm_case(runtime: Runtime) -> str:
    deploy(runtime, "fm_rueckmeldung_stub")
    with runtime.command() as ctx:
        return instances.start(ctx, key="fm_rueckmeldung_stub", business_key=FM_AKTENZEICHEN).id


def test_a_referral_is_accepted_decided_and_reported_back(runtime: Runtime) -> None:
    _deploy(runtime)
    fm_case = _fm_case(runtime)
    instance = _refer(runtime)
    assert _open(runtime, instance) == ["verweisung_annehmen"]
    assert _variables(runtime, instance)["zugang"] == {"weg": "verweisung", "rueckmeldung": True}
    _submit(runtime, instance, "verweisung_annehmen", {**VERWEISUNG, "antrag_liegt_vor": True,
                                                       "antragsdatum": "2026-01-05", "antragsart": "25a"})
    with runtime.command(ADMIN) as ctx:  # the ABH's own Aktenzeichen becomes the procedure's business key
        assert instances.get(ctx, instance).business_key == VERWEISUNG["aktenzeichen"]
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    _submit(runtime, instance, "entscheidung_treffen", ERTEILEN)
    _submit(runtime, instance, "aufenthaltserlaubnis_erteilen", {"erteilungsdatum": "2026-02-02",
                                                                 "befristung_monate": 24})
    assert _state(runtime, fm_case) == "completed"
    reported = _variables(runtime, fm_case)
    assert reported == {"rueckmeldung_von": "abh", "rueckmeldung_ergebnis":
                        "Aufenthaltserlaubnis nach §25a AufenthG erteilt am 2026-02-02, gültig bis 2028-02-01."}
    with runtime.command() as ctx:
        (sent,) = audit.query(ctx, kinds=["message_thrown"], instance_id=instance)
    assert sent.details["business_key"] == FM_AKTENZEICHEN and sent.details["receivers"] == [fm_case]
    assert _open(runtime, instance) == [] and _state(runtime, instance) == "active"  # waits for the Wiedervorlage


def test_a_referral_without_application_reports_that_back(runtime: Runtime) -> None:
    _deploy(runtime)
    fm_case = _fm_case(runtime)
    instance = _refer(runtime)
    _submit(runtime, instance, "verweisung_annehmen", VERWEISUNG)
    _submit(runtime, instance, "antrag_abwarten", {"ausgang_vorantrag": "kein_antrag",
                                                   "vermerk_vorantrag": "Person möchte keinen Antrag stellen."})
    assert _state(runtime, instance) == "completed"
    assert _variables(runtime, fm_case)["rueckmeldung_ergebnis"].startswith("Kein Antrag")


def test_a_direct_application_reports_nothing_back(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="ABH-2026-000110", geburtsdatum="1998-12-01")
    assert _variables(runtime, instance)["zugang"] == {"weg": "antrag", "rueckmeldung": False}
    _to_decision(runtime, instance, VORAUSSETZUNGEN_25A)
    _submit(runtime, instance, "entscheidung_treffen", ABLEHNEN)
    _submit(runtime, instance, "anhoerung_durchfuehren", {"anhoerung_datum": "2026-01-05",
                                                          "anhoerung_gruende": "Altersgrenze überschritten."})
    _submit(runtime, instance, "stellungnahme_abwarten", {"stellungnahme_eingegangen": True})
    _submit(runtime, instance, "entscheidung_treffen", ABLEHNEN)
    _submit(runtime, instance, "ablehnungsbescheid_erlassen", {"bescheid_datum": "2026-01-21",
                                                               "ablehnungsgruende": "Altersgrenze.",
                                                               "rechtsbehelfsbelehrung": True})
    with runtime.command() as ctx:
        assert audit.query(ctx, kinds=["message_thrown"], instance_id=instance) == []
    assert _state(runtime, instance) == "completed"


# --- rule boundaries on the deployed tables --------------------------------------------------------------------


def _decide(key: str, **variables: Any) -> list[dict[str, Any]]:
    path = next(p for p in (ROOT / "bpmn").glob("*.dmn") if any(
        d.key == key for d in decisions.parse_dmn(p.read_bytes(), p.name)))
    found = decisions.parse_dmn(path.read_bytes(), path.name)
    return decisions.evaluate_in(found, key, variables).result_list


def _codes(key: str, **variables: Any) -> set[tuple[str, str]]:
    return {(row["code"], row["art"]) for row in _decide(key, **variables)}


A_OK = {"entscheidungsdatum": "2026-03-02", "aufenthaltsstatus": "duldung", "antragsdatum": "2026-03-02",
        "geburtsdatum": "2004-03-15", **VORAUSSETZUNGEN_25A}
B_OK = {"entscheidungsdatum": "2026-03-02", "aufenthaltsstatus": "duldung", **VORAUSSETZUNGEN_25B}


@pytest.mark.parametrize(("geburtsdatum", "verlaengerung", "expected"), [
    ("1999-03-03", False, set()),  # 26 on the day of application: in time
    ("1999-03-02", False, {("A4", "fehlt")}),  # 27th birthday on the day of application: too late
    ("1999-03-02", True, set()),  # an extension may be applied for after 27
])
def test_25a_application_before_the_27th_birthday(geburtsdatum: str, verlaengerung: bool,
                                                 expected: set[tuple[str, str]]) -> None:
    assert _codes("aufenthg_25a", **{**A_OK, "geburtsdatum": geburtsdatum, "verlaengerung": verlaengerung}) == expected


@pytest.mark.parametrize(("changes", "expected"), [
    ({"duldung_monate": 11}, {("A1", "fehlt")}),
    ({"duldung_monate": 12}, set()),
    ({"aufenthaltsstatus": "gestattung"}, {("A1", "fehlt")}),
    ({"voraufenthalt_jahre": 2.9}, {("A2", "fehlt")}),
    ({"laengste_unterbrechung_monate": 3.5}, {("A2", "fehlt")}),
    ({"schulbesuch_jahre": 2}, {("A3", "fehlt")}),
    ({"schulbesuch_jahre": 2, "schulbefreiung": True}, set()),
    ({"geburtsdatum": "2012-03-03"}, {("A4", "fehlt")}),  # 13 on the day of the decision
    ({"integrationsprognose": False}, {("A5", "fehlt")}),
    ({"in_ausbildung": False}, {("A6", "fehlt")}),
    ({"in_ausbildung": False, "lebensunterhalt_gesichert": True}, set()),
    ({"taeuschung": True}, {("A7", "fehlt")}),
    ({"straftaten": True}, {("A8", "pruefen")}),
    ({"rolle": "eltern", "tagessaetze_summe": 50}, {("A8", "pruefen")}),
    ({"rolle": "eltern", "tagessaetze_summe": 51}, {("A8", "fehlt"), ("A8", "pruefen")}),
    ({"rolle": "eltern", "tagessaetze_summe": 90, "nur_aufenthg_asylg": True}, {("A8", "pruefen")}),
    ({"rolle": "eltern", "tagessaetze_summe": 91, "nur_aufenthg_asylg": True}, {("A8", "fehlt"), ("A8", "pruefen")}),
])
def test_25a_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert _codes("aufenthg_25a", **{**A_OK, **changes}) == expected


@pytest.mark.parametrize(("datum", "expected"), [
    ("2022-12-30", {("RV", "pruefen")}),  # before the Chancen-Aufenthaltsrecht: law not encoded, manual
    ("2025-12-30", set()),  # §104c holders still named in §25a(1)
    ("2025-12-31", {("A1", "pruefen")}),  # struck from §25a(1): transition, checked by hand
])
def test_25a_law_periods_by_decision_date(datum: str, expected: set[tuple[str, str]]) -> None:
    changes = {"entscheidungsdatum": datum, "antragsdatum": datum, "aufenthaltsstatus": "104c"}
    assert _codes("aufenthg_25a", **{**A_OK, **changes}) == expected


@pytest.mark.parametrize(("kind", "jahre", "expected"), [
    (False, 6, set()), (False, 5.9, {("B2", "fehlt")}),
    (True, 4, set()), (True, 3.9, {("B2", "fehlt")}),
])
def test_25b_six_years_or_four_with_a_minor_child(kind: bool, jahre: float, expected: set[tuple[str, str]]) -> None:
    assert _codes("aufenthg_25b", **{**B_OK, "minderjaehriges_kind": kind, "voraufenthalt_jahre": jahre}) == expected


@pytest.mark.parametrize(("changes", "expected"), [
    ({"aufenthaltsstatus": "gestattung"}, {("B1", "fehlt")}),
    ({"aufenthaltsstatus": "ohne"}, {("B1", "pruefen")}),
    ({"unterbrechungen_anzahl": 2}, {("B2", "fehlt")}),
    ({"laengste_unterbrechung_monate": 4}, {("B2", "fehlt")}),
    ({"fdgo_erklaerung": False}, {("B3", "fehlt")}),
    ({"grundkenntnisse": False}, {("B3", "fehlt")}),
    ({"lebensunterhalt_ueberwiegend": False}, {("B4", "fehlt")}),
    ({"lebensunterhalt_ueberwiegend": False, "lebensunterhalt_ausnahme": True}, set()),
    ({"deutsch_a2": False}, {("B5", "fehlt")}),
    ({"schulbesuch_kinder": "fehlt"}, {("B6", "fehlt")}),
    ({"aktuelle_taeuschung": True}, {("B7", "fehlt")}),
    ({"aufenthaltsstatus": "beschaeftigungsduldung", "beschaeftigungsduldung_monate": 29}, set()),
    ({"aufenthaltsstatus": "beschaeftigungsduldung", "beschaeftigungsduldung_monate": 30}, {("B8", "hinweis")}),
    ({"ausweisungsinteresse": True}, {("B9", "fehlt")}),
    ({"aufenthaltsstatus": "104c", "entscheidungsdatum": "2025-12-30"}, set()),
    ({"aufenthaltsstatus": "104c", "entscheidungsdatum": "2025-12-31"}, {("B1", "pruefen")}),
    ({"entscheidungsdatum": "2022-12-30"}, {("RV", "pruefen")}),
])
def test_25b_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert _codes("aufenthg_25b", **{**B_OK, **changes}) == expected


def test_validity_three_years_for_25a_and_two_for_25b() -> None:
    assert _decide("aufenthg_26", antragsart="25a") == [{"hoechstmonate": 36}]
    assert _decide("aufenthg_26", antragsart="25b") == [{"hoechstmonate": 24}]


def test_every_rule_cites_its_paragraph_and_source() -> None:
    for name in ("aufenthg_25a.dmn", "aufenthg_25b.dmn", "aufenthg_26.dmn", "bleiberecht_fristen.dmn",
                 "bleiberecht_zugang.dmn"):
        path = ROOT / "bpmn" / name
        for decision in decisions.parse_dmn(path.read_bytes(), name):
            for rule in decision.logic.rules:  # type: ignore[union-attr]
                note = rule.annotation or ""
                assert "[" in note and "]" in note, f"{name} {rule.id}: the annotation names no source key"
                if decision.key.startswith("aufenthg_"):
                    assert ("§" in note or "Art." in note) and "DOMAIN" in note, f"{name} {rule.id}: no paragraph"
