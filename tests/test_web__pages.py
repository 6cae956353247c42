"""The caseworker's pages over HTTP: inbox tabs and filters, claiming, the task form with errors beside the
fields (German, and English on request) that keep what was typed, drafts, completion leading to the next step,
a second completion that changes nothing, comments, the case file with its history, documents, and starting
a procedure from its start form."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from service.runtime import Runtime
from tests.conftest import deploy
from tests.web_client import Browser, add_people, browser_for, links, text
from workflows import audit, human_tasks, instances
from workflows.clock import ManualClock
from workflows.context import Actor

ADMIN = Actor("admin", "admin", frozenset())
VALID = {"aktenzeichen": "FM-2026-000001", "person_name": "Amina Yilmaz", "kinder": "2", "quelle": "jobcenter",
         "bereiche": ["wohnen", "sprache"], "erstkontakt": "2026-01-05"}


@pytest.fixture
def cases(runtime: Runtime) -> list[str]:
    add_people(runtime)
    deploy(runtime, "web_case")
    started = []
    with runtime.command(ADMIN) as ctx:
        for number, name in ((1, "Amina Yilmaz"), (2, "Olena Koval"), (3, "Samir Haddad")):
            started.append(instances.start(ctx, key="web_fall", business_key=f"FM-2026-00000{number}",
                                           variables_in={"person_name": name}).id)
        instances.start(ctx, key="web_abh", business_key="ABH-2026-000009", variables_in={"person_name": "Geheim"})
    return started


def _task_of(runtime: Runtime, instance_id: str) -> str:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id))
        return str(task.id)


def _claim(browser: Browser, task_id: str) -> None:
    assert browser.post(f"/aufgaben/{task_id}/uebernehmen", {"zurueck": "/"}).status_code == 302


def test_inbox_tabs_counts_search_and_claiming(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    page = text(erika.get("/?tab=gruppe"))
    assert "Amina Yilmaz" in page and "Olena Koval" in page and "Geheim" not in page
    assert re.search(r"Gruppenaufgaben <span class=\"badge\">3</span>", page)
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    mine = text(erika.get("/"))
    assert "Amina Yilmaz" in mine and "Olena Koval" not in mine
    assert re.search(r"Meine Aufgaben <span class=\"badge\">1</span>", mine)
    found = text(erika.get("/?tab=gruppe&q=koval"))
    assert "Olena Koval" in found and "Samir Haddad" not in found
    assert "Samir Haddad" in text(erika.get("/?tab=gruppe&q=FM-2026-000003"))
    jonas = browser_for(runtime, "jonas")
    group_view = text(jonas.get("/?tab=gruppe"))
    assert "erika" in group_view  # claimed tasks show who works on them
    assert jonas.post(f"/aufgaben/{task_id}/uebernehmen").status_code == 409  # already claimed by Erika


def test_overdue_marking_sorting_and_follow_ups(runtime: Runtime, clock: ManualClock, cases: list[str]) -> None:
    clock.advance(days=6)  # the first task was due after 5 days
    erika = browser_for(runtime, "erika")
    page = text(erika.get("/?tab=gruppe&sortierung=faellig"))
    assert page.count("überfällig") == 3
    with runtime.command(ADMIN) as ctx:
        human_tasks.claim(ctx, _task_of(runtime, cases[1]), "erika")
    with runtime.command(ADMIN) as ctx:
        ctx.session.get(human_tasks.HT, _task_of(runtime, cases[1])).follow_up_at = clock.now() + \
            timedelta(days=3)  # type: ignore[union-attr]
    assert "Olena Koval" not in text(erika.get("/"))  # on Wiedervorlage: hidden
    assert "Olena Koval" in text(erika.get("/?wiedervorlagen=1"))


def test_form_errors_stay_beside_the_fields_with_what_was_typed(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    page = text(erika.get(f"/aufgaben/{task_id}"))
    assert 'value="Amina Yilmaz"' in page  # the process variable fills the field
    response = erika.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", "aktenzeichen": "FM-26-1",
                                                   "person_name": "Amina Yilmaz", "kinder": "99", "quelle": ""})
    page = text(response)
    assert response.status_code == 422
    assert 'value="FM-26-1"' in page and 'value="99"' in page  # what was typed stays
    assert "Der Wert muss zwischen 0 und 15 liegen." in page or "zwischen 0 und 15" in page
    assert "Dieses Feld ist erforderlich." in page
    assert 'aria-invalid="true"' in page and 'class="error-summary"' in page
    english = text(erika.post(f"/aufgaben/{task_id}?lang=en", {"aktion": "abschliessen", "kinder": "x"}))
    assert "This field is required." in english
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.get(ctx, task_id) is not None  # nothing applied


def test_conditional_fields_and_completion_leads_to_the_next_step(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    hidden = text(erika.get(f"/aufgaben/{task_id}"))
    assert re.search(r'data-component="feld-Field_vertretung" hidden', hidden)
    minor = erika.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", **VALID, "minderjaehrig": "on"})
    assert minor.status_code == 422 and "Gesetzliche Vertretung" in text(minor)  # now shown and required
    conditions = erika.client.post(f"/aufgaben/{task_id}/sichtbarkeit", data={**VALID, "minderjaehrig": "on"},
                                   headers={"X-CSRFToken": erika.token})
    assert "feld-Field_vertretung" not in conditions.get_json()["hidden"]
    done = erika.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", **VALID})
    assert done.status_code == 302
    with runtime.command(ADMIN) as ctx:
        values = instances.get_variables(ctx, cases[0]) or {}
        (following,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=cases[0]))
    assert values["kinder"] == 2 and values["bereiche"] == ["wohnen", "sprache"] and "vertretung" not in values
    assert done.headers["Location"] == f"/aufgaben/{following.id}"  # the next step opens at once
    again = erika.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", **VALID})
    assert again.status_code == 409 and "bereits von erika abgeschlossen" in text(again)
    with runtime.command(ADMIN) as ctx:
        assert len(audit.query(ctx, kinds=["task_completed"], task_id=task_id)) == 1


def test_drafts_keep_unfinished_work(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    assert erika.post(f"/aufgaben/{task_id}", {"aktion": "entwurf", "kinder": "7", "quelle": "selbst"}
                      ).status_code == 302
    page = text(erika.get(f"/aufgaben/{task_id}"))
    assert 'value="7"' in page and re.search(r'value="selbst" selected', page)


def test_a_task_held_by_someone_else_is_read_only(runtime: Runtime, cases: list[str]) -> None:
    erika, jonas = browser_for(runtime, "erika"), browser_for(runtime, "jonas")
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    page = text(jonas.get(f"/aufgaben/{task_id}"))
    assert "Diese Aufgabe bearbeitet erika." in page and re.search(r'value="abschliessen"\s+disabled', page)
    response = jonas.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", **VALID})
    assert response.status_code == 302
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.get(ctx, task_id) is not None


def test_comments_on_task_and_case(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    task_id = _task_of(runtime, cases[0])
    erika.post(f"/aufgaben/{task_id}/kommentar", {"kommentar": "Rückruf am Montag <b>vereinbart</b>"})
    page = text(erika.get(f"/aufgaben/{task_id}"))
    assert "Rückruf am Montag &lt;b&gt;vereinbart&lt;/b&gt;" in page  # escaped, never markup
    erika.post(f"/faelle/{cases[0]}/kommentar", {"kommentar": "Dolmetscherin Arabisch nötig"})
    assert "Dolmetscherin Arabisch nötig" in text(erika.get(f"/faelle/{cases[0]}"))


def test_case_file_history_data_and_related_procedures(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    task_id = _task_of(runtime, cases[0])
    _claim(erika, task_id)
    erika.post(f"/aufgaben/{task_id}", {"aktion": "abschliessen", **VALID})
    page = text(erika.get(f"/faelle/{cases[0]}"))
    assert "Vorgang begonnen" in page and "Aufgabe „Erstkontakt erfassen“ abgeschlossen" in page
    assert "Förderfähigkeit prüfen" in page and "Amina Yilmaz" in page  # current step and data
    assert "FM-2026-000001" in page
    assert "/faelle/" in text(erika.get("/faelle")) and "Geheim" not in text(erika.get("/faelle?beendet=1"))


def test_documents_are_checked_by_content_and_downloaded_as_attachments(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    case = cases[0]

    def upload(name: str, content: bytes) -> str:
        response = erika.post(f"/faelle/{case}/dokumente", {"datei": (io.BytesIO(content), name)},
                              content_type="multipart/form-data")
        assert response.status_code == 302
        return text(erika.get(f"/faelle/{case}"))

    page = upload("Pass Kopie.pdf", b"%PDF-1.7\n% scan\n")
    assert "Pass Kopie.pdf" in page and "wurde hochgeladen" in page
    refused = upload("foto.pdf", b"MZ\x90\x00 not a pdf")  # the name says PDF, the content does not
    assert "Nur PDF-, PNG- und JPEG-Dateien" in refused
    image = upload("../../bescheid.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert "bescheid.png" in image and "../" not in image
    (first, *_rest) = links(erika.get(f"/faelle/{case}"), "/dokumente/")
    download = erika.get(f"/dokumente/{first}")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff" and download.data.startswith(b"%PDF")
    runtime.settings = __import__("dataclasses").replace(runtime.settings, max_document_bytes=1000)
    erika = browser_for(runtime, "erika")
    too_big = erika.post(f"/faelle/{case}/dokumente", {"datei": (io.BytesIO(b"%PDF" + b"0" * 2000), "gross.pdf")},
                         content_type="multipart/form-data")
    assert too_big.status_code in (302, 413)


def test_start_a_procedure_from_its_start_form(runtime: Runtime, cases: list[str]) -> None:
    erika = browser_for(runtime, "erika")
    choice = text(erika.get("/vorgang"))
    assert "Fallmanagement (Test)" in choice and "Aufenthalt (Test)" not in choice  # candidateStarterGroups
    bad = erika.post("/vorgang/web_fall", {**VALID, "aktenzeichen": "falsch"})
    assert bad.status_code == 422 and 'value="falsch"' in text(bad)
    started = erika.post("/vorgang/web_fall", {**VALID, "aktenzeichen": "FM-2026-000042"})
    assert started.status_code == 302
    with runtime.command(ADMIN) as ctx:
        (new,) = [i for i in instances.list_instances(ctx) if i.business_key == "FM-2026-000042"]
        assert instances.get_variables(ctx, new.id)["person_name"] == "Amina Yilmaz"  # type: ignore[index]
        assert new.started_by == "erika"
    assert erika.get("/vorgang/web_abh").status_code == 404
