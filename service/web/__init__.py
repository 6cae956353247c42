"""The caseworkers' web app: inbox, task forms, case files; German first, English second.

`init_web(app, runtime)` wires it into the Flask app: server-side sessions in the database, CSRF protection on
every form (the REST API uses Basic or Bearer authentication and no cookies, so it is not affected), the
language (German, English on request), security headers, template filters and error pages.
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask, Response, g, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from service.runtime import Runtime
from service.web import errors, sessions
from service.web.blueprint import web
from service.web.common import load_user, register_filters

LANGUAGES = ("de", "en")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_csrf = CSRFProtect()


def _is_page() -> bool:
    return not request.path.startswith(("/engine-rest", "/api/", "/static/", "/healthz"))


def _locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES, default="de") or "de"


def _before() -> None:
    g.started = time.perf_counter()
    if not _is_page():
        return
    language = request.args.get("lang")
    if language in LANGUAGES and session.get("lang") != language:
        session["lang"] = language
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        _csrf.protect()
    load_user()


def _after(response: Response) -> Response:
    if "started" in g:  # how long the server worked on it (browsers' developer tools and the benchmark read it)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.1f}"
    if _is_page():
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data
    return response


def init_web(app: Flask, runtime: Runtime) -> None:
    from service.web import auth_views, case_views, inbox_views, task_views  # noqa: F401 - routes register

    app.session_interface = sessions.DatabaseSessionInterface(runtime)
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
                      MAX_CONTENT_LENGTH=runtime.settings.max_document_bytes + 1_000_000,
                      BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS), BABEL_DEFAULT_LOCALE="de")
    _csrf.init_app(app)
    Babel(app, locale_selector=_locale)
    register_filters(app)
    errors.register(app)
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(web)

