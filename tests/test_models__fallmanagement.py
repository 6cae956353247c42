"""bpmn/fallmanagement.bpmn (KIM Baustein 2) end to end on the database with a settable clock: the target group
table and its boundaries, consent per partner and purpose (refused, given, withdrawn at any time), referrals to
the Ausländerbehörde and Einbürgerungsbehörde as messages that carry only consented data and come back as
`rueckmeldung_an_fm`, referrals to other partners as tasks, the Hilfeplan goals with their Wiedervorlagen, the
contact and review intervals from fallmanagement_fristen.dmn, the closure proposal to the Teamleitung, every
closure reason, and every form with valid and invalid input.

Every command loads the case from the database and saves it again, so each step also proves that the saved
state restores. Referral tests deploy only this process with stand-in receivers (tests/data/
fm_stand_in_receivers), so that they do not depend on the Ausländerbehörde's and Einbürgerungsbehörde's models.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from lxml import etree

from service.runtime import Runtime
from tests.conftest import ADMIN, DATA, ROOT, deploy_kim
from workflows import (
    access,
    audit,
    decisions,
    definitions,
    forms,
    human_tasks,
    incidents,
    instances,
    messages,
    schema,
    timers,
)
from workflows.clock import ManualClock
from workflows.context import Actor
from workflows.errors import PermissionDeniedError
from workflows.helpers import default_helpers

AZ = "FM-2026-000123"
FM = Actor("erika", "caseworker", frozenset({"fm-team"}))
TEAMLEITUNG = Actor("tom", "supervisor", frozenset({"fm-teamleitung"}))
ABH = Actor("bernd", "caseworker", frozenset({"abh-team"}))
EBH = Actor("ebru", "caseworker", frozenset({"ebh-team"}))

ERSTKONTAKT = {"aktenzeichen": AZ, "person_name": "Amina K.", "geburtsdatum": "1990-03-01",
               "erstkontakt_datum": "2026-01-05", "zugangsweg": "jobcenter", "zuwanderungsgeschichte": True,
               "wohnsitz_seit": "2024-05-01", "anderes_fallmanagement": False, "zugang_regelsystem": False,
               "anliegen": "Sprachkurs und Arbeit"}
KEINE_EINWILLIGUNG = {"einwilligung_partner": [], "einwilligung_form": "schriftlich",
                      "einwilligung_datum": "2026-01-05"}
EINWILLIGUNG = {"einwilligung_partner": ["jobcenter", "abh", "ebh"],
                "einwilligung_zweck": {"jobcenter": "Vermittlung in Arbeit", "abh": "Bleiberecht prüfen",
                                       "ebh": "Einbürgerung beraten"},
                "einwilligung_form": "schriftlich", "einwilligung_datum": "2026-01-05"}
ASSESSMENT = {"lebensbereiche_bedarf": ["sprache", "arbeit", "gesundheit"], "aufenthaltsstatus": "duldung",
              "aufenthalt_gueltig_bis": "2026-06-30", "sprachniveau": "A2", "kinder_im_haushalt": "2",
              "assessment_notiz": "Psychische Belastung nach der Flucht"}
ZIELE = [{"ziel": "Anmeldung zum Integrationskurs", "lebensbereich": "sprache", "verantwortlich": "die Person",
          "faellig_am": "2026-03-31", "wiedervorlage_am": "2026-02-16"},
         {"ziel": "Arbeitsstelle finden", "lebensbereich": "arbeit", "verantwortlich": "Jobcenter",
          "faellig_am": "2026-06-30", "wiedervorlage_am": "2026-03-02"}]
OWN_PROCESSES = ("fallmanagement", "kim_bericht", "abh_stand_in", "ebh_stand_in")
REFERRAL_PAYLOAD = {"fm_aktenzeichen", "person_name", "geburtsdatum", "verweisung_anliegen", "einwilligung_zweck",
                    "einwilligung_erteilt_am"}


def berlin_midnight(day: str) -> datetime:
    """00:00 Europe/Berlin of an ISO date, as UTC (how a date becomes a due or follow-up moment)."""
    helpers = default_helpers(lambda: datetime(2026, 1, 1, tzinfo=UTC))
    year, month, dom = (int(part) for part in day.split("-"))
    return helpers["datetime"](year, month, dom)


@pytest.fixture(autouse=True)
def _no_incidents(request: pytest.FixtureRequest) -> Iterator[None]:
    """No step of these models may fail on the way (an incident would mean the model is broken)."""
    runtime = request.getfixturevalue("runtime") if "runtime" in request.fixturenames else None
    yield
    if runtime is not None:
        with runtime.command(ADMIN) as ctx:
            assert [(i.element_id, i.message) for key in OWN_PROCESSES
                    for i in incidents.list_open(ctx, definition_key=key)] == []


# --- deployment, cases, tasks ------------------------------------------------------------------------------


def _own_files() -> list[tuple[str, bytes]]:
    paths = [*sorted((ROOT / "bpmn").glob("fallmanagement*")), *sorted((ROOT / "forms").glob("fm_*.form"))]
    return [(p.name, p.read_bytes()) for p in paths]


def _deploy_with_receivers(runtime: Runtime) -> None:
    """This process and stand-ins for the Ausländerbehörde's and Einbürgerungsbehörde's receiving processes."""
    stand_ins = [(p.name, p.read_bytes()) for p in sorted((DATA / "fm_stand_in_receivers").iterdir())]
    with runtime.command() as ctx:
        definitions.deploy(ctx, [*_own_files(), *stand_ins], name="fallmanagement+stand-ins", source="test")


def _deploy_changed(runtime: Runtime, name: str, old: str, new: str) -> None:
    """A process owner's change to one table, deployed as a new version."""
    content = (ROOT / "bpmn" / name).read_text(encoding="utf-8")
    assert old in content
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(name, content.replace(old, new).encode())], name="change", source="test")


