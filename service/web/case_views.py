"""The case file (Fallakte), the case list, documents, case comments, and starting a new procedure.

A case file shows one procedure and the person's other procedures the user may see (same Aktenzeichen, called
and calling procedures, procedures a referral started): their current steps, the history from the audit trail,
the data, documents and comments. Nothing of a procedure outside the user's groups appears (workflows.access).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, flash, jsonify, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from service.web import formview, timeline
from service.web.blueprint import web
from service.web.common import case_role_required, command, datum, page
from service.web.errors import Missing
from service.web.task_views import head_of
from workflows import access, audit, comments, definitions, documents, forms, human_tasks, instances, schema
from workflows.context import Ctx
from workflows.errors import InvalidInputError

REFERRAL_VARIABLES = ("fm_aktenzeichen",)  # a referred procedure names the case it came from


def _visible_instance(ctx: Ctx, instance_id: str) -> instances.InstanceView:
    instance = instances.get(ctx, instance_id)
    if instance is None or not access.may_see_instance(ctx, instance):
        raise Missing()
    return instance


@web.route("/faelle")
@case_role_required
def cases() -> Any:
    q = request.args.get("q", "").strip()[:100]
    finished = request.args.get("beendet") == "1"
    with command() as ctx:
        rows = _search(ctx, q, finished)
        people = human_tasks.people_of(ctx, [r.id for r in rows])
        names = _names(ctx, {r.definition_id for r in rows})
        found = [{"id": r.id, "business_key": r.business_key, "person": people.get(r.id), "state": _state(r.state),
                  "process_name": names.get(r.definition_id, r.definition_key), "started_at": r.started_at}
                 for r in rows]
    return page("web/cases.html", section="cases", cases=found, q=q, finished=finished)


def _search(ctx: Ctx, q: str, finished: bool) -> list[Any]:
    table = schema.table(schema.ProcessInstance)
    query = sa.select(table.c.id, table.c.business_key, table.c.definition_id, table.c.definition_key,
                      table.c.state, table.c.started_at)
    condition = access.instance_filter(ctx)
    if condition is not None:
        query = query.where(condition)
    if not finished:
        query = query.where(table.c.state.in_(("active", "suspended")))
    if q:
        variable = schema.table(schema.ProcessVariable)
        people = sa.select(variable.c.instance_id).where(variable.c.name == human_tasks.PERSON_VARIABLE,
                                                         variable.c.text_value.ilike(f"%{q}%"))
        query = query.where(sa.or_(table.c.business_key.ilike(f"%{q}%"), table.c.id.in_(people)))
    return list(ctx.session.execute(query.order_by(table.c.started_at.desc()).limit(100)))


def _names(ctx: Ctx, definition_ids: set[str]) -> dict[str, str]:
    if not definition_ids:
        return {}
    model = schema.ProcessDefinition
    rows = ctx.session.execute(sa.select(model.id, model.name, model.key).where(model.id.in_(definition_ids)))
    return {id_: name or key for id_, name, key in rows}


def _state(value: str) -> str:
    return {"active": _("läuft"), "suspended": _("angehalten"), "completed": _("abgeschlossen"),
            "terminated": _("beendet")}.get(value, value)


@web.route("/faelle/<instance_id>")
@case_role_required
def case(instance_id: str) -> Any:
    with command() as ctx:
        instance = _visible_instance(ctx, instance_id)
        head = head_of(ctx, None, instance, ctx.now())
        head["state"] = _state(instance.state)
        related = _related(ctx, instance)
        procedures = [_procedure(ctx, other) for other in related]
        events = audit.for_instance(ctx, instance_id, limit=2000)
        values = instances.get_variables(ctx, instance_id) or {}
        return page("web/case.html", section="cases", instance_id=instance_id, head=head, procedures=procedures,
                    timeline=timeline.entries(events), data=[(k, _shown(v)) for k, v in sorted(values.items())],
                    documents=documents.for_instance(ctx, instance_id),
                    comments=comments.for_instance(ctx, instance_id),
                    max_mb=ctx.settings.max_document_bytes // 1_000_000)


def _related(ctx: Ctx, instance: instances.InstanceView) -> list[instances.InstanceView]:
    """This procedure first, then the person's other procedures the user may see."""
    table = schema.table(schema.ProcessInstance)
    conditions = [table.c.super_instance_id == instance.id]
    if instance.super_instance_id:
        conditions.append(table.c.id == instance.super_instance_id)
    if instance.business_key:
        conditions.append(table.c.business_key == instance.business_key)
        variable = schema.table(schema.ProcessVariable)
        conditions.append(table.c.id.in_(sa.select(variable.c.instance_id).where(
            variable.c.name.in_(REFERRAL_VARIABLES), variable.c.text_value == instance.business_key)))
    query = sa.select(table).where(sa.or_(*conditions), table.c.id != instance.id)
    visible = access.instance_filter(ctx)
    if visible is not None:
        query = query.where(visible)
    others = [instances.view(row) for row in ctx.session.execute(query.order_by(table.c.started_at).limit(50))]
    return [instance, *others]


def _procedure(ctx: Ctx, instance: instances.InstanceView) -> dict[str, Any]:
    tasks = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance.id), limit=20)
    names = _names(ctx, {instance.definition_id})
    return {"id": instance.id, "process_name": names.get(instance.definition_id, instance.definition_key),
            "state": _state(instance.state), "started_at": instance.started_at, "tasks": tasks}


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    if isinstance(value, datetime | date):
        return datum(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:500]
    return str(value)[:500]


# --- documents and comments --------------------------------------------------------------------------------


