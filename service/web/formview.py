"""What a form page shows, derived from the form model: one widget per component, with the value to show, the
errors beside it, and whether its condition hides it now. The templates only lay the widgets out.

The value shown is what the user typed (after a failed submission), else the saved draft, else the process
variable of the same name, else the form's default: nothing a caseworker typed is ever lost to an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflows import forms
from workflows.forms import Component, Field, FormDefinition, Group, Static

INPUT_TYPES = {"textfield": "text", "number": "text", "datetime": "date"}
DATE_INPUTS = {"date": "date", "time": "time", "datetime": "datetime-local"}


@dataclass
class Widget:
    kind: str  # text | textarea | number | checkbox | choices | select | date | group | static | separator | spacer
    id: str
    name: str = ""
    label: str | None = None
    description: str | None = None
    required: bool = False
    readonly: bool = False
    hidden: bool = False
    value: Any = None
    values: Sequence[Any] = ()
    options: list[tuple[str, str]] = field(default_factory=list)
    multiple: bool = False
    errors: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[Widget] = field(default_factory=list)
    text: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    columns: int | None = None

    @property
    def described_by(self) -> str:
        ids = [f"{self.id}-hilfe"] if self.description else []
        return " ".join(ids + ([f"{self.id}-fehler"] if self.errors else []))


def widgets(form: FormDefinition, *, shown: Mapping[str, Any], errors: Mapping[str, Sequence[str]],
            context: Mapping[str, Any]) -> list[Widget]:
    """Widgets for the whole form; `shown` maps input names to displayed values, `context` feeds conditions."""
    return [_widget(component, shown, errors, context, parent_hidden=False) for component in form.components]


def _widget(component: Component, shown: Mapping[str, Any], errors: Mapping[str, Sequence[str]],
            context: Mapping[str, Any], *, parent_hidden: bool) -> Widget:
    hidden = parent_hidden or forms.is_hidden(component, context)
    if isinstance(component, Group):
        return _group(component, shown, errors, context, hidden)
    if isinstance(component, Static):
        return Widget(kind=component.type if component.type in ("separator", "spacer") else "static",
                      id=_html_id(component.id), text=component.text, label=component.label, hidden=hidden,
                      attributes={"height": component.height} if component.height else {})
    assert isinstance(component, Field)
    return _field(component, shown, errors, context, hidden)


def _group(group: Group, shown: Mapping[str, Any], errors: Mapping[str, Sequence[str]],
           context: Mapping[str, Any], hidden: bool) -> Widget:
    children = [_widget(child, shown, errors, context, parent_hidden=hidden) for child in group.components]
    return Widget(kind="group", id=_html_id(group.id), label=group.label, description=group.description,
                  hidden=hidden, children=children)


def _field(spec: Field, shown: Mapping[str, Any], errors: Mapping[str, Sequence[str]],
           context: Mapping[str, Any], hidden: bool) -> Widget:
    rules = spec.validation
    widget = Widget(kind=_kind(spec), id=_html_id(spec.id or spec.name), name=spec.name, label=spec.label,
                    description=spec.description, required=rules.required, hidden=hidden,
                    readonly=forms.is_readonly(spec, context), errors=list(errors.get(spec.name, ())),
                    prefix=spec.prefix, suffix=spec.suffix, columns=spec.layout.columns, multiple=spec.multiple)
    value = shown.get(spec.name)
    if spec.multiple:
        widget.values = [str(v) for v in (value if isinstance(value, list | tuple) else [value] if value else [])]
    else:
        widget.value = _display(value, spec)
    widget.options = [(str(option.value), option.label) for option in spec.options] or \
        _dynamic_options(spec, context)
    widget.attributes = _attributes(spec)
    return widget


def _kind(spec: Field) -> str:
    if spec.type in ("checklist", "taglist", "radio"):
        return "choices"
    if spec.type == "datetime":
        return "date"
    return {"textfield": "text"}.get(spec.type, spec.type)


def _attributes(spec: Field) -> dict[str, Any]:
    rules = spec.validation
    found: dict[str, Any] = {}
    if spec.type == "textfield":
        found["type"] = {"email": "email", "phone": "tel"}.get(rules.validation_type or "", "text")
    if spec.type in ("textfield", "textarea"):
        found.update({k: v for k, v in (("minlength", rules.min_length), ("maxlength", rules.max_length)) if v})
    if spec.type == "number":
        found["inputmode"] = "numeric" if spec.decimal_digits == 0 else "decimal"
    if spec.type == "datetime":
        found["type"] = DATE_INPUTS.get(spec.subtype or "date", "date")
    if spec.type in {"checklist", "taglist"}:
        found["input"] = "checkbox"
    if spec.type == "radio":
        found["input"] = "radio"
    return found


def _dynamic_options(spec: Field, context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Options from a variable (`valuesKey`): a list of {label, value} or of plain values."""
    source = context.get(spec.values_key) if spec.values_key else None
    if not isinstance(source, list):
        return []
    options = []
    for item in source:
        if isinstance(item, Mapping):
            options.append((str(item.get("value")), str(item.get("label", item.get("value")))))
        else:
            options.append((str(item), str(item)))
    return options


def _display(value: Any, spec: Field) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")[:16]
    if isinstance(value, date):
        return value.isoformat()
    if spec.type == "number" and isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return value


def _html_id(raw: str) -> str:
    return "feld-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in raw)


def initial_values(form: FormDefinition, *, variables: Mapping[str, Any],
                   draft: Mapping[str, Any] | None) -> dict[str, Any]:
    """What an untouched form shows: the draft, else the variable of the same name, else the default."""
    values: dict[str, Any] = {}
    for spec in forms.input_fields(form):
        if spec.list_path:
            continue  # dynamic list items are shown from their list value
        found = _lookup(draft or {}, spec.data_path)
        if found is None:
            found = _lookup(variables, spec.data_path)
        value = spec.default if found is None else found
        values[spec.name] = bool(value) if spec.type == "checkbox" else value  # unticked is false, not unknown
    return values


def _lookup(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    current: Any = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def submitted_values(form: FormDefinition, raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the user sent, by input name (lists for multi-value fields), to show again after an error."""
    values: dict[str, Any] = {}
    getlist = getattr(raw, "getlist", None)
    for spec in forms.input_fields(form):
        if spec.multiple and getlist is not None:
            values[spec.name] = getlist(spec.name)
        elif spec.type == "checkbox":
            values[spec.name] = spec.name in raw
        else:
            values[spec.name] = raw.get(spec.name)
    return values