def _start(runtime: Runtime, **changes: Any) -> str:
    values = {**ERSTKONTAKT, **changes}
    with runtime.command(FM) as ctx:
        return instances.start(ctx, key="fallmanagement", business_key=values["aktenzeichen"],
                               variables_in=values).id


def _tasks(runtime: Runtime, instance_id: str, actor: Actor = ADMIN) -> list[Any]:
    with runtime.command(actor) as ctx:
        return human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id), limit=200)


def _keys(runtime: Runtime, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in _tasks(runtime, instance_id))


def _task(runtime: Runtime, instance_id: str, key: str) -> Any:
    (task,) = [t for t in _tasks(runtime, instance_id) if t.task_definition_key == key]
    return task


def _refused(runtime: Runtime, instance_id: str, key: str, values: dict[str, Any], actor: Actor = FM) -> set[str]:
    """Submit the task's form with invalid input: the fields in error (the task stays open)."""
    task = _task(runtime, instance_id, key)
    with runtime.command(actor) as ctx:
        errors = human_tasks.submit_form(ctx, task.id, values)
    assert errors, f"{key}: the invalid input was accepted"
    assert _task(runtime, instance_id, key).id == task.id
    return set(errors)


def _submit(runtime: Runtime, instance_id: str, key: str, values: dict[str, Any], actor: Actor = FM) -> None:
    task = _task(runtime, instance_id, key)
    with runtime.command(actor) as ctx:
        assert human_tasks.submit_form(ctx, task.id, values) == {}


def _variables(runtime: Runtime, instance_id: str) -> dict[str, Any]:
    with runtime.command(ADMIN) as ctx:
        return instances.get_variables(ctx, instance_id) or {}


def _state(runtime: Runtime, instance_id: str) -> str:
    with runtime.command(ADMIN) as ctx:
        return instances.get(ctx, instance_id).state  # type: ignore[union-attr]


def _cases(runtime: Runtime, key: str) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return [i.id for i in instances.list_instances(ctx, definition_key=key)]


def _fire_at(runtime: Runtime, clock: ManualClock, moment: datetime) -> None:
    clock.set(moment)
    with runtime.command() as ctx:
        timers.fire_due(ctx)


def _timer_due(runtime: Runtime, instance_id: str, element_id: str) -> datetime:
    with runtime.command() as ctx:
        (due,) = ctx.session.scalars(sa.select(schema.Timer.due_at).where(
            schema.Timer.instance_id == instance_id, schema.Timer.element_id == element_id))
    return due.replace(tzinfo=UTC) if due.tzinfo is None else due


def _withdraw(runtime: Runtime, partner: list[str], aktenzeichen: str = AZ) -> None:
    with runtime.command(FM) as ctx:
        messages.correlate(ctx, "einwilligung_widerrufen", business_key=aktenzeichen,
                           process_variables={"widerruf_partner": partner})


def _to_hub(runtime: Runtime, einwilligung: dict[str, Any] = EINWILLIGUNG, ziele: list[dict[str, Any]] = ZIELE,
            **changes: Any) -> str:
    """A case through Erstkontakt, consent, Assessment and Hilfeplan: waiting in 'Fall begleiten'."""
    case = _start(runtime, **changes)
    _submit(runtime, case, "einwilligung_einholen", einwilligung)
    _submit(runtime, case, "assessment", ASSESSMENT)
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ziele})
    return case


def _refer(runtime: Runtime, case: str, partner: str, anliegen: str = "Bitte beraten") -> None:
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "verweisung", "verweisung_partner": partner,
                                              "verweisung_anliegen": anliegen})


def _contact(runtime: Runtime, case: str, day: str) -> None:
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "kontakt", "kontakt_datum": day,
                                              "kontakt_art": "persoenlich", "kontakt_vermerk": "Gespräch"})