@web.route("/faelle/<instance_id>/dokumente", methods=["POST"])
@case_role_required
def upload(instance_id: str) -> Any:
    upload_file = request.files.get("datei")
    if upload_file is None or not upload_file.filename:
        flash(_("Bitte wählen Sie eine Datei aus."), "error")
        return redirect(url_for("web.case", instance_id=instance_id))
    content = upload_file.stream.read(_limit() + 1)
    try:
        with command() as ctx:
            _visible_instance(ctx, instance_id)
            stored = documents.store(ctx, instance_id=instance_id, filename=upload_file.filename, content=content)
            flash(_("„%(f)s“ wurde hochgeladen.", f=stored.filename), "success")
    except InvalidInputError as error:
        flash(_upload_message(str(error)), "error")
    return redirect(url_for("web.case", instance_id=instance_id))


def _limit() -> int:
    from service.web.common import runtime

    return runtime().settings.max_document_bytes


def _upload_message(reason: str) -> str:
    if "larger than" in reason:
        return _("Die Datei ist zu groß (höchstens %(mb)s MB).", mb=_limit() // 1_000_000)
    if "Only PDF" in reason:
        return _("Nur PDF-, PNG- und JPEG-Dateien können hochgeladen werden (geprüft wird der Inhalt, nicht der "
                 "Name).")
    if "empty" in reason:
        return _("Die Datei ist leer.")
    return reason


@web.route("/dokumente/<document_id>")
@case_role_required
def document(document_id: str) -> Any:
    with command() as ctx:
        found = documents.get(ctx, document_id)
        if found is None:
            raise Missing()
        _visible_instance(ctx, found.instance_id)
        content = documents.read(ctx, found)
    response = Response(content, mimetype=found.media_type)
    response.headers["Content-Disposition"] = _attachment(found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@web.route("/faelle/<instance_id>/kommentar", methods=["POST"])
@case_role_required
def case_comment(instance_id: str) -> Any:
    with command() as ctx:
        _visible_instance(ctx, instance_id)
        comments.add(ctx, request.form.get("kommentar", ""), instance_id=instance_id)
    flash(_("Kommentar gespeichert."), "success")
    return redirect(url_for("web.case", instance_id=instance_id))


# --- starting a procedure ----------------------------------------------------------------------------------


def _startable(ctx: Ctx) -> list[schema.ProcessDefinition]:
    model = schema.ProcessDefinition
    latest = sa.select(model.key, sa.func.max(model.version).label("version")).group_by(model.key).subquery()
    rows = ctx.session.scalars(sa.select(model).join(latest, sa.and_(model.key == latest.c.key,
                                                                      model.version == latest.c.version)))
    return [d for d in rows if not d.suspended and instances.may_start(ctx, d) and
            (d.candidate_starter_groups or d.candidate_starter_users or ctx.actor.sees_everything)]


@web.route("/vorgang")
@case_role_required
def start_list() -> Any:
    with command() as ctx:
        found = sorted(_startable(ctx), key=lambda d: d.name or d.key)
    return page("web/start_list.html", section="start", processes=found)


def _start_definition(ctx: Ctx, key: str) -> tuple[schema.ProcessDefinition, forms.FormDefinition | None]:
    definition = next((d for d in _startable(ctx) if d.key == key), None)
    if definition is None:
        raise Missing()
    form = definitions.resolve_form(ctx, definition.start_form or {}, definition.deployment_id) \
        if definition.start_form else None
    return definition, form


@web.route("/vorgang/<key>", methods=["GET", "POST"])
@case_role_required
def start(key: str) -> Any:
    with command() as ctx:
        definition, form = _start_definition(ctx, key)
        if request.method == "POST":
            clean, errors = _validated(ctx, form)
            if not errors:
                business_key = clean.get("aktenzeichen") if isinstance(clean.get("aktenzeichen"), str) else None
                started = instances.start(ctx, key=key, business_key=business_key, variables_in=clean)
                flash(_("„%(name)s“ wurde begonnen.", name=definition.name or key), "success")
                target = next(iter(started.open_task_ids), None)
                return redirect(url_for("web.task", task_id=target) if target and human_tasks.get(ctx, target)
                                else url_for("web.case", instance_id=started.id))
            shown = formview.submitted_values(form, request.form) if form else {}
        else:
            errors, shown = {}, (formview.initial_values(form, variables={}, draft=None) if form else {})
        widgets = formview.widgets(form, shown=shown, errors=errors, context=shown) if form else []
        fields = list(forms.input_fields(form)) if form else []
        return page("web/start.html", section="start", key=key, process_name=definition.name or key,
                    widgets=widgets, errors=errors, has_conditions=bool(form),
                    field_ids={f.name: formview._html_id(f.id or f.name) for f in fields},
                    field_labels={f.name: f.label or f.name for f in fields}), 422 if errors else 200


def _validated(ctx: Ctx, form: forms.FormDefinition | None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    if form is None:
        return {}, {}
    today = ctx.now().astimezone(ZoneInfo(ctx.settings.timezone)).date()
    return forms.validate_submission(form, request.form, locale=str(get_locale()), variables={}, today=today)


@web.route("/vorgang/<key>/sichtbarkeit", methods=["POST"])
@case_role_required
def start_conditions(key: str) -> Any:
    with command() as ctx:
        _definition, form = _start_definition(ctx, key)
    if form is None:
        return jsonify(hidden=[])
    shown = formview.submitted_values(form, request.form)
    widgets = formview.widgets(form, shown=shown, errors={}, context=shown)
    hidden: list[str] = []
    stack = list(widgets)
    while stack:
        widget = stack.pop()
        if widget.hidden:
            hidden.append(widget.id)
        stack.extend(widget.children)
    return jsonify(hidden=hidden)

