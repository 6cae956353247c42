"""Server-side sessions and login throttling, kept in the database so that any number of web processes share them.

The cookie carries a random token (HttpOnly, SameSite=Lax, Secure behind TLS); the table keeps only the
token's SHA-256, the user and a small dict (CSRF secret, language, flash messages). A session expires after
`session_hours` without activity; logging out deletes it. Failed logins are counted per user name and per
address over `login_window_minutes`: too many, and logins pause for that window whatever the password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from service.runtime import Runtime
from workflows import schema
from workflows.context import Ctx

COOKIE = "kimflow_sitzung"
REFRESH_MINUTES = 5  # the expiry moves on at most every few minutes
WS = schema.WebSession
LA = schema.LoginAttempt


class DatabaseSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None, new: bool = False,
                 expires_at: datetime | None = None):
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.replaced: str | None = None  # a token given up at login; its row is deleted on save
        self.new = new
        self.modified = False
        self.expires_at = expires_at


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def open_session(self, app: Flask, request: Request) -> DatabaseSession:
        token = request.cookies.get(COOKIE)
        if not token:
            return DatabaseSession(new=True)
        now = self.runtime.clock.now()
        with self.runtime.command() as ctx:
            row = ctx.session.get(WS, _digest(token))
            if row is None or row.expires_at <= now:
                return DatabaseSession(new=True)
            data = dict(row.data or {})
            data["_user"] = row.user_id
            return DatabaseSession(data, token=token, expires_at=row.expires_at)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, DatabaseSession)
        secure = self.runtime.settings.cookie_secure
        if not session and session.token:  # cleared (logout): forget it on both sides
            with self.runtime.command() as ctx:
                ctx.session.execute(sa.delete(WS).where(WS.id == _digest(session.token)))
            response.delete_cookie(COOKIE, httponly=True, samesite="Lax", secure=secure)
            return
        if not session:
            return
        expires = self.runtime.clock.now() + timedelta(hours=self.runtime.settings.session_hours)
        if session.token and not session.modified and session.expires_at and \
                session.expires_at > expires - timedelta(minutes=REFRESH_MINUTES):
            return  # nothing changed and the expiry is fresh: no write on every page view
        token = session.token or secrets.token_urlsafe(32)
        data = {k: v for k, v in session.items() if k != "_user"}
        with self.runtime.command() as ctx:
            if session.replaced:
                ctx.session.execute(sa.delete(WS).where(WS.id == _digest(session.replaced)))
            _store(ctx, _digest(token), session.get("_user"), data, expires)
        session.token = token
        response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=secure, path="/")


def _store(ctx: Ctx, key: str, user_id: str | None, data: dict[str, Any], expires: datetime) -> None:
    row = ctx.session.get(WS, key)
    if row is None:
        ctx.session.add(WS(id=key, user_id=user_id, data=data, created_at=ctx.now(), expires_at=expires))
    else:
        row.user_id, row.data, row.expires_at = user_id, data, expires


def renew(session: DatabaseSession) -> None:
    """A fresh token at login (no session fixation): the old row is dropped with its token."""
    session.replaced, session.token = session.token, None
    session.modified = True


def drop_user_sessions(ctx: Ctx, user_id: str) -> None:
    ctx.session.execute(sa.delete(WS).where(WS.user_id == user_id))


def delete_expired(ctx: Ctx) -> int:
    result = ctx.session.execute(sa.delete(WS).where(WS.expires_at <= ctx.now()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- login throttling --------------------------------------------------------------------------------------


def login_paused(ctx: Ctx, username: str, address: str) -> bool:
    """Too many failures for this user name (or, four times as many, from this address) in the window."""
    settings = ctx.settings
    since = ctx.now() - timedelta(minutes=settings.login_window_minutes)
    failures = sa.select(sa.func.count()).select_from(LA).where(LA.success.is_(False), LA.attempted_at >= since)
    by_name = ctx.session.scalar(failures.where(LA.username == username.lower())) or 0
    by_address = ctx.session.scalar(failures.where(LA.address == address)) or 0
    return by_name >= settings.login_max_failures or by_address >= 4 * settings.login_max_failures


def record_login(ctx: Ctx, username: str, address: str, *, success: bool) -> None:
    ctx.session.add(LA(username=username.lower()[:255], address=address[:64], attempted_at=ctx.now(),
                       success=success))
    if success:  # a good login clears the user name's failures
        ctx.session.execute(sa.delete(LA).where(LA.username == username.lower(), LA.success.is_(False)))
