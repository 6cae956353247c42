"""bpmn/einbuergerung.bpmn end to end with a settable clock: naturalisation with fee, checks and handover; a
no-show at the ceremony (acquisition only on handover); the Regelanfrage only from 16; a pending investigation that
suspends the decision with a monthly re-check; the Untätigkeit warning to the Teamleitung; an
Einbürgerungszusicherung with its reminder and expiry; stale checks repeated before the handover; a refusal only
after an Anhörung; a referral from the Fallmanagement that reports back. Every form is submitted empty first
(refused) and then validly; the rule boundaries of stag_10, stag_12a, stag_37, stag_38 and
einbuergerung_aktualitaet are tested on the deployed tables."""

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

EBH = Actor("erika", "caseworker", frozenset({"ebh-team"}))
TEAMLEITUNG = Actor("tina", "supervisor", frozenset({"ebh-teamleitung"}))
FM_AKTENZEICHEN = "FM-2026-000077"

MY_FILES = ("einbuergerung", "stag_", "ebh_")


# --- driving a case --------------------------------------------------------------------------------------------


def _deploy(runtime: Runtime) -> None:
    """Everything in bpmn/ and forms/; while another model there does not deploy, only this procedure's files."""
    try:
        deploy_kim(runtime)
    except DeploymentError as error:
        if any(str(p.file).startswith(MY_FILES) for p in error.problems):
            raise
        warnings.warn(f"deploy_kim failed on other models, deploying einbuergerung alone: {error}", stacklevel=2)
        files = [(p.name, p.read_bytes()) for folder in ("bpmn", "forms") for p in sorted((ROOT / folder).iterdir())
                 if p.name.startswith(MY_FILES)]
        with runtime.command() as ctx:
            definitions.deploy(ctx, files, name="einbuergerung", source="test")


def _start_form(runtime: Runtime, values: Mapping[str, Any]) -> tuple[str | None, dict[str, list[str]]]:
    with runtime.command(EBH) as ctx:
        definition = definitions.latest_process(ctx, "einbuergerung")
        assert definition is not None and definition.start_form is not None
        form = definitions.resolve_form(ctx, definition.start_form, definition.deployment_id)
        assert form is not None and form.key == "ebh_beratung"
        clean, errors = forms.validate_submission(form, values, today=ctx.now().date())
        if errors:
            return None, errors
        return (instances.start(ctx, key="einbuergerung", business_key=clean["aktenzeichen"], variables_in=clean).id,
                {})


def _open(runtime: Runtime, instance: str) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance)))


def _task(runtime: Runtime, instance: str, element: str, actor: Actor = EBH) -> Any:
    with runtime.command(actor) as ctx:
        found = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance, task_definition_key=element))
    assert len(found) == 1, f"{element}: {_open(runtime, instance)}"
    return found[0]


def _submit(runtime: Runtime, instance: str, element: str, values: Mapping[str, Any], actor: Actor = EBH) -> None:
    """Submit the task's form: empty first (the form refuses it, nothing happens), then with the values."""
    task = _task(runtime, instance, element, actor)
    with runtime.command(actor) as ctx:
        assert human_tasks.submit_form(ctx, task.id, {}) != {}, f"{element}: the empty form was accepted"
    with runtime.command(actor) as ctx:
        assert human_tasks.submit_form(ctx, task.id, dict(values)) == {}


def _errors(runtime: Runtime, instance: str, element: str, values: Mapping[str, Any]) -> dict[str, list[str]]:
    task = _task(runtime, instance, element)
    with runtime.command(EBH) as ctx:
        return human_tasks.submit_form(ctx, task.id, dict(values))


def _topics(runtime: Runtime, instance: str) -> list[str]:
    with runtime.command() as ctx:
        return sorted(t.topic for t in external_tasks.list_tasks(ctx, instance_id=instance))


