"""Login and logout. Passwords are checked with argon2 (workflows.accounts); failed logins pause after a few
tries (service.web.sessions); a login gets a fresh session token, a logout deletes the session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from flask_babel import gettext as _

from service.web import sessions
from service.web.blueprint import web
from service.web.common import page, runtime
from workflows import accounts, audit


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send anyone to another site."""
    if not target:
        return url_for("web.inbox")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.inbox")
    return target


@web.route("/anmelden", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.get("user"):
            return redirect(_safe_next(request.args.get("next")))
        return page("web/login.html", error=None, username="", next_url=request.args.get("next", ""))
    username = (request.form.get("benutzer") or "").strip()
    password = request.form.get("passwort") or ""
    next_url = request.form.get("next", "")
    address = request.remote_addr or "?"
    with runtime().command() as ctx:
        if sessions.login_paused(ctx, username, address):
            error = _("Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie %(m)s Minuten.",
                      m=ctx.settings.login_window_minutes)
            return page("web/login.html", error=error, username=username, next_url=next_url), 429
        actor = accounts.authenticate(ctx, username, password) if username and password else None
        sessions.record_login(ctx, username, address, success=actor is not None)
        if actor is not None:
            audit.record(ctx, "user_logged_in", details={"user": actor.id, "address": address})
    if actor is None:
        return page("web/login.html", error=_("Benutzername oder Passwort ist falsch."), username=username,
                    next_url=next_url), 401
    language = session.get("lang")
    session.clear()
    sessions.renew(session)  # type: ignore[arg-type]
    session["_user"] = actor.id
    if language:
        session["lang"] = language
    return redirect(_safe_next(next_url))


@web.route("/abmelden", methods=["POST"])
def logout() -> Any:
    if g.get("user"):
        with runtime().command() as ctx:
            audit.record(ctx, "user_logged_out", details={"user": g.user.id})
    session.clear()
    return redirect(url_for("web.login"))