def _close_via_evaluation(runtime: Runtime, case: str, reason: str) -> None:
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "evaluation"})
    _submit(runtime, case, "evaluation", {"zielerreichung": "teilweise", "evaluation_ergebnis": "abschliessen"})
    _submit(runtime, case, "fallabschluss", {"abschlussgrund": reason, "abgeschlossen_am": "2026-01-05"})


# --- Erstkontakt and target group --------------------------------------------------------------------------


def test_the_start_form_checks_aktenzeichen_dates_and_required_answers() -> None:
    form = forms.parse_form_js((ROOT / "forms" / "fm_erstkontakt.form").read_bytes(), "fm_erstkontakt.form")
    raw = {**ERSTKONTAKT, "zuwanderungsgeschichte": "on"}
    clean, errors = forms.validate_submission(form, raw)
    assert errors == {} and clean["aktenzeichen"] == AZ and clean["zuwanderungsgeschichte"] is True
    _, errors = forms.validate_submission(form, {**raw, "aktenzeichen": "FM-26-123", "geburtsdatum": "31.02.1990",
                                                 "zugangsweg": "zufall", "anliegen": ""})
    assert set(errors) == {"aktenzeichen", "geburtsdatum", "zugangsweg", "anliegen"}


TABLE = decisions.parse_dmn((ROOT / "bpmn" / "fallmanagement_zielgruppe.dmn").read_bytes(),
                            "fallmanagement_zielgruppe.dmn")


@pytest.mark.parametrize(("changes", "rule", "zielgruppe"), [
    ({}, "zg_zielgruppe", True),
    ({"wohnsitz_seit": "2023-01-05"}, "zg_zielgruppe", True),  # exactly 3 years before the decision date
    ({"wohnsitz_seit": "2023-01-04"}, "zg_mehr_als_drei_jahre_im_kreis", False),  # one day more
    ({"zuwanderungsgeschichte": False}, "zg_keine_einwanderungsgeschichte", False),
    ({"zuwanderungsgeschichte": None}, "zg_keine_einwanderungsgeschichte", False),  # unanswered is no
    ({"anderes_fallmanagement": True}, "zg_anderes_fallmanagement", False),
    ({"zugang_regelsystem": True}, "zg_zugang_regelsystem", False),
])
def test_target_group_rows_and_their_boundaries(changes: dict[str, Any], rule: str, zielgruppe: bool) -> None:
    variables = {**ERSTKONTAKT, **changes, "entscheidungsdatum": "2026-01-05"}
    result = decisions.evaluate_in(TABLE, "fallmanagement_zielgruppe", variables,
                                   helpers=default_helpers(lambda: datetime(2026, 1, 5, tzinfo=UTC)))
    assert [m.id for m in result.matched_rules] == [rule]
    assert result.result_list[0]["zielgruppe"] is zielgruppe


def test_every_target_group_row_cites_its_source() -> None:
    (table,) = TABLE
    for rule in table.logic.rules:  # type: ignore[union-attr]
        assert rule.annotation and ("[V]" in rule.annotation or "[D]" in rule.annotation), rule.id


def test_an_eligible_person_is_asked_for_consent_and_the_decision_is_audited(runtime: Runtime) -> None:
    deploy_kim(runtime)
    case = _start(runtime, wohnsitz_seit="2023-01-05")
    assert _keys(runtime, case) == ["einwilligung_einholen"]
    variables = _variables(runtime, case)
    assert variables["fallmanagement_zielgruppe"]["zielgruppe"] is True
    assert variables["fallmanagement_zielgruppe_regel"] == "fallmanagement_zielgruppe:1 (2026-01)"
    assert variables["fristen"] == {"kontakt_wiedervorlage": "P4W", "kontakt_spaetestens": "P6W",
                                    "hilfeplan_ueberpruefung": "P3M", "kein_kontakt_abschlussvorschlag": "P3M"}
    with runtime.command(ADMIN) as ctx:
        (decided,) = [e for e in audit.for_instance(ctx, case, kinds=["decision_evaluated"])
                      if e.element_id == "zielgruppe_pruefen"]
    assert decided.details["decision_date"] == "2026-01-05"
    assert [m["id"] for m in decided.details["matched_rules"]] == ["zg_zielgruppe"]


@pytest.mark.parametrize(("changes", "reason"), [({"wohnsitz_seit": "2023-01-04"}, "regelsystem"),
                                                 ({"anderes_fallmanagement": True}, "anderes_fallmanagement")])
def test_not_eligible_is_referred_to_the_regelsystem_and_closed(runtime: Runtime, changes: dict[str, Any],
                                                                 reason: str) -> None:
    deploy_kim(runtime)
    case = _start(runtime, **changes)
    assert _keys(runtime, case) == ["an_regelsystem_verweisen"]
    assert _variables(runtime, case)["fallmanagement_zielgruppe"]["verweisung"] == reason
    assert _refused(runtime, case, "an_regelsystem_verweisen", {"verweisung_stelle": "jobcenter",
                                                                "abschlussgrund": "umzug"}) == {
        "abschlussgrund", "abgeschlossen_am"}
    _submit(runtime, case, "an_regelsystem_verweisen", {"verweisung_stelle": "jobcenter", "abschlussgrund": reason,
                                                        "abgeschlossen_am": "2026-01-05"})
    assert _state(runtime, case) == "completed"
    assert _variables(runtime, case)["abschlussgrund"] == reason


