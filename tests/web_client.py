"""A logged-in browser stand-in for the web app's tests: Flask's test client plus CSRF tokens and login."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.app import create_app
from service.runtime import Runtime
from workflows import accounts

PEOPLE = {
    "erika": ("caseworker", ["fm-team"], "Erika Mustermann"),
    "jonas": ("caseworker", ["fm-team"], "Jonas Beispiel"),
    "bernd": ("caseworker", ["abh-team"], "Bernd Amt"),
    "tina": ("supervisor", ["fm-team", "fm-teamleitung"], "Tina Leitung"),
    "paul": ("process_owner", ["prozess"], "Paul Prozess"),
}
PASSWORD = "geheim-123"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_people(runtime: Runtime) -> None:
    with runtime.command() as ctx:
        for user, (role, groups, name) in PEOPLE.items():
            accounts.add_user(ctx, user, password=PASSWORD, role=role, groups=groups, display_name=name)


class Browser:
    """One user's session: GET and POST like a browser with cookies, forms carry the page's CSRF token."""

    def __init__(self, app: Flask):
        self.client: FlaskClient = app.test_client()
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, **kwargs)
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        if not self.token:
            self.get("/anmelden")
        response = self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)
        self._remember(response)
        return response

    def _remember(self, response: TestResponse) -> None:
        if response.mimetype == "text/html":
            found = _TOKEN.search(response.get_data(as_text=True))
            if found:
                self.token = found.group(1)

    def login(self, user: str, password: str = PASSWORD) -> TestResponse:
        self.get("/anmelden")
        response = self.post("/anmelden", {"benutzer": user, "passwort": password})
        if response.status_code == 302:
            self.get(response.headers["Location"])  # the login rotated the CSRF token: pick up the new one
        return response


def browser_for(runtime: Runtime, user: str | None = None, **config: Any) -> Browser:
    browser = Browser(create_app(runtime, **config))
    if user:
        response = browser.login(user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return browser


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def links(response: TestResponse, prefix: str) -> list[str]:
    return re.findall(rf'href="{re.escape(prefix)}([^"?#]+)"', text(response))
