"""The inbox ("Meine Aufgaben", "Gruppenaufgaben"), claiming and releasing, and the notifications page.

Every list is a query on the human_task projection (workflows.human_tasks); a user sees only tasks of their
groups. Tasks on Wiedervorlage (follow-up date in the future) stay hidden unless asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

from service.web.blueprint import web
from service.web.common import case_role_required, command, login_required, page
from workflows import access, human_tasks, notifications, schema
from workflows.context import Ctx
from workflows.human_tasks import TaskQuery

PAGE_SIZE = 25
SORTS = {"faellig": [("due", "asc"), ("priority", "desc")], "prioritaet": [("priority", "desc"), ("due", "asc")],
         "erstellt": [("created", "desc")]}


@dataclass
class Filters:
    tab: str
    q: str
    verfahren: str
    schritt: str
    sortierung: str
    wiedervorlagen: bool
    seite: int

    @classmethod
    def from_request(cls) -> Filters:
        args = request.args
        sort = args.get("sortierung", "faellig")
        return cls(tab="gruppe" if args.get("tab") == "gruppe" else "meine", q=args.get("q", "").strip()[:100],
                   verfahren=args.get("verfahren", ""), schritt=args.get("schritt", ""),
                   sortierung=sort if sort in SORTS else "faellig", wiedervorlagen=args.get("wiedervorlagen") == "1",
                   seite=max(1, _int(args.get("seite"), 1)))

    def query(self, user_id: str, now: datetime, *, tab: str | None = None) -> TaskQuery:
        mine = (tab or self.tab) == "meine"
        return TaskQuery(assignee=user_id if mine else None, not_assignee=None if mine else user_id,
                         follow_up_before_or_none=None if self.wiedervorlagen else now,
                         definition_key=self.verfahren or None, task_definition_key=self.schritt or None,
                         search=self.q or None, sort_by=SORTS[self.sortierung])

    def kept(self) -> dict[str, Any]:
        """The filters a tab link keeps."""
        values = {"q": self.q, "verfahren": self.verfahren, "schritt": self.schritt,
                  "sortierung": self.sortierung, "wiedervorlagen": "1" if self.wiedervorlagen else ""}
        return {k: v for k, v in values.items() if v}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@web.route("/")
@case_role_required
def inbox() -> Any:
    filters = Filters.from_request()
    with command() as ctx:
        now = ctx.now()
        query = filters.query(g.user.id, now)
        total = human_tasks.count(ctx, query)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        seite = min(filters.seite, pages)
        rows = human_tasks.find(ctx, query, first=(seite - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        other = "gruppe" if filters.tab == "meine" else "meine"
        counts = {filters.tab: total, other: human_tasks.count(ctx, filters.query(g.user.id, now, tab=other))}
        people = human_tasks.people_of(ctx, [r.instance_id for r in rows])
        names = _process_names(ctx)
        tasks = [_row_view(r, now, people, names) for r in rows]
        hidden = 0 if tasks or filters.wiedervorlagen else human_tasks.count(
            ctx, TaskQuery(assignee=g.user.id, follow_up_after=now))
        steps = _steps(ctx, filters.verfahren) if filters.verfahren else []
    keep = filters.kept()
    return page("web/inbox.html", section="inbox", tasks=tasks, counts=counts, tab=filters.tab, filters=filters,
                page=seite, pages=pages, keep=keep, keep_all={**keep, "tab": filters.tab},
                processes=sorted(names.items(), key=lambda item: item[1]), steps=steps,
                sort_options=[("faellig", _("Fälligkeit")), ("prioritaet", _("Priorität")),
                              ("erstellt", _("Neueste zuerst"))], hidden_follow_ups=hidden)


def _row_view(row: Any, now: datetime, people: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    return {"id": row.id, "name": row.name or row.task_definition_key, "business_key": row.business_key,
            "person": people.get(row.instance_id), "process_name": names.get(row.definition_key, row.definition_key),
            "due_at": row.due_at, "overdue": row.due_at is not None and row.due_at < now, "priority": row.priority,
            "assignee": row.assignee, "follow_up_at": row.follow_up_at,
            "follow_up_future": row.follow_up_at is not None and row.follow_up_at > now, "instance_id": row.instance_id}


def _process_names(ctx: Ctx) -> dict[str, str]:
    """Names of the processes whose cases the user may see (for filters and lists)."""
    model = schema.ProcessDefinition
    query = sa.select(model.key, model.name, model.version).order_by(model.key, model.version)
    if not ctx.actor.sees_everything:
        groups = sa.select(access.PDG.definition_id).where(access.PDG.group_id.in_(sorted(ctx.actor.groups)))
        query = query.where(model.id.in_(groups))
    return {key: name or key for key, name, _version in ctx.session.execute(query)}


def _steps(ctx: Ctx, definition_key: str) -> list[tuple[str, str]]:
    table = human_tasks.TABLE
    query = (sa.select(table.c.task_definition_key, sa.func.max(table.c.name)).where(
        table.c.definition_key == definition_key).group_by(table.c.task_definition_key))
    return sorted(((key, name or key) for key, name in ctx.session.execute(query)), key=lambda item: item[1])


def _back(default: str) -> str:
    target = request.form.get("zurueck") or default
    return target if target.startswith("/") and not target.startswith("//") else default


@web.route("/aufgaben/<task_id>/uebernehmen", methods=["POST"])
@case_role_required
def claim(task_id: str) -> Any:
    with command() as ctx:
        task = human_tasks.claim(ctx, task_id)
        flash(_("Sie bearbeiten jetzt „%(name)s“.", name=task.name or task.task_definition_key), "success")
    return redirect(_back(url_for("web.task", task_id=task_id)))


@web.route("/aufgaben/<task_id>/zurueckgeben", methods=["POST"])
@case_role_required
def unclaim(task_id: str) -> Any:
    with command() as ctx:
        task = human_tasks.unclaim(ctx, task_id)
        flash(_("„%(name)s“ ist wieder für die Gruppe frei.", name=task.name or task.task_definition_key), "success")
    return redirect(_back(url_for("web.inbox")))


@web.route("/benachrichtigungen", endpoint="notifications")
@login_required
def notifications_page() -> Any:
    with command() as ctx:
        notices = notifications.for_user(ctx, g.user.id, limit=100)
    return page("web/notifications.html", section="notifications", notices=notices)


@web.route("/benachrichtigungen/gelesen", methods=["POST"])
@login_required
def notifications_read() -> Any:
    with command() as ctx:
        notifications.mark_read(ctx, g.user.id)
    return redirect(url_for("web.notifications"))
