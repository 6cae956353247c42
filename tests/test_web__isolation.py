"""Case-management data and Ausländerbehörde data stay apart (DOMAIN.md section 5): a caseworker of another
group finds another group's case through no page, no search, no link and no form, and learns nothing from the
answer (the same "not found" as for something that does not exist)."""

from __future__ import annotations

import io

import pytest

from service.runtime import Runtime
from tests.conftest import deploy
from tests.web_client import add_people, browser_for, text
from workflows import documents, human_tasks, instances
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