def test_a_process_owner_changes_the_local_narrowing_in_the_table(runtime: Runtime) -> None:
    deploy_kim(runtime)
    _deploy_changed(runtime, "fallmanagement_zielgruppe.dmn", '"-P3Y"', '"-P5Y"')
    case = _start(runtime, wohnsitz_seit="2023-01-04")
    assert _keys(runtime, case) == ["einwilligung_einholen"]
    assert _variables(runtime, case)["fallmanagement_zielgruppe_regel"] == "fallmanagement_zielgruppe:2 (2026-01)"


# --- consent and referrals ---------------------------------------------------------------------------------


def test_without_consent_no_referral_leaves_the_case_and_case_management_goes_on(runtime: Runtime) -> None:
    _deploy_with_receivers(runtime)
    case = _start(runtime)
    assert _refused(runtime, case, "einwilligung_einholen", {**EINWILLIGUNG, "einwilligung_zweck": {}}) == {
        "einwilligung_zweck.jobcenter", "einwilligung_zweck.abh", "einwilligung_zweck.ebh"}
    _submit(runtime, case, "einwilligung_einholen", KEINE_EINWILLIGUNG)
    assert _refused(runtime, case, "assessment", {**ASSESSMENT, "kinder_im_haushalt": "-1"}) == {"kinder_im_haushalt"}
    _submit(runtime, case, "assessment", ASSESSMENT)
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE})
    for partner in ("abh", "jobcenter"):
        _refer(runtime, case, partner)
        assert "verweisung_nicht_moeglich" in _keys(runtime, case)
        assert "fall_begleiten" not in _keys(runtime, case)
        assert _refused(runtime, case, "verweisung_nicht_moeglich", {"blockiert_vermerk": "x"}) == {
            "blockiert_weiter"}
        _submit(runtime, case, "verweisung_nicht_moeglich", {"blockiert_weiter": "selbst"})
        assert "fall_begleiten" in _keys(runtime, case)
    assert _cases(runtime, "abh_stand_in") == []
    assert _variables(runtime, case)["einwilligung_bei_verweisung"]["abh"]["erteilt"] is False
    with runtime.command(ADMIN) as ctx:
        assert audit.for_instance(ctx, case, kinds=["message_thrown"]) == []
    # a new consent declaration opens the way
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "einwilligung"})
    _submit(runtime, case, "einwilligung_aendern", EINWILLIGUNG)
    _refer(runtime, case, "abh")
    assert len(_cases(runtime, "abh_stand_in")) == 1


@pytest.mark.parametrize(("partner", "receiver", "actor"), [("abh", "abh_stand_in", ABH), ("ebh", "ebh_stand_in", EBH)])
def test_a_referral_to_the_authority_carries_only_consented_data_and_the_report_comes_back(
        runtime: Runtime, partner: str, receiver: str, actor: Actor) -> None:
    _deploy_with_receivers(runtime)
    case = _to_hub(runtime)
    assert _refused(runtime, case, "fall_begleiten", {"naechster_schritt": "verweisung"}) == {
        "verweisung_partner", "verweisung_anliegen"}
    _refer(runtime, case, partner, anliegen="Aufenthalt und Einbürgerung klären")
    (referred,) = _cases(runtime, receiver)
    with runtime.command(ADMIN) as ctx:
        arrived = instances.get_variables(ctx, referred) or {}
        (thrown,) = audit.for_instance(ctx, case, kinds=["message_thrown"])
    assert set(arrived) == REFERRAL_PAYLOAD
    assert arrived["fm_aktenzeichen"] == AZ
    assert arrived["einwilligung_zweck"] == EINWILLIGUNG["einwilligung_zweck"][partner]
    assert arrived["verweisung_anliegen"] == "Aufenthalt und Einbürgerung klären"
    assert thrown.element_id == f"verweisung_an_{partner}" and thrown.details["receivers"] == [referred]
    assert _keys(runtime, case) == ["fall_begleiten", "ziel_verfolgen", "ziel_verfolgen"]
    # nothing of the case is visible to the authority, nothing of the authority's case to case management
    with runtime.command(actor) as ctx:
        assert [t.instance_id for t in human_tasks.find(ctx, human_tasks.TaskQuery())] == [referred]
        assert not access.may_see_instance(ctx, instances.get(ctx, case))
    with runtime.command(FM) as ctx:
        assert [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=referred))] == []
    # the authority reports back to the case by its Aktenzeichen
    (abh_task,) = _tasks(runtime, referred)
    with runtime.command(actor) as ctx:
        human_tasks.complete(ctx, abh_task.id, {"ergebnis": "Termin zur Antragstellung vereinbart"})
    assert _state(runtime, referred) == "completed"
    assert "rueckmeldung_auswerten" in _keys(runtime, case)
    variables = _variables(runtime, case)
    assert variables["rueckmeldung_von"] == partner
    assert variables["rueckmeldung_ergebnis"] == "Termin zur Antragstellung vereinbart"
    assert _refused(runtime, case, "rueckmeldung_auswerten", {"rueckmeldung_vermerk": "ok"}) == {"rueckmeldung_folge"}
    _submit(runtime, case, "rueckmeldung_auswerten", {"rueckmeldung_folge": "keine"})
    assert "rueckmeldung_auswerten" not in _keys(runtime, case)


