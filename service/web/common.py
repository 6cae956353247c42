"""What every page of the web app shares: who is logged in, one transaction per request step, rendering."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from markupsafe import Markup, escape

from service.runtime import Runtime
from workflows import accounts, notifications, schema
from workflows.context import Actor, Ctx

F = TypeVar("F", bound=Callable[..., Any])
CASE_ROLES = ("caseworker", "supervisor", "admin")


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["kimflow"])


class PageUser:
    """The logged-in person as pages show them."""

    def __init__(self, actor: Actor, display_name: str):
        self.actor = actor
        self.id = actor.id
        self.display_name = display_name

    @property
    def works_cases(self) -> bool:
        return self.actor.role in CASE_ROLES


def load_user() -> None:
    """Before each request: the session's user, re-read (a deactivated account or a changed group counts at once)."""
    g.user = None
    user_id = session.get("_user")
    if not user_id:
        return
    with runtime().command() as ctx:
        actor = accounts.actor_for(ctx, user_id)
        row = ctx.session.get(schema.User, user_id) if actor else None
        if actor is None or row is None:
            session.clear()
            return
        g.user = PageUser(actor, row.display_name or user_id)
        g.unread = notifications.unread_count(ctx, user_id)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def case_role_required(view: F) -> F:
    """Case content is for caseworkers, supervisors and admins; process owners see models and figures."""
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.user.works_cases:
            from service.web.errors import Forbidden

            raise Forbidden()
        return view(*args, **kwargs)

    return cast(F, wrapped)


@contextmanager
def command() -> Iterator[Ctx]:
    """One transaction as the logged-in user."""
    actor = g.user.actor if g.get("user") else Actor()
    with runtime().command(actor) as ctx:
        yield ctx


def page(template: str, **values: Any) -> str:
    return render_template(template, user=g.get("user"), unread=g.get("unread", 0), locale=str(get_locale()),
                           extra_nav=[], **values)


# --- filters -----------------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime().settings.timezone)


def datum(value: Any) -> str:
    if value in (None, ""):
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(_zone()).date() if value.tzinfo else value.date()
    return format_date(value, format="medium", locale=str(get_locale()))


def datumzeit(value: Any) -> str:
    if value in (None, ""):
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(_zone())
    return format_datetime(value, format="short" if str(get_locale()) == "en" else "dd.MM.yyyy, HH:mm",
                           locale=str(get_locale()))


def kilobytes(size: int) -> str:
    return f"{max(1, round(size / 1024))} KB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def markdown_light(text: str) -> Markup:
    """The little markdown form texts use (bold, line breaks), everything else escaped."""
    escaped = str(escape(text or ""))
    return Markup(_BOLD.sub(r"<strong>\1</strong>", escaped).replace("\n", "<br>"))


def register_filters(app: Any) -> None:
    app.jinja_env.filters.update(datum=datum, datumzeit=datumzeit, kilobytes=kilobytes,
                                 markdown_light=markdown_light)
