"""The web app in a real browser: Debian's Chromium driven by Playwright against kimflow served by waitress on
loopback. A caseworker logs in, claims a task, submits a form with an error, corrects it, completes it and
lands on the next task; the same with the keyboard alone; and every page passes an axe-core scan without
serious or critical violations (WCAG 2.1 AA). Screenshots of the main pages go to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.runtime import Runtime
from tests.conftest import deploy
from tests.web_client import PASSWORD, add_people
from workflows import comments, documents, human_tasks, instances, notifications
from workflows.context import Actor
from workflows.notifications import Notice

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
AXE = (ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
SCREENSHOTS = ROOT / "docs" / "screenshots"
ADMIN = Actor("admin", "admin", frozenset())
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: .ci/run installs Debian's chromium package")
    pytest.skip("Debian's chromium is not installed (apt install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    from waitress.server import create_server

    app = create_app(runtime)
    served = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{served.effective_port}"
    finally:
        served.close()
        thread.join(timeout=5)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def seeded(runtime: Runtime) -> dict[str, str]:
    add_people(runtime)
    deploy(runtime, "web_case")
    with runtime.command(ADMIN) as ctx:
        first = instances.start(ctx, key="web_fall", business_key="FM-2026-000001",
                                variables_in={"person_name": "Amina Yilmaz"})
        instances.start(ctx, key="web_fall", business_key="FM-2026-000002",
                        variables_in={"person_name": "Olena Koval"})
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=first.id))
        comments.add(ctx, "Erstgespräch mit Dolmetscherin.", instance_id=first.id, task_id=str(task.id))
        documents.store(ctx, instance_id=first.id, filename="Meldebescheinigung.pdf", content=b"%PDF-1.4 demo")
        notifications.notify(ctx, ["erika"], Notice("task_overdue", "Frist überschritten: Erstkontakt erfassen",
                                                    "Die Aufgabe war fällig.", first.id, str(task.id)), email=False)
    return {"instance": first.id, "task": str(task.id)}


def _login(page: Any, base: str, user: str = "erika") -> None:
    page.goto(f"{base}/anmelden")
    page.locator("#benutzer").fill(user)
    page.locator("#passwort").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/")


def _fill_valid(page: Any) -> None:
    page.get_by_label("Aktenzeichen", exact=False).fill("FM-2026-000001")
    page.get_by_label("Zugang").select_option("jobcenter")
    page.get_by_label("Kinder im Haushalt").fill("2")


def test_claim_error_correct_complete_and_next_task(server: str, browser: Any, seeded: dict[str, str]) -> None:
    page = browser.new_page(locale="de-DE")
    _login(page, server)
    page.get_by_role("link", name="Gruppenaufgaben").click()
    page.get_by_role("button", name=re.compile(r"Übernehmen.*FM-2026-000001")).click()
    assert "Sie bearbeiten jetzt" in page.locator(".flash").first.inner_text()
    page.get_by_role("link", name=re.compile("Meine Aufgaben")).click()
    page.get_by_role("link", name="Erstkontakt erfassen").click()
    page.get_by_label("Kinder im Haushalt").fill("99")
    page.get_by_role("button", name="Abschließen").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible() and "Bitte prüfen Sie Ihre Eingaben" in summary.inner_text()
    assert page.get_by_label("Kinder im Haushalt").input_value() == "99"  # what was typed stays
    _fill_valid(page)
    page.get_by_role("button", name="Abschließen").click()
    page.wait_for_selector("h1:has-text('Förderfähigkeit prüfen')")
    assert "ist erledigt" in page.locator(".flash").first.inner_text()
    page.close()


def test_a_whole_task_with_the_keyboard_alone(server: str, browser: Any, seeded: dict[str, str],
                                              runtime: Runtime) -> None:
    with runtime.command(ADMIN) as ctx:
        human_tasks.claim(ctx, seeded["task"], "erika")
    page = browser.new_page(locale="de-DE")
    page.goto(f"{server}/anmelden")
    assert page.evaluate("document.activeElement.name") == "benutzer"  # the field has the focus at once
    page.keyboard.type("erika")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/aufgaben/{seeded['task']}")
    focused: list[str] = []
    for _ in range(40):  # walk the form with Tab and type into each field that needs a value
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement && document.activeElement.name")
        focused.append(name or "")
        if name == "aktenzeichen":
            page.keyboard.type("FM-2026-000001")
        elif name == "quelle":
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
        elif name == "aktion":
            break
    assert "aktenzeichen" in focused and "quelle" in focused
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Förderfähigkeit prüfen')")
    page.close()


PAGES = {
    "anmelden": "/anmelden",
    "aufgaben": "/?tab=gruppe",
    "aufgabe": "/aufgaben/{task}",
    "aufgabe_fehler": None,
    "fallakte": "/faelle/{instance}",
    "faelle": "/faelle",
    "vorgang_auswahl": "/vorgang",
    "vorgang_formular": "/vorgang/web_fall",
    "benachrichtigungen": "/benachrichtigungen",
    "nicht_gefunden": "/faelle/gibt-es-nicht",
}


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                                             'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("language", ["de-DE", "en-GB"])
def test_every_page_passes_axe_and_is_photographed(server: str, browser: Any, seeded: dict[str, str],
                                                   runtime: Runtime, language: str) -> None:
    with runtime.command(ADMIN) as ctx:
        human_tasks.claim(ctx, seeded["task"], "erika")
    page = browser.new_page(locale=language, viewport={"width": 1280, "height": 900},
                            bypass_csp=True)  # axe is injected as an inline script, which the CSP forbids
    violations: dict[str, list[dict[str, Any]]] = {}
    for name, path in PAGES.items():
        if name == "anmelden":
            page.goto(server + path)
        elif path is None:  # the task page right after a submission with errors
            page.goto(f"{server}/aufgaben/{seeded['task']}")
            page.locator("input[name=kinder]").fill("99")
            page.locator("button[value=abschliessen]").click()
            page.wait_for_selector(".error-summary")
        else:
            if name == "aufgaben":
                _login(page, server)
            page.goto(server + path.format(**seeded))
        found = _axe(page)
        if found:
            violations[name] = found
        if language == "de-DE":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert violations == {}
    page.close()