def test_every_referral_path_checks_the_consent_for_its_partner_and_sends_only_the_listed_data() -> None:
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    tree = etree.parse(str(ROOT / "bpmn" / "fallmanagement.bpmn"))
    referrals = {"verweisung_an_abh": {"abh"}, "verweisung_an_ebh": {"ebh"},
                 "verweisung_an_partner": {"jobcenter", "sozialamt", "jugendamt", "kurstraeger"}}
    checked: dict[str, set[str]] = {target: set() for target in referrals}
    for flow in tree.iter(f"{bpmn}sequenceFlow"):
        if flow.get("targetRef") in referrals:
            assert flow.get("sourceRef") == "verweisung_partner_gw"
            condition = flow.findtext(f"{bpmn}conditionExpression") or ""
            partner = condition.split('verweisung_partner == "')[1].split('"')[0]
            assert f"einwilligung_bei_verweisung.{partner}.erteilt == true" in condition
            checked[flow.get("targetRef")].add(partner)
    assert checked == referrals
    gateway = next(g for g in tree.iter(f"{bpmn}exclusiveGateway") if g.get("id") == "verweisung_partner_gw")
    assert gateway.get("default") == "Flow_keine_einwilligung"  # no consent, no referral
    camunda = "{http://camunda.org/schema/1.0/bpmn}"
    for throw in tree.iter(f"{bpmn}intermediateThrowEvent", f"{bpmn}endEvent"):
        if throw.find(f"{bpmn}messageEventDefinition") is not None:
            names = {p.get("name") for p in throw.iter(f"{camunda}inputParameter")}
            assert names == REFERRAL_PAYLOAD, throw.get("id")


def test_a_referral_to_another_partner_is_a_task_that_records_partner_and_purpose(runtime: Runtime) -> None:
    _deploy_with_receivers(runtime)
    case = _to_hub(runtime)
    _refer(runtime, case, "jobcenter", anliegen="Vermittlung in eine Teilzeitstelle")
    assert _keys(runtime, case) == ["verweisung_an_partner", "ziel_verfolgen", "ziel_verfolgen"]
    assert _refused(runtime, case, "verweisung_an_partner", {"verweisung_datum": "2026-01-05"}) == {
        "verweisung_weg", "verweisung_uebermittelt"}
    _submit(runtime, case, "verweisung_an_partner", {"verweisung_weg": "brief", "verweisung_datum": "2026-01-05",
                                                     "verweisung_uebermittelt": ["identitaet", "anliegen"],
                                                     "verweisung_partner": "sozialamt"})  # read-only: not taken
    variables = _variables(runtime, case)
    assert (variables["verweisung_partner"], variables["verweisung_anliegen"], variables["verweisung_weg"]) == (
        "jobcenter", "Vermittlung in eine Teilzeitstelle", "brief")
    assert variables["einwilligung_bei_verweisung"]["jobcenter"]["zweck"] == "Vermittlung in Arbeit"
    with runtime.command(ADMIN) as ctx:
        assert audit.for_instance(ctx, case, kinds=["message_thrown"]) == []
        (done,) = audit.for_instance(ctx, case, kinds=["task_completed"])[-1:]
    assert done.element_id == "verweisung_an_partner" and done.actor == "erika"
    assert "fall_begleiten" in _keys(runtime, case)


