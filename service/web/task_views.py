"""The task page: case header, the task's form rendered on the server, draft, completion, comments.

A submission is validated by the form's own schema (workflows.forms); errors appear beside the fields in the
user's language and what they typed stays. A second completion of the same task (another caseworker, a
double click, an old tab) gets a plain message and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, g, jsonify, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from service.web import formview
from service.web.blueprint import web
from service.web.common import case_role_required, command, page
from service.web.errors import Missing
from workflows import audit, comments, forms, human_tasks, instances, schema
from workflows.context import Ctx
from workflows.errors import ConflictError, NotFoundError


def head_of(ctx: Ctx, task: schema.HumanTask | None, instance: Any, now: datetime) -> dict[str, Any]:
    """The case header: who, which procedure, which step, by when, who works on it."""
    definition = ctx.session.get(schema.ProcessDefinition, instance.definition_id)
    people = human_tasks.people_of(ctx, [instance.id])
    head = {"business_key": instance.business_key, "person": people.get(instance.id),
            "process_name": (definition.name if definition else None) or instance.definition_key}
    if task is not None:
        head.update(step=task.name, due_at=task.due_at, overdue=bool(task.due_at and task.due_at < now),
                    assignee=task.assignee)
    else:
        head["state"] = instance.state
    return head


def _open_task(ctx: Ctx, task_id: str) -> schema.HumanTask:
    task = human_tasks.get(ctx, task_id)
    if task is None:
        raise Missing()
    return task


def _may_work(task: schema.HumanTask) -> tuple[bool, str]:
    """Camunda's rule: claim first. Supervisors may work tasks held by others."""
    if task.assignee == g.user.id:
        return True, ""
    if task.assignee is None:
        return False, _("Übernehmen Sie die Aufgabe, um sie zu bearbeiten.")
    if g.user.actor.role in ("supervisor", "admin"):
        return True, ""
    return False, _("Diese Aufgabe bearbeitet %(name)s.", name=task.assignee)