def _work(runtime: Runtime, instance: str, topic: str, variables: Mapping[str, Any] | None = None) -> None:
    with runtime.command() as ctx:
        (task,) = [t for t in external_tasks.fetch_and_lock(ctx, "behoerde", [
            external_tasks.TopicRequest(topic, 60_000)], max_tasks=50) if t.row.instance_id == instance]
        external_tasks.complete(ctx, task.row.id, "behoerde", dict(variables or {}))


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
    """Midnight in Berlin as UTC: when a timer set to that date fires."""
    return datetime(year, month, day, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


BERATUNG = {"aktenzeichen": "EBH-2026-000301", "person_name": "Olena M.", "geburtsdatum": "1990-04-12",
            "beratungsdatum": "2026-01-05", "staatsangehoerigkeit": "ukrainisch"}
ANTRAG = {"antragsdatum": "2026-01-05", "aufenthaltstitel": "unbefristet", "miteinbuergerung_minderjaehrig": False}
VORAUSSETZUNGEN = {
    "aufenthalt_jahre": 6, "besondere_integration": False, "identitaet_geklaert": True, "bekenntnis_fdgo": True,
    "bekenntnis_verantwortung": True, "lebensunterhalt_ohne_sgb": True, "ausnahme_gastarbeiter": False,
    "vollzeit_monate": 24, "ehegatte_vollzeit_mit_kind": False, "sprachniveau": "B1", "einbuergerungstest_punkte": 25,
    "test_befreiung": "keine", "mehrehe": False, "mehrstaatigkeit": True, "ermittlungsverfahren_anhaengig": False,
    "menschenverachtendes_motiv": False,
    "verurteilungen": [{"art": "geldstrafe", "tagessaetze": 40, "erlassen": False, "tilgungsreif": False}]}
EINBUERGERN = {"entscheidung": "einbuergern", "zusicherung_erforderlich": False,
               "entscheidung_begruendung": "Voraussetzungen nach §10 StAG erfüllt."}


def _start(runtime: Runtime, **overrides: Any) -> str:
    instance, errors = _start_form(runtime, {**BERATUNG, **overrides})
    assert errors == {} and instance is not None
    return instance


def _to_checks(runtime: Runtime, instance: str, antrag: Mapping[str, Any] = ANTRAG,
               voraussetzungen: Mapping[str, Any] = VORAUSSETZUNGEN) -> None:
    _submit(runtime, instance, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt"})
    _submit(runtime, instance, "antrag_erfassen", antrag)
    _submit(runtime, instance, "gebuehr_festsetzen", {"gebuehr_bescheid_datum": "2026-01-05"})
    _submit(runtime, instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": True})
    _submit(runtime, instance, "voraussetzungen_erfassen", voraussetzungen)


def _checks_answer(runtime: Runtime, instance: str) -> None:
    for topic in _topics(runtime, instance):
        _work(runtime, instance, topic, {f"{topic}_ergebnis": "keine Erkenntnisse"})


def _to_decision(runtime: Runtime, instance: str, **kwargs: Any) -> None:
    _to_checks(runtime, instance, **kwargs)
    _checks_answer(runtime, instance)
    assert _open(runtime, instance) == ["entscheidung_treffen"]


def _hand_over(runtime: Runtime, instance: str, termin: str = "2026-03-02") -> None:
    _submit(runtime, instance, "feier_terminieren", {"feier_termin": termin, "feier_ort": "Rathaus"})
    _submit(runtime, instance, "urkunde_aushaendigen", {"feier_ergebnis": "ausgehaendigt",
                                                        "bekenntnis_abgegeben": True, "aushaendigung_datum": termin})


# --- the procedure end to end ----------------------------------------------------------------------------------


def test_naturalised_on_handover_and_the_authorities_are_told(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime)
    _to_checks(runtime, instance)
    values = _variables(runtime, instance)
    assert (values["gebuehr_regel"], values["gebuehr_betrag"]) == (255, 255)
    assert values["voraussetzungen_stag"] == [{"code": "E10", "art": "hinweis", "hinweis": "Mehrstaatigkeit wird "
                                                                                           "hingenommen."}]
    assert values["voraussetzungen_stag_regel"] == "stag_10:1 (2025-10)"
    assert values["straftaten_stag"]["bewertung"] == "unerheblich"  # 40 Tagessätze
    assert values["regelanfrage"] == {"regelanfrage_vs": True, "handlungsfaehig": True}
    assert _topics(runtime, instance) == ["bzr_auskunft", "polizei_anfrage", "vs_regelanfrage"]
    with runtime.command() as ctx:
        evaluated = {e.element_id: e.details for e in audit.query(ctx, kinds=["decision_evaluated"],
                                                                  instance_id=instance)}
    assert evaluated["voraussetzungen_pruefen"]["decision_date"] == "2026-01-05"
    assert evaluated["strafrecht_pruefen"]["decision_key"] == "stag_12a"
    assert [m["id"] for m in evaluated["strafrecht_pruefen"]["matched_rules"]] == ["E9_unerheblich"]
    _checks_answer(runtime, instance)
    assert _variables(runtime, instance)["vorschlag"] == "einbuergern"
    _submit(runtime, instance, "entscheidung_treffen", EINBUERGERN)
    _submit(runtime, instance, "feier_terminieren", {"feier_termin": "2026-03-02", "feier_ort": "Rathaus"})
    assert "erwerb_datum" not in _variables(runtime, instance)
    _submit(runtime, instance, "urkunde_aushaendigen", {"feier_ergebnis": "ausgehaendigt",
                                                        "bekenntnis_abgegeben": True,
                                                        "aushaendigung_datum": "2026-03-02"})
    assert _topics(runtime, instance) == ["abh_mitteilung", "meldebehoerde_mitteilung"]
    values = _variables(runtime, instance)
    assert (values["ergebnis"], values["erwerb_datum"]) == ("eingebuergert", "2026-03-02")
    _work(runtime, instance, "meldebehoerde_mitteilung")
    _work(runtime, instance, "abh_mitteilung")
    assert _state(runtime, instance) == "completed"


def test_a_no_show_is_rescheduled_and_nobody_is_naturalised_without_the_handover(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000302")
    _to_decision(runtime, instance)
    _submit(runtime, instance, "entscheidung_treffen", EINBUERGERN)
    _submit(runtime, instance, "feier_terminieren", {"feier_termin": "2026-02-02"})
    urkunde = _task(runtime, instance, "urkunde_aushaendigen")
    assert urkunde.due_at.replace(tzinfo=UTC) == _berlin(2026, 2, 2)
    assert set(_errors(runtime, instance, "urkunde_aushaendigen", {"feier_ergebnis": "ausgehaendigt"})) == {
        "bekenntnis_abgegeben", "aushaendigung_datum"}
    _submit(runtime, instance, "urkunde_aushaendigen", {"feier_ergebnis": "nicht_erschienen"})
    assert _open(runtime, instance) == ["feier_terminieren"]
    assert "erwerb_datum" not in _variables(runtime, instance)
    _hand_over(runtime, instance, "2026-02-16")
    assert _variables(runtime, instance)["erwerb_datum"] == "2026-02-16"


@pytest.mark.parametrize(("geburtsdatum", "topics"), [
    ("2010-01-06", ["bzr_auskunft", "polizei_anfrage"]),  # 15 on the day of the decision: no Regelanfrage
    ("2010-01-05", ["bzr_auskunft", "polizei_anfrage", "vs_regelanfrage"]),  # 16 that day
])
def test_regelanfrage_verfassungsschutz_only_from_16(runtime: Runtime, geburtsdatum: str, topics: list[str]) -> None:
    _deploy(runtime)
    instance = _start(runtime, geburtsdatum=geburtsdatum)
    minor = {**ANTRAG, "miteinbuergerung_minderjaehrig": True, "eigenes_einkommen": False}
    _to_checks(runtime, instance, antrag=minor, voraussetzungen={**VORAUSSETZUNGEN, "sprachniveau": "A2"})
    assert _topics(runtime, instance) == topics
    values = _variables(runtime, instance)
    assert values["gebuehr_regel"] == 51  # co-naturalised minor without own income
    _checks_answer(runtime, instance)
    assert (_variables(runtime, instance)["vs_datum"] is None) is (len(topics) == 2)


def test_a_pending_investigation_suspends_the_decision_with_a_monthly_recheck(runtime: Runtime,
                                                                              clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000303")
    _to_checks(runtime, instance, voraussetzungen={**VORAUSSETZUNGEN, "ermittlungsverfahren_anhaengig": True})
    values = _variables(runtime, instance)
    assert (values["straftaten_stag"]["bewertung"], values["entscheidung_ausgesetzt"]) == ("ausgesetzt", True)
    assert _topics(runtime, instance) == [] and _open(runtime, instance) == []
    assert _timers(runtime, instance)["ermittlungsstand_abwarten"] == datetime(2026, 2, 5, 8, tzinfo=UTC)
    clock.set(datetime(2026, 2, 5, 8, tzinfo=UTC))
    _fire(runtime)
    _submit(runtime, instance, "ermittlungsstand_pruefen", {"nachfrage_datum": "2026-02-05",
                                                            "ermittlungsverfahren_anhaengig": True})
    assert _timers(runtime, instance)["ermittlungsstand_abwarten"] == datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert _topics(runtime, instance) == []
    clock.set(datetime(2026, 3, 5, 8, tzinfo=UTC))
    _fire(runtime)
    ausgang = {"nachfrage_datum": "2026-03-05", "ermittlungsverfahren_anhaengig": False,
               "ermittlung_ausgang": "verurteilung", "neue_art": "geldstrafe", "neue_umfang": 51}
    assert set(_errors(runtime, instance, "ermittlungsstand_pruefen", {**ausgang, "neue_umfang": None})) == {
        "neue_umfang"}
    _submit(runtime, instance, "ermittlungsstand_pruefen", ausgang)
    values = _variables(runtime, instance)  # 40 + 51 = 91 Tagessätze: slightly over, case by case
    assert (values["straftaten_stag"]["bewertung"], values["entscheidung_ausgesetzt"]) == ("einzelfall", False)
    assert values["entscheidungsdatum"] == "2026-03-05"
    assert (values["vorschlag"], values["maengel_text"]) == ("einzelfall", "E9")
    assert _topics(runtime, instance) == ["bzr_auskunft", "polizei_anfrage", "vs_regelanfrage"]


def test_untaetigkeit_after_three_months_asks_the_teamleitung_for_the_reason(runtime: Runtime,
                                                                             clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000304")
    _to_checks(runtime, instance, voraussetzungen={**VORAUSSETZUNGEN, "ermittlungsverfahren_anhaengig": True})
    assert _timers(runtime, instance)["drei_monate_seit_antrag"] == _berlin(2026, 4, 8)  # Easter moves the end
    clock.set(_berlin(2026, 4, 8))
    _fire(runtime)  # also the monthly re-checks that came due meanwhile (once)
    assert _open(runtime, instance) == ["ermittlungsstand_pruefen", "zureichenden_grund_dokumentieren"]
    with runtime.command(EBH) as ctx:
        assert [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))] \
            == ["ermittlungsstand_pruefen"]
    _submit(runtime, instance, "zureichenden_grund_dokumentieren", {
        "zureichender_grund": "ermittlungsverfahren",
        "zureichender_grund_erlaeuterung": "Ermittlungsverfahren der StA Köln noch anhängig (§12a Abs. 3 StAG)."},
        TEAMLEITUNG)
    with runtime.command() as ctx:
        (done,) = audit.query(ctx, kinds=["task_completed"], instance_id=instance,
                              element_id="zureichenden_grund_dokumentieren")
    assert done.actor == "tina" and "zureichender_grund" in done.details["variables"]
    assert _open(runtime, instance) == ["ermittlungsstand_pruefen"]


def test_a_zusicherung_is_reminded_three_months_before_it_expires(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000305")
    _to_decision(runtime, instance)
    _submit(runtime, instance, "entscheidung_treffen", {**EINBUERGERN, "zusicherung_erforderlich": True})
    _submit(runtime, instance, "zusicherung_erteilen", {"zusicherung_datum": "2026-03-02", "zusicherung_bedingung":
                                                        "Nachweis der Entlassung aus der ukrainischen "
                                                        "Staatsangehörigkeit"})
    values = _variables(runtime, instance)
    assert (values["zusicherung_gueltig_bis"], values["zusicherung_erinnerung_at"]) == ("2028-03-01", "2027-12-01")
    assert _timers(runtime, instance) == {"zusicherung_erinnerung": _berlin(2027, 12, 1),
                                          "zusicherung_abgelaufen": _berlin(2028, 3, 2),
                                          "drei_monate_seit_antrag": _berlin(2026, 4, 8)}
    clock.set(_berlin(2027, 11, 30))
    _fire(runtime)  # the Untätigkeit warning covers the whole procedure up to the handover
    assert _open(runtime, instance) == ["entlassungsnachweis_abwarten", "zureichenden_grund_dokumentieren"]
    clock.set(_berlin(2027, 12, 1))
    _fire(runtime)
    assert _open(runtime, instance) == ["entlassungsnachweis_abwarten", "zureichenden_grund_dokumentieren",
                                        "zusicherung_ablauf_erinnern"]
    _submit(runtime, instance, "zusicherung_ablauf_erinnern", {"erinnerung_erledigt": True})
    _submit(runtime, instance, "entlassungsnachweis_abwarten", {"nachweis_eingegangen": True,
                                                                "nachweis_datum": "2027-12-10"})
    assert _open(runtime, instance) == ["feier_terminieren", "zureichenden_grund_dokumentieren"]
    assert _timers(runtime, instance) == {}


def test_an_expired_zusicherung_is_extended_or_ends_the_procedure(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000306")
    _to_decision(runtime, instance)
    _submit(runtime, instance, "entscheidung_treffen", {**EINBUERGERN, "zusicherung_erforderlich": True})
    _submit(runtime, instance, "zusicherung_erteilen", {"zusicherung_datum": "2026-03-02",
                                                        "zusicherung_bedingung": "Entlassungsnachweis"})
    clock.set(_berlin(2028, 3, 2))
    _fire(runtime)  # the reminder, the expiry and the Untätigkeit warning were all due: each fires once
    assert _open(runtime, instance) == ["zureichenden_grund_dokumentieren", "zusicherung_abgelaufen_entscheiden",
                                        "zusicherung_ablauf_erinnern"]
    _submit(runtime, instance, "zusicherung_abgelaufen_entscheiden", {"zusicherung_ausgang": "verlaengern"})
    _submit(runtime, instance, "zusicherung_erteilen", {"zusicherung_datum": "2028-03-02",
                                                        "zusicherung_bedingung": "Entlassungsnachweis"})
    assert _variables(runtime, instance)["zusicherung_gueltig_bis"] == "2030-03-01"
    clock.set(_berlin(2030, 3, 2))
    _fire(runtime)
    _submit(runtime, instance, "zusicherung_abgelaufen_entscheiden", {"zusicherung_ausgang": "abschliessen"})
    assert _state(runtime, instance) == "completed"
    assert _variables(runtime, instance)["ergebnis"] == "zusicherung_abgelaufen"


def test_checks_older_than_six_months_are_repeated_before_the_handover(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000307")
    _to_decision(runtime, instance)  # checks answered on 05.01.2026
    _submit(runtime, instance, "entscheidung_treffen", EINBUERGERN)
    clock.set(_berlin(2026, 7, 1))
    _submit(runtime, instance, "feier_terminieren", {"feier_termin": "2026-07-08"})  # 184 days after the checks
    assert _variables(runtime, instance)["veraltete_pruefungen"] == ["bzr", "vs"]
    assert _topics(runtime, instance) == ["bzr_auskunft", "vs_regelanfrage"]
    _checks_answer(runtime, instance)
    _submit(runtime, instance, "erkenntnisse_bewerten", {"neue_bedenken": False,
                                                         "erkenntnisse_vermerk": "Keine neuen Eintragungen."})
    values = _variables(runtime, instance)
    assert (values["bzr_datum"], values["vs_datum"], values["veraltete_pruefungen"]) == (
        "2026-07-01", "2026-07-01", [])
    # the Untätigkeit warning came due on 08.04. and fired with the first command after it
    assert _open(runtime, instance) == ["urkunde_aushaendigen", "zureichenden_grund_dokumentieren"]


def test_checks_of_at_most_six_months_are_not_repeated(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000308")
    _to_decision(runtime, instance)
    _submit(runtime, instance, "entscheidung_treffen", EINBUERGERN)
    _submit(runtime, instance, "feier_terminieren", {"feier_termin": "2026-07-07"})  # 183 days
    assert _open(runtime, instance) == ["urkunde_aushaendigen"]


def test_refused_only_after_an_anhoerung(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000309")
    _to_decision(runtime, instance, voraussetzungen={**VORAUSSETZUNGEN, "einbuergerungstest_punkte": 16})
    values = _variables(runtime, instance)
    assert (values["vorschlag"], values["maengel_text"]) == ("ablehnen", "E7")
    ablehnen = {"entscheidung": "ablehnen", "entscheidung_begruendung": "Einbürgerungstest nicht bestanden."}
    _submit(runtime, instance, "entscheidung_treffen", ablehnen)
    assert _open(runtime, instance) == ["anhoerung_durchfuehren"]
    _submit(runtime, instance, "anhoerung_durchfuehren", {"anhoerung_datum": "2026-01-05",
                                                          "anhoerung_gruende": "Test nicht bestanden."})
    clock.set(_berlin(2026, 1, 20))
    _fire(runtime)
    _submit(runtime, instance, "entscheidung_treffen", ablehnen)
    _submit(runtime, instance, "ablehnungsbescheid_erlassen", {"bescheid_datum": "2026-01-21",
                                                               "ablehnungsgruende": "§10 Abs. 1 S. 1 Nr. 7 StAG.",
                                                               "rechtsbehelfsbelehrung": True})
    assert _state(runtime, instance) == "completed"
    assert _variables(runtime, instance)["ergebnis"] == "abgelehnt"


def test_a_statement_in_time_leads_back_to_the_decision(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000313")
    _to_decision(runtime, instance, voraussetzungen={**VORAUSSETZUNGEN, "sprachniveau": "A2"})
    assert _variables(runtime, instance)["maengel_text"] == "E6"
    _submit(runtime, instance, "entscheidung_treffen", {"entscheidung": "ablehnen",
                                                        "entscheidung_begruendung": "B1 fehlt."})
    _submit(runtime, instance, "anhoerung_durchfuehren", {"anhoerung_datum": "2026-01-05",
                                                          "anhoerung_gruende": "Kein Nachweis B1."})
    _submit(runtime, instance, "stellungnahme_abwarten", {"stellungnahme_eingegangen": True,
                                                          "stellungnahme_inhalt": "Zertifikat B1 (DTZ) beigefügt."})
    _submit(runtime, instance, "entscheidung_treffen", EINBUERGERN)
    assert _open(runtime, instance) == ["feier_terminieren"]


def test_the_checks_get_a_reminder_that_the_teamleitung_sees_too(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000314")
    _to_checks(runtime, instance)
    due = _timers(runtime, instance)
    assert (due["vs_erinnerung"], due["bzr_erinnerung"], due["polizei_erinnerung"]) == (
        datetime(2026, 2, 16, 8, tzinfo=UTC), datetime(2026, 2, 2, 8, tzinfo=UTC),
        datetime(2026, 2, 2, 8, tzinfo=UTC))
    _work(runtime, instance, "bzr_auskunft")
    _work(runtime, instance, "polizei_anfrage")
    clock.set(datetime(2026, 2, 16, 8, tzinfo=UTC))
    _fire(runtime)
    assert _open(runtime, instance) == ["vs_nachhaken"]
    _task(runtime, instance, "vs_nachhaken", TEAMLEITUNG)
    _submit(runtime, instance, "vs_nachhaken", {"erinnerung_erledigt": True}, TEAMLEITUNG)
    _work(runtime, instance, "vs_regelanfrage", {"vs_ergebnis": "keine Erkenntnisse"})
    assert _open(runtime, instance) == ["entscheidung_treffen"]


def test_documents_that_arrive_in_time_are_checked_again(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000315")
    _submit(runtime, instance, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt"})
    _submit(runtime, instance, "antrag_erfassen", ANTRAG)
    _submit(runtime, instance, "gebuehr_festsetzen", {"gebuehr_bescheid_datum": "2026-01-05"})
    _submit(runtime, instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": False,
                                                            "fehlende_unterlagen": ["sprachnachweis"]})
    _submit(runtime, instance, "unterlagen_nachfordern", {"nachforderung_datum": "2026-01-05",
                                                          "nachforderung_text": "Sprachnachweis B1"})
    _submit(runtime, instance, "unterlagen_eingang_abwarten", {"unterlagen_eingegangen": True,
                                                               "unterlagen_eingang_datum": "2026-01-19"})
    assert _open(runtime, instance) == ["vollstaendigkeit_pruefen"]


def test_document_deadline_passed_decides_on_the_file(runtime: Runtime, clock: ManualClock) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000310")
    _submit(runtime, instance, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt"})
    _submit(runtime, instance, "antrag_erfassen", ANTRAG)
    _submit(runtime, instance, "gebuehr_festsetzen", {"gebuehr_bescheid_datum": "2026-01-05"})
    _submit(runtime, instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": False,
                                                            "fehlende_unterlagen": ["einbuergerungstest"]})
    _submit(runtime, instance, "unterlagen_nachfordern", {"nachforderung_datum": "2026-01-05",
                                                          "nachforderung_text": "Zertifikat Einbürgerungstest"})
    assert _timers(runtime, instance)["nachforderung_erinnerung"] == _berlin(2026, 1, 27)
    clock.set(_berlin(2026, 1, 27))
    _fire(runtime)
    _submit(runtime, instance, "an_nachforderung_erinnern", {"erinnerung_erledigt": True})
    clock.set(_berlin(2026, 2, 3))  # 05.01. + 4 weeks = Monday 02.02., over at 24:00
    _fire(runtime)
    assert _open(runtime, instance) == ["voraussetzungen_erfassen"]
    assert _variables(runtime, instance)["nach_aktenlage"] is True


def test_a_fee_reduction_needs_a_reason(runtime: Runtime) -> None:
    _deploy(runtime)
    instance = _start(runtime, aktenzeichen="EBH-2026-000311")
    _submit(runtime, instance, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt"})
    _submit(runtime, instance, "antrag_erfassen", ANTRAG)
    reduced = {"gebuehr_bescheid_datum": "2026-01-05", "billigkeit": True, "gebuehr_festgesetzt": 100}
    assert set(_errors(runtime, instance, "gebuehr_festsetzen", reduced)) == {"billigkeit_grund"}
    assert set(_errors(runtime, instance, "gebuehr_festsetzen", {**reduced, "gebuehr_festgesetzt": 300,
                                                                 "billigkeit_grund": "Bürgergeldbezug der Familie"})) \
        == {"gebuehr_festgesetzt"}
    assert _errors(runtime, instance, "gebuehr_festsetzen", {**reduced, "billigkeit_grund":
                                                             "Härtefall: Bürgergeldbezug der Familie"}) == {}
    assert _variables(runtime, instance)["gebuehr_betrag"] == 100


def test_start_form_checks_the_aktenzeichen(runtime: Runtime) -> None:
    _deploy(runtime)
    _, errors = _start_form(runtime, {**BERATUNG, "aktenzeichen": "EBH-26-1", "beratungsdatum": "gestern"})
    assert set(errors) == {"aktenzeichen", "beratungsdatum"}


def test_a_referral_without_application_reports_back_to_the_fallmanagement(runtime: Runtime) -> None:
    _deploy(runtime)
    deploy(runtime, "fm_rueckmeldung_stub")
    with runtime.command() as ctx:
        fm_case = instances.start(ctx, key="fm_rueckmeldung_stub", business_key=FM_AKTENZEICHEN).id
        (started,) = messages.correlate(ctx, "verweisung_fm_an_ebh", process_variables={
            "fm_aktenzeichen": FM_AKTENZEICHEN, "person_name": "Olena M.", "geburtsdatum": "1990-04-12",
            "verweisung_anliegen": "Beratung zur Einbürgerung", "einwilligung_zweck": "Einbürgerungsberatung",
            "einwilligung_erteilt_am": "2025-12-15"})
    instance = started.instance_id
    assert _open(runtime, instance) == ["verweisung_annehmen"]
    _submit(runtime, instance, "verweisung_annehmen", {"aktenzeichen": "EBH-2026-000312", "person_name": "Olena M.",
                                                       "geburtsdatum": "1990-04-12", "beratungsdatum": "2026-01-12"})
    with runtime.command(ADMIN) as ctx:  # the EBH's own Aktenzeichen becomes the procedure's business key
        assert instances.get(ctx, instance).business_key == "EBH-2026-000312"
    _submit(runtime, instance, "beratung_durchfuehren", {"beratung_ergebnis": "kein_antrag"})
    assert _state(runtime, instance) == "completed"
    assert _variables(runtime, fm_case) == {"rueckmeldung_von": "ebh", "rueckmeldung_ergebnis":
                                            "Nach der Beratung kein Einbürgerungsantrag gestellt."}


# --- rule boundaries on the deployed tables --------------------------------------------------------------------


def _decide(key: str, **variables: Any) -> list[dict[str, Any]]:
    for path in (ROOT / "bpmn").glob("*.dmn"):
        found = decisions.parse_dmn(path.read_bytes(), path.name)
        if any(d.key == key for d in found):
            return decisions.evaluate_in(found, key, variables).result_list
    raise AssertionError(f"no decision {key}")


def _codes(**changes: Any) -> set[tuple[str, str]]:
    variables = {"entscheidungsdatum": "2026-03-02", "antragsdatum": "2026-01-05", "geburtsdatum": "1990-04-12",
                 **VORAUSSETZUNGEN, "aufenthaltstitel": "unbefristet", "mehrstaatigkeit": False, **changes}
    return {(row["code"], row["art"]) for row in _decide("stag_10", **variables)}


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, set()),
    ({"aufenthalt_jahre": 4.9}, {("E1", "fehlt")}),
    ({"identitaet_geklaert": False}, {("E2", "fehlt")}),
    ({"bekenntnis_fdgo": False}, {("E4", "fehlt")}),
    ({"bekenntnis_verantwortung": False}, {("E4", "fehlt")}),
    ({"lebensunterhalt_ohne_sgb": False, "vollzeit_monate": 19}, {("E5", "fehlt")}),
    ({"lebensunterhalt_ohne_sgb": False, "vollzeit_monate": 20}, set()),  # 20 of the last 24 months full-time
    ({"lebensunterhalt_ohne_sgb": False, "vollzeit_monate": 0, "ehegatte_vollzeit_mit_kind": True}, set()),
    ({"lebensunterhalt_ohne_sgb": False, "vollzeit_monate": 0, "ausnahme_gastarbeiter": True}, set()),
    ({"lebensunterhalt_ohne_sgb": False, "vollzeit_monate": 0, "antragsdatum": "2023-08-23"}, {("E5", "pruefen")}),
    ({"sprachniveau": "A2"}, {("E6", "fehlt")}),
    ({"sprachniveau": "B1"}, set()),
    ({"sprachniveau": "A2", "geburtsdatum": "2010-03-03"}, {("E6", "hinweis")}),  # 15: age-appropriate
    ({"einbuergerungstest_punkte": 16}, {("E7", "fehlt")}),
    ({"einbuergerungstest_punkte": 17}, set()),
    ({"einbuergerungstest_punkte": None}, {("E7", "fehlt")}),
    ({"einbuergerungstest_punkte": None, "test_befreiung": "schulabschluss"}, {("E7", "hinweis")}),
    ({"einbuergerungstest_punkte": None, "test_befreiung": "krankheit_behinderung_alter"}, {("E7", "pruefen")}),
    ({"mehrehe": True}, {("E8", "fehlt")}),
    ({"mehrstaatigkeit": True}, {("E10", "hinweis")}),
    ({"aufenthaltstitel": "ae_25_3_5"}, {("E11", "fehlt")}),
    ({"aufenthaltstitel": "ae_25a_25b"}, {("E11", "hinweis")}),
])
def test_stag_10_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert _codes(**changes) == expected


@pytest.mark.parametrize(("datum", "jahre", "integration", "expected"), [
    ("2024-06-26", 7.9, False, {("E1", "fehlt")}),  # 8 years before the reform
    ("2024-06-26", 8, False, set()),
    ("2024-06-27", 4.9, False, {("E1", "fehlt")}),  # 5 years from 27.06.2024
    ("2024-06-27", 3, True, set()),  # 3 years with special integration, until 29.10.2025
    ("2025-10-29", 2.9, True, {("E1", "fehlt")}),
    ("2025-10-30", 3, True, {("E1", "fehlt")}),  # fast track abolished from 30.10.2025
    ("2025-10-30", 5, True, set()),
])
def test_stag_10_residence_by_law_period(datum: str, jahre: float, integration: bool,
                                         expected: set[tuple[str, str]]) -> None:
    changes = {"entscheidungsdatum": datum, "antragsdatum": datum, "aufenthalt_jahre": jahre,
               "besondere_integration": integration, "bekenntnis_verantwortung": datum >= "2024-06-27"}
    assert _codes(**changes) == expected


def test_stag_10_multiple_citizenship_before_and_after_the_reform() -> None:
    before = {"antragsdatum": "2024-01-02", "aufenthalt_jahre": 8, "mehrstaatigkeit": True}
    assert _codes(entscheidungsdatum="2024-06-26", **before) == {("E10", "pruefen")}
    assert _codes(entscheidungsdatum="2024-06-27", **before) == {("E10", "hinweis")}


def _strafe(*items: tuple[str, int | None, float | None], **more: Any) -> str:
    convictions = [{"art": art, "tagessaetze": ts, "monate": monate, "erlassen": True, "tilgungsreif": False}
                   for art, ts, monate in items]
    (row,) = _decide("stag_12a", entscheidungsdatum="2026-03-02", verurteilungen=convictions, **more)
    return str(row["bewertung"])


@pytest.mark.parametrize(("items", "expected"), [
    ((), "unerheblich"),
    ((("geldstrafe", 90, None),), "unerheblich"),
    ((("geldstrafe", 91, None),), "einzelfall"),  # slight excess: case by case
    ((("geldstrafe", 40, None), ("geldstrafe", 51, None)), "einzelfall"),  # summed: 91
    ((("geldstrafe", 40, None), ("geldstrafe", 50, None)), "unerheblich"),  # summed: 90
    ((("geldstrafe", 111, None),), "einzelfall"),  # guidance: up to 21 over the limit
    ((("geldstrafe", 112, None),), "erheblich"),
    ((("freiheitsstrafe_bewaehrung", None, 3),), "unerheblich"),  # 3 months on probation, remitted
    ((("freiheitsstrafe_bewaehrung", None, 4),), "erheblich"),
    ((("freiheitsstrafe_bewaehrung", None, 2), ("geldstrafe", 31, None)), "einzelfall"),  # 60 + 31 days
    ((("freiheitsstrafe", None, 1),), "erheblich"),  # without probation
    ((("jgg", 200, None),), "unerheblich"),  # measures under the JGG are disregarded
])
def test_stag_12a_thresholds_and_sums(items: tuple[tuple[str, int | None, float | None], ...], expected: str) -> None:
    assert _strafe(*items) == expected


def test_stag_12a_investigation_motive_probation_and_law_period() -> None:
    assert _strafe(("geldstrafe", 10, None), ermittlungsverfahren_anhaengig=True) == "ausgesetzt"
    assert _strafe(ermittlungsverfahren_anhaengig=True) == "ausgesetzt"
    assert _strafe(("geldstrafe", 10, None), menschenverachtendes_motiv=True) == "erheblich"
    (row,) = _decide("stag_12a", entscheidungsdatum="2024-06-26", menschenverachtendes_motiv=True,
                     verurteilungen=[{"art": "geldstrafe", "tagessaetze": 10}])
    assert row["bewertung"] == "unerheblich"  # the motive clause applies from 27.06.2024
    (row,) = _decide("stag_12a", entscheidungsdatum="2026-03-02", verurteilungen=[
        {"art": "freiheitsstrafe_bewaehrung", "monate": 2, "erlassen": False}])
    assert row["bewertung"] == "einzelfall"  # probation still running: not yet remitted
    (row,) = _decide("stag_12a", entscheidungsdatum="2026-03-02", verurteilungen=[
        {"art": "geldstrafe", "tagessaetze": 500, "tilgungsreif": True}])
    assert row["bewertung"] == "unerheblich"


@pytest.mark.parametrize(("geburtsdatum", "expected"), [
    ("2010-03-03", {"regelanfrage_vs": False, "handlungsfaehig": False}),
    ("2010-03-02", {"regelanfrage_vs": True, "handlungsfaehig": True}),
])
def test_stag_37_from_16(geburtsdatum: str, expected: dict[str, bool]) -> None:
    assert _decide("stag_37", entscheidungsdatum="2026-03-02", geburtsdatum=geburtsdatum) == [expected]


@pytest.mark.parametrize(("minor", "income", "fee"), [(False, False, 255), (True, False, 51), (True, True, 255)])
def test_stag_38_fee(minor: bool, income: bool, fee: int) -> None:
    assert _decide("stag_38", miteinbuergerung_minderjaehrig=minor, eigenes_einkommen=income) == [
        {"gebuehr_regel": fee}]


@pytest.mark.parametrize(("vs_datum", "termin", "expected"), [
    ("2026-01-05", "2026-07-07", []),  # 183 days
    ("2026-01-05", "2026-07-08", ["bzr", "vs"]),  # 184 days
    (None, "2026-07-08", ["bzr"]),  # no Regelanfrage under 16
])
def test_stale_checks(vs_datum: str | None, termin: str, expected: list[str]) -> None:
    rows = _decide("einbuergerung_aktualitaet", bzr_datum="2026-01-05", vs_datum=vs_datum, feier_termin=termin)
    assert [row["pruefung"] for row in rows] == expected


def test_every_rule_cites_its_paragraph_and_source() -> None:
    for path in sorted((ROOT / "bpmn").glob("*.dmn")):
        if not path.name.startswith(("stag_", "einbuergerung_")):
            continue
        for decision in decisions.parse_dmn(path.read_bytes(), path.name):
            for rule in getattr(decision.logic, "rules", ()):
                note = rule.annotation or ""
                assert "[" in note and "]" in note, f"{path.name} {rule.id}: the annotation names no source key"
                if decision.key.startswith("stag_"):
                    assert "§" in note and "DOMAIN" in note, f"{path.name} {rule.id}: no paragraph"