def test_a_withdrawal_at_any_time_blocks_that_partner_at_once_and_is_audited(runtime: Runtime) -> None:
    _deploy_with_receivers(runtime)
    case = _start(runtime)
    _submit(runtime, case, "einwilligung_einholen", EINWILLIGUNG)
    _withdraw(runtime, ["abh"])  # while the Assessment is open: before any referral
    assert _keys(runtime, case) == ["assessment", "widerruf_umsetzen"]
    assert _refused(runtime, case, "widerruf_umsetzen", {"widerruf_vermerk": "per Brief"}) == {"partner_informiert"}
    _submit(runtime, case, "widerruf_umsetzen", {"partner_informiert": True})
    _submit(runtime, case, "assessment", ASSESSMENT)
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE})
    _refer(runtime, case, "jobcenter")
    _submit(runtime, case, "verweisung_an_partner", {"verweisung_weg": "telefon", "verweisung_datum": "2026-01-05",
                                                     "verweisung_uebermittelt": ["identitaet"]})
    _refer(runtime, case, "abh")
    assert "verweisung_nicht_moeglich" in _keys(runtime, case)
    _submit(runtime, case, "verweisung_nicht_moeglich", {"blockiert_weiter": "keine"})
    # withdrawn while 'Fall begleiten' is open: the next referral reads the consent as it is now
    _withdraw(runtime, ["jobcenter"])
    variables = _variables(runtime, case)
    assert variables["widerruf_partner"] == ["jobcenter"] and variables["widerruf_datum"] == "2026-01-05"
    _submit(runtime, case, "widerruf_umsetzen", {"partner_informiert": True})
    _refer(runtime, case, "jobcenter")
    assert "verweisung_nicht_moeglich" in _keys(runtime, case)
    stand = _variables(runtime, case)["einwilligung_bei_verweisung"]
    assert stand["jobcenter"] == {"erteilt": False, "zweck": "Vermittlung in Arbeit", "erteilt_am": "2026-01-05",
                                  "form": "schriftlich", "widerrufen_am": "2026-01-05"}
    assert stand["ebh"]["erteilt"] is True  # other partners keep their consent
    assert _cases(runtime, "abh_stand_in") == []
    with runtime.command(ADMIN) as ctx:
        received = [e for e in audit.for_instance(ctx, case, kinds=["message_correlated"])
                    if e.details.get("message") == "einwilligung_widerrufen"]
        entered = [e.element_id for e in audit.for_instance(ctx, case, kinds=["activity_end"])
                   if e.element_id == "widerruf_eintragen"]
    assert [e.details["variables"] for e in received] == [["widerruf_partner"], ["widerruf_partner"]]
    assert entered == ["widerruf_eintragen", "widerruf_eintragen"]


def test_a_complete_withdrawal_that_ends_case_management_closes_the_case(runtime: Runtime) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    _withdraw(runtime, [])  # an empty list withdraws every partner
    assert _variables(runtime, case)["widerruf_partner"] == ["jobcenter", "sozialamt", "jugendamt", "kurstraeger",
                                                             "abh", "ebh"]
    _submit(runtime, case, "widerruf_umsetzen", {"partner_informiert": True, "fallmanagement_beenden": True})
    assert _keys(runtime, case) == ["fallabschluss_nach_widerruf"]  # goals and 'Fall begleiten' are cancelled
    _submit(runtime, case, "fallabschluss_nach_widerruf", {"abschlussgrund": "ziele_erreicht",  # read-only here
                                                           "abgeschlossen_am": "2026-01-05"})
    assert _state(runtime, case) == "completed"
    assert _variables(runtime, case)["abschlussgrund"] == "einwilligung_widerrufen"


def test_case_data_stays_with_the_fm_team(runtime: Runtime) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    for outsider in (ABH, EBH):
        with runtime.command(outsider) as ctx:
            assert human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=case)) == []
            assert not access.may_see_instance(ctx, instances.get(ctx, case))
            with pytest.raises(PermissionDeniedError):
                instances.start(ctx, key="fallmanagement", business_key="FM-2026-000999", variables_in=ERSTKONTAKT)
    with runtime.command(FM) as ctx:
        assert len(human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=case))) == 3
    tree = (ROOT / "bpmn" / "fallmanagement.bpmn").read_text(encoding="utf-8")
    assert "abh-team" not in tree and "ebh-team" not in tree


# --- Hilfeplan, goals and Wiedervorlagen --------------------------------------------------------------------


def test_each_goal_is_a_task_with_its_owner_due_date_and_wiedervorlage(runtime: Runtime) -> None:
    deploy_kim(runtime)
    case = _start(runtime)
    _submit(runtime, case, "einwilligung_einholen", EINWILLIGUNG)
    _submit(runtime, case, "assessment", ASSESSMENT)
    bad = [{**ZIELE[0], "ziel": "x", "wiedervorlage_am": ""}]
    assert _refused(runtime, case, "hilfeplan_erstellen", {"ziele": bad}) == {"ziele.0.ziel",
                                                                            "ziele.0.wiedervorlage_am"}
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE})
    goals = sorted((t for t in _tasks(runtime, case) if t.task_definition_key == "ziel_verfolgen"),
                   key=lambda t: t.due_at)
    assert [t.name for t in goals] == [
        "Ziel überprüfen: Anmeldung zum Integrationskurs (verantwortlich: die Person)",
        "Ziel überprüfen: Arbeitsstelle finden (verantwortlich: Jobcenter)"]
    assert [(t.due_at, t.follow_up_at) for t in goals] == [
        (berlin_midnight("2026-03-31"), berlin_midnight("2026-02-16")),
        (berlin_midnight("2026-06-30"), berlin_midnight("2026-03-02"))]
    assert all(t.candidate_groups == ["fm-team"] for t in goals)
    # the Wiedervorlage keeps a goal out of the inbox until its day
    for moment, expected in ((datetime(2026, 2, 10, tzinfo=UTC), 0), (berlin_midnight("2026-02-16"), 1),
                             (berlin_midnight("2026-03-02"), 2)):
        with runtime.command(FM) as ctx:
            due = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=case, follow_up_before_or_none=moment,
                                                              task_definition_key="ziel_verfolgen"))
        assert len(due) == expected
    first = goals[0]
    with runtime.command(FM) as ctx:
        assert set(human_tasks.submit_form(ctx, first.id, {"ziel_vermerk": "läuft"})) == {"ziel_stand"}
        assert human_tasks.submit_form(ctx, first.id, {"ziel_stand": "erreicht"}) == {}
    with runtime.command(FM) as ctx:
        assert human_tasks.submit_form(ctx, goals[1].id, {"ziel_stand": "teilweise"}) == {}
    assert _keys(runtime, case) == ["fall_begleiten"]  # the goals are done, the case goes on


