"""Logging in and out: argon2 passwords, server-side sessions with a fresh token per login, pauses after
repeated failures, CSRF on every form, cookie flags, no redirect to other sites, security headers."""

from __future__ import annotations

import sqlalchemy as sa

from service.runtime import Runtime
from tests.web_client import add_people, browser_for, text
from workflows import accounts, schema
from workflows.settings import Settings


def test_login_logout_and_the_session_lives_on_the_server(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime)
    assert browser.get("/").headers["Location"].startswith("/anmelden")
    before = browser.client.get_cookie("kimflow_sitzung")
    response = browser.login("erika")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = browser.client.get_cookie("kimflow_sitzung")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert before is None or before.value != cookie.value  # a fresh token at login
    with runtime.command() as ctx:
        (session_row,) = ctx.session.scalars(sa.select(schema.WebSession))
        assert session_row.user_id == "erika" and cookie.value not in str(session_row.id)  # only a digest
    assert "Erika Mustermann" in text(browser.get("/"))
    assert browser.post("/abmelden").status_code == 302
    assert browser.get("/").status_code == 302
    with runtime.command() as ctx:
        assert ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.WebSession)) == 0


def test_wrong_password_and_unknown_user_get_the_same_answer(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime)
    wrong = browser.login("erika", "falsch-falsch")
    unknown = browser.login("niemand", "falsch-falsch")
    assert wrong.status_code == unknown.status_code == 401
    assert "Benutzername oder Passwort ist falsch." in text(wrong) and "Benutzername oder Passwort ist falsch." in \
        text(unknown)


def test_logins_pause_after_repeated_failures_even_with_the_right_password(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime)
    for _ in range(runtime.settings.login_max_failures):
        assert browser.login("erika", "falsch-falsch").status_code == 401
    paused = browser.login("erika")
    assert paused.status_code == 429 and "Zu viele fehlgeschlagene Anmeldungen" in text(paused)
    runtime.clock.advance(minutes=runtime.settings.login_window_minutes + 1)  # type: ignore[attr-defined]
    assert browser.login("erika").status_code == 302


def test_every_form_needs_its_csrf_token(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime, "erika")
    forged = browser.client.post("/abmelden", data={})
    assert forged.status_code == 400 and "Sitzung abgelaufen" in forged.get_data(as_text=True)
    assert browser.get("/").status_code == 200  # still logged in


def test_no_redirect_to_another_site_after_login(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime)
    browser.get("/anmelden")
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = browser.post("/anmelden", {"benutzer": "erika", "passwort": "geheim-123", "next": target})
        assert response.headers.get("Location") == "/", (response.status_code, text(response)[:300])
        browser.get("/")  # the login gave the session a new CSRF token
        assert browser.post("/abmelden").status_code == 302
        browser.get("/anmelden")


def test_a_deactivated_account_is_logged_out_at_once(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime, "erika")
    with runtime.command() as ctx:
        ctx.session.get(schema.User, "erika").active = False  # type: ignore[union-attr]
    assert browser.get("/").status_code == 302


def test_pages_send_security_headers_and_are_not_cached(runtime: Runtime) -> None:
    add_people(runtime)
    response = browser_for(runtime, "erika").get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"


def test_secure_cookies_behind_tls(runtime: Runtime) -> None:
    add_people(runtime)
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, cookie_secure=True)
    browser = browser_for(runtime)
    browser.login("erika")
    assert browser.client.get_cookie("kimflow_sitzung").secure  # type: ignore[union-attr]


def test_process_owners_see_no_case_pages(runtime: Runtime) -> None:
    add_people(runtime)
    browser = browser_for(runtime, "paul")
    assert browser.get("/").status_code == 403
    assert browser.get("/faelle").status_code == 403
    with runtime.command() as ctx:
        assert accounts.actor_for(ctx, "paul").role == "process_owner"  # type: ignore[union-attr]
    _ = Settings