def _render(ctx: Ctx, task: schema.HumanTask, *, shown: dict[str, Any] | None = None,
            errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    now = ctx.now()
    instance = instances.get(ctx, task.instance_id)
    if instance is None:
        raise Missing()
    form = human_tasks.form_for(ctx, task)
    variables = instances.get_variables(ctx, task.instance_id) or {}
    if shown is None:
        shown = formview.initial_values(form, variables=variables, draft=task.draft) if form else {}
    context = {**variables, **_top_level(shown)}
    widgets = formview.widgets(form, shown=shown, errors=errors or {}, context=context) if form else []
    fields = list(forms.input_fields(form)) if form else []
    may_complete, hint = _may_work(task)
    return page("web/task.html", section="inbox", task=task, head=head_of(ctx, task, instance, now),
                widgets=widgets, errors=errors or {}, form_title=_form_title(form),
                field_ids={f.name: formview._html_id(f.id or f.name) for f in fields},
                field_labels={f.name: f.label or f.name for f in fields}, may_complete=may_complete, hint=hint,
                has_conditions=any(not isinstance(f.hide, bool) for f in _components(form)) if form else False,
                comments=comments.for_task(ctx, task.id), revision=task.created_at.isoformat()), status


def _form_title(form: forms.FormDefinition | None) -> str:
    """The form's own title, unless it has none (then the parser fell back to its technical id)."""
    if form is None or not form.title or form.title == form.key:
        return str(_("Bearbeitung"))
    return form.title


def _top_level(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if "." not in name}


def _components(form: forms.FormDefinition) -> list[forms.Component]:
    found: list[forms.Component] = []
    stack = list(form.components)
    while stack:
        component = stack.pop()
        found.append(component)
        if isinstance(component, forms.Group):
            stack.extend(component.components)
    return found


@web.route("/aufgaben/<task_id>", methods=["GET"])
@case_role_required
def task(task_id: str) -> Any:
    with command() as ctx:
        return _render(ctx, _open_task(ctx, task_id))


@web.route("/aufgaben/<task_id>", methods=["POST"])
@case_role_required
def task_submit(task_id: str) -> Any:
    action = request.form.get("aktion", "abschliessen")
    if action == "zurueckgeben":
        with command() as ctx:
            human_tasks.unclaim(ctx, task_id)
        flash(_("Die Aufgabe ist wieder für die Gruppe frei."), "success")
        return redirect(url_for("web.inbox"))
    try:
        with command() as ctx:
            current = human_tasks.get(ctx, task_id)
            if current is None:
                return _already_done(ctx, task_id)
            if action == "entwurf":
                return _save_draft(ctx, current)
            return _complete(ctx, current)
    except (ConflictError, NotFoundError):
        with command() as ctx:
            return _already_done(ctx, task_id)


def _save_draft(ctx: Ctx, task: schema.HumanTask) -> Any:
    form = human_tasks.form_for(ctx, task)
    values = formview.submitted_values(form, request.form) if form else {}
    human_tasks.save_draft(ctx, task.id, values)
    flash(_("Entwurf gespeichert."), "success")
    return redirect(url_for("web.task", task_id=task.id))


def _complete(ctx: Ctx, task: schema.HumanTask) -> Any:
    may, hint = _may_work(task)
    if not may:
        flash(hint, "error")
        return redirect(url_for("web.task", task_id=task.id))
    name = task.name or task.task_definition_key
    outcome = human_tasks.submit(ctx, task.id, request.form, locale=str(get_locale()))
    if outcome.errors:  # nothing was applied
        form = human_tasks.form_for(ctx, task)
        shown = formview.submitted_values(form, request.form) if form else {}
        return _render(ctx, task, shown=shown, errors=outcome.errors, status=422)
    flash(_("„%(name)s“ ist erledigt.", name=name), "success")
    for next_id in outcome.next_task_ids:
        follower = human_tasks.get(ctx, next_id)
        if follower is not None:
            flash(_("Nächster Schritt: %(name)s", name=follower.name or follower.task_definition_key), "success")
            return redirect(url_for("web.task", task_id=next_id))
    return redirect(url_for("web.inbox"))


def _already_done(ctx: Ctx, task_id: str) -> Any:
    finished = next(iter(audit.query(ctx, kinds=["task_completed"], task_id=task_id, limit=1)), None)
    message = (_("Diese Aufgabe wurde bereits von %(who)s abgeschlossen. Ihre Eingaben wurden nicht übernommen.",
                 who=finished.actor or _("jemand anderem")) if finished else
               _("Diese Aufgabe gibt es nicht mehr, oder Sie dürfen sie nicht sehen."))
    return page("web/error.html", title=_("Schon erledigt"), message=message), 409


@web.route("/aufgaben/<task_id>/sichtbarkeit", methods=["POST"])
@case_role_required
def task_conditions(task_id: str) -> Any:
    """Progressive enhancement: which parts the current values hide (the server evaluates the conditions)."""
    with command() as ctx:
        task = _open_task(ctx, task_id)
        form = human_tasks.form_for(ctx, task)
        if form is None:
            return jsonify(hidden=[])
        variables = instances.get_variables(ctx, task.instance_id) or {}
        shown = formview.submitted_values(form, request.form)
        widgets = formview.widgets(form, shown=shown, errors={}, context={**variables, **_top_level(shown)})
        return jsonify(hidden=[w.id for w in _flatten(widgets) if w.hidden])


def _flatten(widgets: list[formview.Widget]) -> list[formview.Widget]:
    found: list[formview.Widget] = []
    for widget in widgets:
        found.append(widget)
        found.extend(_flatten(widget.children))
    return found


@web.route("/aufgaben/<task_id>/kommentar", methods=["POST"])
@case_role_required
def task_comment(task_id: str) -> Any:
    with command() as ctx:
        task = _open_task(ctx, task_id)
        comments.add(ctx, request.form.get("kommentar", ""), instance_id=task.instance_id, task_id=task.id)
    flash(_("Kommentar gespeichert."), "success")
    return redirect(url_for("web.task", task_id=task_id))