def test_contact_wiedervorlage_follows_the_last_contact_by_the_settings_table(runtime: Runtime,
                                                                              clock: ManualClock) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    hub = _task(runtime, case, "fall_begleiten")
    assert (hub.follow_up_at, hub.due_at) == (berlin_midnight("2026-02-02"), berlin_midnight("2026-02-16"))
    clock.set(datetime(2026, 2, 3, 9, 0, tzinfo=UTC))
    assert _refused(runtime, case, "fall_begleiten", {"naechster_schritt": "kontakt", "kontakt_art": "telefon"}) == {
        "kontakt_datum"}
    _contact(runtime, case, "2026-02-03")
    hub = _task(runtime, case, "fall_begleiten")
    assert (hub.follow_up_at, hub.due_at) == (berlin_midnight("2026-03-03"), berlin_midnight("2026-03-17"))
    assert _variables(runtime, case)["letzter_kontakt"] == "2026-02-03"
    with runtime.command(FM) as ctx:
        inbox = human_tasks.TaskQuery(instance_id=case, task_definition_key="fall_begleiten",
                                      follow_up_before_or_none=datetime(2026, 2, 20, tzinfo=UTC))
        assert human_tasks.find(ctx, inbox) == []  # not before the Wiedervorlage
    # the process owner changes the interval: new cases use it, running cases keep what they loaded
    _deploy_changed(runtime, "fallmanagement_fristen.dmn", '"P4W"', '"P5W"')
    _contact(runtime, case, "2026-02-03")
    assert _task(runtime, case, "fall_begleiten").follow_up_at == berlin_midnight("2026-03-03")
    clock.set(datetime(2026, 2, 3, 9, 0, tzinfo=UTC))
    later = _to_hub(runtime, aktenzeichen="FM-2026-000124", erstkontakt_datum="2026-02-03")
    assert _variables(runtime, later)["fristen"]["kontakt_wiedervorlage"] == "P5W"
    assert _task(runtime, later, "fall_begleiten").follow_up_at == berlin_midnight("2026-03-10")


def test_the_hilfeplan_is_reviewed_every_three_months(runtime: Runtime, clock: ManualClock) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    _contact(runtime, case, "2026-02-02")  # keeps the no-contact proposal away
    review = berlin_midnight("2026-04-05")
    assert _timer_due(runtime, case, "hilfeplan_ueberpruefung_faellig") == review
    _fire_at(runtime, clock, datetime(2026, 4, 4, 21, 59, tzinfo=UTC))
    assert _keys(runtime, case) == ["fall_begleiten", "ziel_verfolgen", "ziel_verfolgen"]
    _fire_at(runtime, clock, review)
    assert _keys(runtime, case) == ["hilfeplan_erstellen"]  # the old goals end with the old plan
    with runtime.command(ADMIN) as ctx:
        fired = [e.element_id for e in audit.for_instance(ctx, case, kinds=["timer_fired"])]
    assert fired == ["hilfeplan_ueberpruefung_faellig"]
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE[1:]})
    assert _keys(runtime, case) == ["fall_begleiten", "ziel_verfolgen"]
    assert _variables(runtime, case)["hilfeplan_datum"] == "2026-04-05"
    assert _timer_due(runtime, case, "hilfeplan_ueberpruefung_faellig") == berlin_midnight("2026-07-05")


