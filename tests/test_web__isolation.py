"""Case-management data and Ausländerbehörde data stay apart (DOMAIN.md section 5): a caseworker of another
group finds another group's case through no page, no search, no link and no form, and learns nothing from the
answer (the same "not found" as for something that does not exist)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.runtime import Runtime
from tests.conftest import deploy, deploy_kim
from tests.web_client import PASSWORD, add_people, browser_for, text
from workflows import accounts, documents, human_tasks, instances, timers
from workflows.clock import ManualClock
from workflows.context import Actor

ADMIN = Actor("admin", "admin", frozenset())


@pytest.fixture
def fm_case(runtime: Runtime) -> dict[str, str]:
    add_people(runtime)
    deploy(runtime, "web_case")
    with runtime.command(ADMIN) as ctx:
        started = instances.start(ctx, key="web_fall", business_key="FM-2026-000001",
                                  variables_in={"person_name": "Vertraulich Person"})
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=started.id))
        document = documents.store(ctx, instance_id=started.id, filename="attest.pdf", content=b"%PDF-1.4 x")
    return {"instance": started.id, "task": str(task.id), "document": document.id}


def test_another_groups_caseworker_reaches_nothing(runtime: Runtime, fm_case: dict[str, str]) -> None:
    bernd = browser_for(runtime, "bernd")  # Ausländerbehörde
    instance, task, document = fm_case["instance"], fm_case["task"], fm_case["document"]
    for path in (f"/aufgaben/{task}", f"/faelle/{instance}", f"/dokumente/{document}"):
        response = bernd.get(path)
        assert response.status_code == 404, path
        assert "Vertraulich" not in text(response)
    for path, data in ((f"/aufgaben/{task}/uebernehmen", {}), (f"/aufgaben/{task}", {"aktion": "abschliessen"}),
                       (f"/aufgaben/{task}", {"aktion": "entwurf"}), (f"/aufgaben/{task}/kommentar",
                                                                      {"kommentar": "x"}),
                       (f"/faelle/{instance}/kommentar", {"kommentar": "x"}),
                       (f"/aufgaben/{task}/zurueckgeben", {})):
        assert bernd.post(path, data).status_code in (404, 409), path
    upload = bernd.post(f"/faelle/{instance}/dokumente", {"datei": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
                        content_type="multipart/form-data")
    assert upload.status_code == 404
    for listing in ("/?tab=gruppe&wiedervorlagen=1", "/faelle?beendet=1", "/faelle?q=Vertraulich",
                    "/?tab=gruppe&q=FM-2026"):
        page = text(bernd.get(listing))
        assert instance not in page and task not in page and "Vertraulich Person" not in page, listing
        assert "FM-2026-000001" not in page, listing
    assert bernd.get("/vorgang/web_fall").status_code == 404
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.get(ctx, task).assignee is None  # type: ignore[union-attr]
        assert len(documents.for_instance(ctx, instance)) == 1


def test_the_same_answer_for_what_does_not_exist(runtime: Runtime, fm_case: dict[str, str]) -> None:
    bernd = browser_for(runtime, "bernd")
    hidden = bernd.get(f"/faelle/{fm_case['instance']}")
    missing = bernd.get("/faelle/00000000-0000-0000-0000-000000000000")
    assert hidden.status_code == missing.status_code == 404
    assert text(hidden).replace(fm_case["instance"], "") == text(missing).replace(
        "00000000-0000-0000-0000-000000000000", "")


# --- each Teamleitung supervises its own domain only -----------------------------------------------------------

LEADS = {"fm-lead": "fm-teamleitung", "abh-lead": "abh-teamleitung", "ebh-lead": "ebh-teamleitung"}
FM_CASEWORKER = Actor("erika", "caseworker", frozenset({"fm-team"}))
ABH_CASEWORKER = Actor("bernd", "caseworker", frozenset({"abh-team"}))
EBH_CASEWORKER = Actor("ebru", "caseworker", frozenset({"ebh-team"}))


def _berlin(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def _complete(runtime: Runtime, actor: Actor, instance: str, key: str, values: dict[str, Any]) -> None:
    with runtime.command(actor) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance, task_definition_key=key))
        assert human_tasks.submit_form(ctx, task.id, values) == {}


def _supervision_task(runtime: Runtime, instance: str, key: str) -> str:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance, task_definition_key=key))
    return str(task.id)


@pytest.fixture
def domains(runtime: Runtime, clock: ManualClock) -> dict[str, dict[str, str]]:
    """A case of each authority, three months on: each has a task that only its own Teamleitung may work (the
    Fallmanagement's closure proposal, the §75 VwGO reason of the Ausländerbehörde and Einbürgerungsbehörde)."""
    deploy_kim(runtime)
    with runtime.command() as ctx:
        for user, group in LEADS.items():  # only the lead group: nothing else could let them see a case
            accounts.add_user(ctx, user, password=PASSWORD, role="supervisor", groups=[group])
    with runtime.command(FM_CASEWORKER) as ctx:
        fm = instances.start(ctx, key="fallmanagement", business_key="FM-2026-000501", variables_in={
            "aktenzeichen": "FM-2026-000501", "person_name": "Vertraulich Fallmanagement",
            "geburtsdatum": "1990-03-01", "erstkontakt_datum": "2026-01-05", "zugangsweg": "selbst",
            "zuwanderungsgeschichte": True, "wohnsitz_seit": "2025-05-01", "anderes_fallmanagement": False,
            "zugang_regelsystem": False, "anliegen": "Arbeit"}).id
    _complete(runtime, FM_CASEWORKER, fm, "einwilligung_einholen", {
        "einwilligung_partner": [], "einwilligung_form": "schriftlich", "einwilligung_datum": "2026-01-05"})
    _complete(runtime, FM_CASEWORKER, fm, "assessment", {
        "lebensbereiche_bedarf": ["arbeit"], "aufenthaltsstatus": "duldung", "sprachniveau": "A2",
        "kinder_im_haushalt": "0", "assessment_notiz": "Gesundheitliche Einschränkungen"})
    clock.set(_berlin(1, 20))  # the plan review comes after the closure proposal
    _complete(runtime, FM_CASEWORKER, fm, "hilfeplan_erstellen", {"ziele": [
        {"ziel": "Arbeit finden", "lebensbereich": "arbeit", "verantwortlich": "Jobcenter",
         "faellig_am": "2026-06-30", "wiedervorlage_am": "2026-06-01"}]})
    clock.set(_berlin(1, 5))
    with runtime.command(ABH_CASEWORKER) as ctx:
        abh = instances.start(ctx, key="bleiberecht", business_key="ABH-2026-000501", variables_in={
            "aktenzeichen": "ABH-2026-000501", "person_name": "Vertraulich Auslaenderbehoerde",
            "geburtsdatum": "2004-03-15", "antragsdatum": "2026-01-05", "antragsart": "25a",
            "verlaengerung": False, "aufenthaltsstatus": "duldung"}).id
    with runtime.command(EBH_CASEWORKER) as ctx:
        ebh = instances.start(ctx, key="einbuergerung", business_key="EBH-2026-000501", variables_in={
            "aktenzeichen": "EBH-2026-000501", "person_name": "Vertraulich Einbuergerung",
            "geburtsdatum": "1990-04-12", "beratungsdatum": "2026-01-05"}).id
    _complete(runtime, EBH_CASEWORKER, ebh, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt"})
    _complete(runtime, EBH_CASEWORKER, ebh, "antrag_erfassen", {"antragsdatum": "2026-01-05",
                                                                 "aufenthaltstitel": "unbefristet"})
    _complete(runtime, EBH_CASEWORKER, ebh, "gebuehr_festsetzen", {"gebuehr_bescheid_datum": "2026-01-05"})
    clock.set(_berlin(4, 8))  # three months without contact; three months since the applications (§75 VwGO)
    with runtime.command() as ctx:
        timers.fire_due(ctx)
    return {
        "fm-lead": {"case": fm, "task": _supervision_task(runtime, fm, "abschluss_vorschlagen"),
                    "name": "Vertraulich Fallmanagement", "az": "FM-2026-000501"},
        "abh-lead": {"case": abh, "task": _supervision_task(runtime, abh, "zureichenden_grund_dokumentieren"),
                     "name": "Vertraulich Auslaenderbehoerde", "az": "ABH-2026-000501"},
        "ebh-lead": {"case": ebh, "task": _supervision_task(runtime, ebh, "zureichenden_grund_dokumentieren"),
                     "name": "Vertraulich Einbuergerung", "az": "EBH-2026-000501"}}


@pytest.mark.parametrize("lead", sorted(LEADS))
def test_a_teamleitung_sees_its_own_domain_and_nothing_of_the_others(
        runtime: Runtime, domains: dict[str, dict[str, str]], lead: str) -> None:
    browser = browser_for(runtime, lead)
    own = domains[lead]
    assert browser.get(f"/faelle/{own['case']}").status_code == 200
    assert own["name"] in text(browser.get(f"/aufgaben/{own['task']}"))
    assert own["task"] in text(browser.get("/?tab=gruppe"))
    for other, foreign in domains.items():
        if other == lead:
            continue
        for path in (f"/aufgaben/{foreign['task']}", f"/faelle/{foreign['case']}"):
            response = browser.get(path)
            assert response.status_code == 404, (lead, path)
            assert foreign["name"] not in text(response)
        assert browser.post(f"/aufgaben/{foreign['task']}/uebernehmen").status_code == 404
        for listing in ("/?tab=gruppe&wiedervorlagen=1", "/?tab=meine", "/faelle?beendet=1",
                        f"/faelle?q={foreign['az'][:-2]}", f"/?tab=gruppe&q={foreign['az'][:-2]}"):
            page = text(browser.get(listing))
            assert foreign["case"] not in page and foreign["task"] not in page, (lead, listing)
            assert foreign["name"] not in page and foreign["az"] not in page, (lead, listing)