def test_three_months_without_contact_propose_closure_to_the_teamleitung(runtime: Runtime,
                                                                         clock: ManualClock) -> None:
    deploy_kim(runtime)
    case = _start(runtime)
    _submit(runtime, case, "einwilligung_einholen", EINWILLIGUNG)
    _submit(runtime, case, "assessment", ASSESSMENT)
    clock.set(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))  # the plan review comes later than the proposal
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE})
    proposal = berlin_midnight("2026-04-05")  # 3 months after the Erstkontakt, the last contact
    _fire_at(runtime, clock, datetime(2026, 4, 4, 21, 59, tzinfo=UTC))
    assert "abschluss_vorschlagen" not in _keys(runtime, case)
    _fire_at(runtime, clock, proposal)
    assert _keys(runtime, case) == ["abschluss_vorschlagen", "ziel_verfolgen", "ziel_verfolgen"]
    task = _task(runtime, case, "abschluss_vorschlagen")
    assert task.candidate_groups == ["fm-teamleitung"]
    with runtime.command(FM) as ctx:
        assert human_tasks.find(ctx, human_tasks.TaskQuery(task_definition_key="abschluss_vorschlagen")) == []
    assert _refused(runtime, case, "abschluss_vorschlagen", {"abschlussvorschlag": "weiterfuehren"},
                    actor=TEAMLEITUNG) == {"abschlussvorschlag_begruendung"}
    _submit(runtime, case, "abschluss_vorschlagen", {"abschlussvorschlag": "weiterfuehren",
                                                     "abschlussvorschlag_begruendung": "Person im Krankenhaus"},
            actor=TEAMLEITUNG)
    assert "fall_begleiten" in _keys(runtime, case)
    assert _timer_due(runtime, case, "drei_monate_ohne_kontakt") == berlin_midnight("2026-07-05")
    _fire_at(runtime, clock, berlin_midnight("2026-04-20"))  # the plan review, then again no contact
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE})
    _fire_at(runtime, clock, berlin_midnight("2026-07-05"))
    _submit(runtime, case, "abschluss_vorschlagen", {"abschlussvorschlag": "abschliessen",
                                                     "abschlussvorschlag_begruendung": "Nicht erreichbar"},
            actor=TEAMLEITUNG)
    assert _keys(runtime, case) == ["fallabschluss"]
    _submit(runtime, case, "fallabschluss", {"abschlussgrund": "ziele_erreicht", "abgeschlossen_am": "2026-07-06"})
    assert _state(runtime, case) == "completed"
    assert _variables(runtime, case)["abschlussgrund"] == "kein_kontakt"  # set by the Teamleitung's decision


# --- evaluation and closure --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["ziele_erreicht", "regelsystem", "anderes_fallmanagement", "abbruch", "umzug",
                                    "einwilligung_widerrufen", "kein_kontakt"])
def test_every_closure_reason_after_evaluation(runtime: Runtime, reason: str) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    _close_via_evaluation(runtime, case, reason)
    assert _state(runtime, case) == "completed"
    assert _variables(runtime, case)["abschlussgrund"] == reason


def test_evaluation_can_lead_back_to_the_hilfeplan_and_records_system_gaps(runtime: Runtime) -> None:
    deploy_kim(runtime)
    case = _to_hub(runtime)
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "evaluation"})
    assert _keys(runtime, case) == ["evaluation"]
    assert _refused(runtime, case, "evaluation", {"zielerreichung": "teilweise", "systemluecke": True,
                                                  "evaluation_ergebnis": "fortsetzen"}) == {
        "systemluecke_lebensbereich", "systemluecke_beschreibung"}
    _submit(runtime, case, "evaluation", {"zielerreichung": "teilweise", "systemluecke": True,
                                          "systemluecke_lebensbereich": "sprache",
                                          "systemluecke_beschreibung": "Keine Kinderbetreuung während der Kurse",
                                          "evaluation_ergebnis": "fortsetzen"})
    assert _keys(runtime, case) == ["hilfeplan_erstellen"]
    _submit(runtime, case, "hilfeplan_erstellen", {"ziele": ZIELE[:1]})
    _submit(runtime, case, "fall_begleiten", {"naechster_schritt": "evaluation"})
    _submit(runtime, case, "evaluation", {"zielerreichung": "erreicht", "evaluation_ergebnis": "abschliessen"})
    assert _refused(runtime, case, "fallabschluss", {"abgeschlossen_am": "2026-01-05"}) == {"abschlussgrund"}
    _submit(runtime, case, "fallabschluss", {"abschlussgrund": "ziele_erreicht", "abgeschlossen_am": "2026-01-05"})
    assert _state(runtime, case) == "completed"
    assert _variables(runtime, case)["systemluecke_lebensbereich"] == "sprache"


def test_every_fallmanagement_form_parses_and_every_task_names_one() -> None:
    form_ids = {p.stem for p in (ROOT / "forms").glob("fm_*.form")}
    for name in form_ids:
        path = ROOT / "forms" / f"{name}.form"
        assert forms.parse_form_js(path.read_bytes(), path.name).key == name
    text = (ROOT / "bpmn" / "fallmanagement.bpmn").read_text(encoding="utf-8")
    used = {part.split('"')[0] for part in text.split('camunda:formRef="')[1:]}
    assert used == form_ids
