"""Task and start forms: Camunda Forms (form-js JSON) and camunda:formData, read into one small model.

A form is parsed and checked once, at deploy time, and every problem is reported at once. The model keeps what
a server-side renderer needs (labels, options, layout, adornments, conditions), so nothing re-reads the JSON.
Each submission is coerced and validated by a marshmallow schema built from the model, with messages in German
(English as the second locale). Fields hidden by their condition are neither required nor stored; read-only
and disabled fields are never taken from a submission; keys the form does not name are dropped.

Conditions (`conditional.hide`, `readonly`, `disabled`, `valuesExpression`) are FEEL, evaluated by
workflows.feel in the sandbox; nothing from a form file is ever evaluated as Python. Regular expressions run
only on input capped at MAX_INPUT_CHARS.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

import marshmallow as ma

from workflows.errors import DeploymentError, ExpressionError, Problem

MAX_FORM_BYTES = 1_000_000
MAX_NESTING = 8
MAX_COMPONENTS = 500
MAX_INPUT_CHARS = 20_000
MAX_LIST_ITEMS = 200

INPUT_TYPES = frozenset({"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "datetime",
                         "taglist"})
CHOICE_TYPES = frozenset({"radio", "select"})
MULTI_TYPES = frozenset({"checklist", "taglist"})
STATIC_TYPES = frozenset({"text", "separator", "spacer", "button"})
CONTAINER_TYPES = frozenset({"group", "dynamiclist"})
UNSUPPORTED_TYPES = frozenset({"image", "html", "multipage", "page", "table", "iframe", "expression", "filepicker",
                               "documentPreview"})

_KEY = re.compile(r"\w+(?:\.\w+)*", re.ASCII)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"(?:\+|00)?[0-9][0-9 ()/.\-]{4,24}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SLASHED_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")

Condition = bool | str
"""A fixed flag, or a FEEL expression (as written, a leading `=` allowed) evaluated against the form's data."""


# --- the model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Layout:
    row: str | None = None
    columns: int | None = None


@dataclass(frozen=True)
class Validation:
    required: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    validation_type: str | None = None  # email | phone


@dataclass(frozen=True, kw_only=True)
class Component:
    """What every form element has; `hide` is its `conditional.hide`."""

    type: str
    id: str
    label: str | None = None
    description: str | None = None
    hide: Condition = False
    layout: Layout = field(default_factory=Layout)
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Field(Component):
    """An element that takes input; `data_path` is where its value lives (relative to a dynamic list's item)."""

    key: str
    data_path: tuple[str, ...]
    list_path: tuple[str, ...] | None = None
    default: Any = None
    readonly: Condition = False
    disabled: Condition = False
    validation: Validation = field(default_factory=Validation)
    options: tuple[Option, ...] = ()
    values_key: str | None = None
    values_expression: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    decimal_digits: int | None = None
    increment: float | None = None
    serialize_to_string: bool = False
    subtype: str | None = None  # datetime: date | time | datetime
    date_label: str | None = None
    time_label: str | None = None
    use24h: bool = False
    time_serializing_format: str | None = None
    time_interval: int | None = None
    disallow_passed_dates: bool = False
    searchable: bool = False

    @property
    def name(self) -> str:
        """The input's name in an HTML form and the key of its errors (`adresse.ort`)."""
        return ".".join(self.data_path)

    @property
    def variable(self) -> str:
        """The process variable the value is stored in (the first segment of its path)."""
        return (self.list_path or self.data_path)[0]

    @property
    def multiple(self) -> bool:
        return self.type in MULTI_TYPES


@dataclass(frozen=True, kw_only=True)
class Group(Component):
    """A group (children share a path prefix when `path` is set) or a dynamic list (a list of such items)."""

    components: tuple[Component, ...] = ()
    path: str | None = None
    data_path: tuple[str, ...] = ()
    show_outline: bool = False
    vertical_alignment: str | None = None
    is_repeating: bool = False
    default_repetitions: int | None = None
    allow_add_remove: bool = False
    non_collapsed_items: int | None = None
    disable_collapse: bool = False

    @property
    def name(self) -> str:
        return ".".join(self.data_path)


@dataclass(frozen=True, kw_only=True)
class Static(Component):
    """Text (markdown), separator, spacer or button: shown, never submitted."""

    text: str | None = None
    height: int | None = None
    action: str | None = None


@dataclass(frozen=True)
class FormDefinition:
    key: str
    title: str
    components: tuple[Component, ...]
    schema_version: int | None
    source_name: str


def input_fields(form: FormDefinition) -> Iterator[Field]:
    """Every field that takes input, in document order, including those in groups and dynamic lists."""
    yield from _fields_in(form.components)


def _fields_in(components: Iterable[Component]) -> Iterator[Field]:
    for component in components:
        if isinstance(component, Field):
            yield component
        elif isinstance(component, Group):
            yield from _fields_in(component.components)


def _units(components: Iterable[Component]) -> Iterator[Field | Group]:
    """Fields and dynamic lists as the schema sees them: plain groups opened, dynamic lists kept whole."""
    for component in components:
        if isinstance(component, Group) and component.type == "group":
            yield from _units(component.components)
        elif isinstance(component, Field | Group):
            yield component


# --- conditions --------------------------------------------------------------------------------------------


def is_hidden(component: Component, data: Mapping[str, Any]) -> bool:
    """Whether the component's hide condition holds; a condition that fails counts as not hidden."""
    return _holds(component.hide, data, on_error=False)


def is_readonly(spec: Field, data: Mapping[str, Any]) -> bool:
    """Whether the field is read-only or disabled; a condition that fails counts as read-only."""
    return _holds(spec.readonly, data, on_error=True) or _holds(spec.disabled, data, on_error=True)


def _holds(condition: Condition, data: Mapping[str, Any], *, on_error: bool) -> bool:
    if isinstance(condition, bool):
        return condition
    try:
        return _compiled(condition).evaluate(data) is True
    except ExpressionError:
        return on_error


def _compiled(text: str) -> Any:
    from workflows import feel

    return feel.compile_expression(text)


def _evaluate(text: str, data: Mapping[str, Any]) -> Any:
    try:
        return _compiled(text).evaluate(data)
    except ExpressionError:
        return None


# --- reading form-js JSON ----------------------------------------------------------------------------------


def parse_form_js(content: bytes | str, name: str) -> FormDefinition:
    """Read a Camunda Forms file; raises DeploymentError listing every problem found."""
    document = _load_document(content, name)
    builder = _Builder(name)
    key = document.get("id")
    if not isinstance(key, str) or not key.strip():
        builder.problem("The form has no id; Camunda Modeler writes one (Form ID in the properties panel).")
        key = ""
    components = builder.components(document.get("components", []), _Scope(names={}))
    builder.check_prefixes()
    if builder.problems:
        raise DeploymentError(builder.problems)
    version = document.get("schemaVersion")
    return FormDefinition(key=key, title=_title(document, components, key), components=components,
                          schema_version=version if isinstance(version, int) else None, source_name=name)


def _load_document(content: bytes | str, name: str) -> dict[str, Any]:
    def refuse(message: str, line: int | None = None) -> DeploymentError:
        return DeploymentError([Problem(name, message, line=line)])

    if len(content) > MAX_FORM_BYTES:
        raise refuse(f"The form file is larger than {MAX_FORM_BYTES // 1000} kB; a form is far smaller.")
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        document = json.loads(text)
    except RecursionError:
        raise refuse("The form file is nested too deeply to be a form.") from None
    except json.JSONDecodeError as exc:
        raise refuse(f"The form file is not valid JSON: {exc.msg} (column {exc.colno}).", exc.lineno) from None
    except ValueError as exc:
        raise refuse(f"The form file is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise refuse("The form file must hold a JSON object with 'id' and 'components'.")
    return document


def _title(document: Mapping[str, Any], components: Sequence[Component], key: str) -> str:
    """An explicit title or name, else the first markdown heading of a text component, else the form's id."""
    for candidate in (document.get("title"), document.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    for component in components:
        heading = _heading(component.text) if isinstance(component, Static) and component.text else None
        if heading:
            return heading
    return key


def _heading(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip() or None
    return None


@dataclass(frozen=True)
class _Scope:
    """Where components being read sit: data path prefix, nesting depth, enclosing dynamic list, names taken."""

    names: dict[str, str]
    data_path: tuple[str, ...] = ()
    depth: int = 0
    list_path: tuple[str, ...] | None = None


class _Builder:
    """Reads components into the model and collects problems instead of stopping at the first one."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.count = 0
        self.ids: dict[str, str] = {}
        self.scopes: list[dict[str, str]] = []

    def problem(self, message: str, element: str | None = None) -> None:
        self.problems.append(Problem(self.source, message, element=element))

    def components(self, raw: Any, scope: _Scope) -> tuple[Component, ...]:
        if not any(names is scope.names for names in self.scopes):
            self.scopes.append(scope.names)
        if not isinstance(raw, list):
            self.problem("'components' must be a list.")
            return ()
        if scope.depth > MAX_NESTING:
            self.problem(f"Groups are nested more than {MAX_NESTING} levels deep.")
            return ()
        built = [self.component(item, index, scope) for index, item in enumerate(raw)]
        return tuple(c for c in built if c is not None)

    def component(self, raw: Any, index: int, scope: _Scope) -> Component | None:
        self.count += 1
        if self.count > MAX_COMPONENTS:
            if self.count == MAX_COMPONENTS + 1:
                self.problem(f"The form has more than {MAX_COMPONENTS} components.")
            return None
        if not isinstance(raw, dict):
            self.problem(f"Component {index} is not a JSON object.", f"components[{index}]")
            return None
        where, kind = _where(raw, index), raw.get("type")
        make = _MAKERS.get(kind) if isinstance(kind, str) else None
        if make is None:
            self.problem(_type_message(kind), where)
            return None
        self.claim_id(raw, where)
        return make(self, raw, where, scope)

    def claim_id(self, raw: Mapping[str, Any], where: str) -> None:
        component_id = raw.get("id")
        if not isinstance(component_id, str):
            return
        if component_id in self.ids:
            self.problem(f"The id {component_id!r} is used by more than one component.", where)
        self.ids[component_id] = where

    def claim_name(self, name: str, where: str, scope: _Scope) -> None:
        if name in scope.names:
            self.problem(f"The key {name!r} is used by more than one field (also by {scope.names[name]}).", where)
        else:
            scope.names[name] = where

    def check_prefixes(self) -> None:
        """A field `adresse` and a field `adresse.ort` cannot both hold a value."""
        for names in self.scopes:
            for name, where in names.items():
                parts = name.split(".")
                clashes = [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in names]
                for clash in clashes:
                    self.problem(f"The key {name!r} lies inside the value of the field {clash!r}.", where)

    def attributes(self, raw: Mapping[str, Any], where: str, table: _Table) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for json_name, attribute, convert in table:
            if raw.get(json_name) is None:
                continue
            try:
                values[attribute] = convert(raw[json_name])
            except ValueError as exc:
                self.problem(f"'{json_name}': {exc}", where)
        return values

    def common(self, raw: Mapping[str, Any], where: str, scope: _Scope) -> dict[str, Any]:
        values = self.attributes(raw, where, _COMMON_ATTRIBUTES)
        conditional = raw.get("conditional")
        if isinstance(conditional, dict) and conditional.get("hide") not in (None, "", False):
            values.update(self.attributes(conditional, where, (("hide", "hide", _condition),)))
        layout = raw.get("layout")
        if isinstance(layout, dict):
            values["layout"] = Layout(**self.attributes(layout, where, _LAYOUT_ATTRIBUTES))
        if scope.list_path is not None and isinstance(values.get("hide"), str):
            self.problem("Conditions inside a dynamic list are not supported.", where)
        values["id"] = raw["id"] if isinstance(raw.get("id"), str) else where
        return values

    def validation(self, raw: Any, where: str) -> Validation:
        if raw is None:
            return Validation()
        if not isinstance(raw, dict):
            self.problem("'validate' must be an object.", where)
            return Validation()
        rules = Validation(**self.attributes(raw, where, _VALIDATION_ATTRIBUTES))
        for message in _contradictions(rules):
            self.problem(message, where)
        return rules

    def options(self, raw: Mapping[str, Any], where: str) -> tuple[Option, ...]:
        values = raw.get("values")
        if values is None:
            if not raw.get("valuesKey") and not raw.get("valuesExpression"):
                self.problem("A choice field needs options: static values, a valuesKey or a valuesExpression.",
                             where)
            return ()
        try:
            return _options(values)
        except ValueError as exc:
            self.problem(f"'values': {exc}", where)
            return ()


_Table = tuple[tuple[str, str, Callable[[Any], Any]], ...]


def _where(raw: Mapping[str, Any], index: int) -> str:
    for name in ("id", "key"):
        if isinstance(raw.get(name), str) and raw[name]:
            return str(raw[name])
    return f"components[{index}]"


def _type_message(kind: Any) -> str:
    if isinstance(kind, str) and kind in UNSUPPORTED_TYPES:
        return f"The component type {kind!r} is not supported by kimflow's forms."
    if kind is None:
        return "The component has no type."
    return f"Unknown component type {kind!r}."


def _make_field(builder: _Builder, raw: Mapping[str, Any], where: str, scope: _Scope) -> Field | None:
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        builder.problem(f"An input field needs a key of letters, digits and '_' (dots between parts), "
                        f"not {key!r}.", where)
        return None
    data_path = scope.data_path + tuple(key.split("."))
    builder.claim_name(".".join(data_path), where, scope)
    values = builder.common(raw, where, scope)
    values.update(builder.attributes(raw, where, _FIELD_ATTRIBUTES))
    if scope.list_path is not None and any(isinstance(values.get(n), str) for n in ("readonly", "disabled")):
        builder.problem("Conditions inside a dynamic list are not supported.", where)
    appearance = raw.get("appearance")
    if isinstance(appearance, dict):
        values.update(builder.attributes(appearance, where, _APPEARANCE_ATTRIBUTES))
    kind = str(raw["type"])
    if kind in CHOICE_TYPES | MULTI_TYPES:
        values["options"] = builder.options(raw, where)
    if kind == "datetime":
        values.setdefault("subtype", "date")
    return Field(type=kind, key=key, data_path=data_path, list_path=scope.list_path,
                 default=_default(raw.get("defaultValue")), validation=builder.validation(raw.get("validate"), where),
                 **values)


def _make_group(builder: _Builder, raw: Mapping[str, Any], where: str, scope: _Scope) -> Group:
    values = builder.common(raw, where, scope)
    values.update(builder.attributes(raw, where, _GROUP_ATTRIBUTES))
    segments = tuple(values["path"].split(".")) if values.get("path") else ()
    data_path = scope.data_path + segments
    if raw["type"] == "group":
        inner = _Scope(scope.names, data_path, scope.depth + 1, scope.list_path)
    else:
        _check_dynamic_list(builder, segments, where, scope)
        builder.claim_name(".".join(data_path), where, scope)
        inner = _Scope({}, (), scope.depth + 1, data_path)
    children = builder.components(raw.get("components", []), inner)
    return Group(type=str(raw["type"]), components=children, data_path=data_path, **values)


def _check_dynamic_list(builder: _Builder, segments: tuple[str, ...], where: str, scope: _Scope) -> None:
    if not segments:
        builder.problem("A dynamic list needs a path: the variable its items are stored in.", where)
    if scope.list_path is not None:
        builder.problem("A dynamic list inside a dynamic list is not supported.", where)


def _make_static(builder: _Builder, raw: Mapping[str, Any], where: str, scope: _Scope) -> Static:
    values = builder.common(raw, where, scope)
    values.update(builder.attributes(raw, where, _STATIC_ATTRIBUTES))
    return Static(type=str(raw["type"]), **values)


_MAKERS: dict[str, Callable[[_Builder, Mapping[str, Any], str, _Scope], Component | None]] = {
    **dict.fromkeys(INPUT_TYPES, _make_field),
    **dict.fromkeys(CONTAINER_TYPES, _make_group),
    **dict.fromkeys(STATIC_TYPES, _make_static),
}


# --- converters for attribute values (raise ValueError with the reason) ------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of at least 0, got {value!r}")
    return value


def _columns(value: Any) -> int:
    columns = _count(value)
    if not 1 <= columns <= 16:
        raise ValueError(f"expected 1 to 16 columns, got {value!r}")
    return columns


def _number(value: Any) -> float:
    if isinstance(value, str) and value.strip().startswith("="):
        raise ValueError("expressions are not supported here; enter a number")
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = _to_decimal(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    return int(number) if number == number.to_integral_value() else float(number)


def _positive(value: Any) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return number


def _feel(value: Any) -> str:
    source = _text(value).strip()
    try:
        _compiled(source)
    except ExpressionError as exc:
        raise ValueError(f"the expression {source!r} does not compile: {exc}") from None
    return source


def _condition(value: Any) -> Condition:
    return value if isinstance(value, bool) else _feel(value)


def _pattern(value: Any) -> str:
    pattern = _text(value)
    try:
        _regex(pattern)
    except re.error as exc:
        raise ValueError(f"the pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


def _validation_type(value: Any) -> str | None:
    if value in ("", "custom"):
        return None
    if value not in ("email", "phone"):
        raise ValueError(f"expected email or phone, got {value!r}")
    return str(value)


def _subtype(value: Any) -> str:
    if value not in ("date", "time", "datetime"):
        raise ValueError(f"expected date, time or datetime, got {value!r}")
    return str(value)


def _time_format(value: Any) -> str:
    if value not in ("utc_offset", "utc_normalized", "no_timezone"):
        raise ValueError(f"expected utc_offset, utc_normalized or no_timezone, got {value!r}")
    return str(value)


def _key_path(value: Any) -> str | None:
    path = _text(value)
    if path and not _KEY.fullmatch(path):
        raise ValueError(f"expected letters, digits and '_' (dots between parts), got {value!r}")
    return path or None


def _properties(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError("expected an object of names and values")
    return tuple((str(k), str(v)) for k, v in value.items())


def _options(values: Any) -> tuple[Option, ...]:
    if not isinstance(values, list):
        raise ValueError("expected a list of options")
    return tuple(_option(item) for item in values)


def _option(item: Any) -> Option:
    if not isinstance(item, dict) or not isinstance(item.get("value"), str | int | float):
        raise ValueError(f"an option needs a value, got {item!r}")
    label = item.get("label")
    return Option(str(item["value"]), str(label) if label is not None else str(item["value"]))


def _default(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return value if isinstance(value, str | bool | int | float) else None


def _contradictions(rules: Validation) -> Iterator[str]:
    if rules.min is not None and rules.max is not None and rules.min > rules.max:
        yield f"The minimum {rules.min} is larger than the maximum {rules.max}."
    if rules.min_length is not None and rules.max_length is not None and rules.min_length > rules.max_length:
        yield f"The minimum length {rules.min_length} is larger than the maximum length {rules.max_length}."


_COMMON_ATTRIBUTES: _Table = (("label", "label", _text), ("description", "description", _text),
                              ("properties", "properties", _properties))
_LAYOUT_ATTRIBUTES: _Table = (("row", "row", _text), ("columns", "columns", _columns))
_APPEARANCE_ATTRIBUTES: _Table = (("prefixAdorner", "prefix", _text), ("suffixAdorner", "suffix", _text))
_VALIDATION_ATTRIBUTES: _Table = (
    ("required", "required", _flag), ("min", "min", _number), ("max", "max", _number),
    ("minLength", "min_length", _count), ("maxLength", "max_length", _count), ("pattern", "pattern", _pattern),
    ("validationType", "validation_type", _validation_type),
)
_FIELD_ATTRIBUTES: _Table = (
    ("readonly", "readonly", _condition), ("disabled", "disabled", _condition),
    ("valuesKey", "values_key", _key_path), ("valuesExpression", "values_expression", _feel),
    ("decimalDigits", "decimal_digits", _count), ("increment", "increment", _positive),
    ("serializeToString", "serialize_to_string", _flag), ("subtype", "subtype", _subtype),
    ("dateLabel", "date_label", _text), ("timeLabel", "time_label", _text), ("use24h", "use24h", _flag),
    ("timeSerializingFormat", "time_serializing_format", _time_format), ("timeInterval", "time_interval", _count),
    ("disallowPassedDates", "disallow_passed_dates", _flag), ("searchable", "searchable", _flag),
)
_GROUP_ATTRIBUTES: _Table = (
    ("path", "path", _key_path), ("showOutline", "show_outline", _flag),
    ("verticalAlignment", "vertical_alignment", _text), ("isRepeating", "is_repeating", _flag),
    ("defaultRepetitions", "default_repetitions", _count), ("allowAddRemove", "allow_add_remove", _flag),
    ("nonCollapsedItems", "non_collapsed_items", _count), ("disableCollapse", "disable_collapse", _flag),
)
_STATIC_ATTRIBUTES: _Table = (("text", "text", _text), ("height", "height", _count), ("action", "action", _text))


# --- camunda:formData --------------------------------------------------------------------------------------

_FORM_DATA_TYPES = {"string": "textfield", "long": "number", "boolean": "checkbox", "date": "datetime",
                    "enum": "select"}
_CONSTRAINTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "required": ("required", lambda _config: True),
    "readonly": ("readonly", lambda _config: True),
    "minlength": ("min_length", _count),
    "maxlength": ("max_length", _count),
    "min": ("min", _number),
    "max": ("max", _number),
}


def form_from_form_data(fields: Sequence[Mapping[str, Any]], key: str = "formData") -> FormDefinition:
    """The model of a Camunda 7 generated form (camunda:formData), as workflows.engine.camunda reads it."""
    components = _without_clashes(_form_data_field(item) for item in fields if item.get("id"))
    return FormDefinition(key=key, title=key, components=components, schema_version=None, source_name="formData")


def _form_data_field(item: Mapping[str, Any]) -> Field:
    field_id = str(item["id"])
    camunda_type = item.get("type") or "string"
    kind = _FORM_DATA_TYPES.get(camunda_type, "textfield")
    constraints = _constraint_values(item.get("validation") or ())
    readonly = bool(constraints.pop("readonly", False))
    return Field(
        type=kind, id=field_id, key=field_id, data_path=tuple(field_id.split(".")), label=item.get("label") or field_id,
        default=_form_data_default(kind, item.get("defaultValue")), readonly=readonly,
        validation=Validation(**constraints),
        options=tuple(Option(str(value), str(label if label is not None else value))
                      for value, label in item.get("values") or ()),
        decimal_digits=0 if kind == "number" else None, subtype="date" if kind == "datetime" else None,
        properties=tuple((str(k), str(v)) for k, v in (item.get("properties") or {}).items()),
    )


def _without_clashes(candidates: Iterable[Field]) -> tuple[Field, ...]:
    """The first of fields whose values would overlap (`a` and `a.b`, or the same id twice); nothing is checked
    at deploy time for formData, so a clash must not break submissions."""
    kept: dict[str, Field] = {}
    for candidate in candidates:
        paths = {".".join(candidate.data_path[:i]) for i in range(1, len(candidate.data_path) + 1)}
        if not any(name in paths or name.startswith(candidate.name + ".") for name in kept):
            kept[candidate.name] = candidate
    return tuple(kept.values())


def _constraint_values(constraints: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """Known constraints; unparseable configs and custom Java `validator`s are left out."""
    values: dict[str, Any] = {}
    for name, config in constraints:
        attribute, convert = _CONSTRAINTS.get(str(name).lower(), ("", None))
        try:
            if convert is not None:
                values[attribute] = convert(config)
        except (ValueError, TypeError):
            continue
    return values


def _form_data_default(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    converters: dict[str, Callable[[str], Any]] = {
        "number": lambda text: int(_to_decimal(text)),
        "checkbox": lambda text: text.strip().lower() == "true",
        "datetime": lambda text: _parse_date(text).isoformat(),
    }
    try:
        return converters.get(kind, str)(str(value))
    except ValueError:
        return None


# --- messages ----------------------------------------------------------------------------------------------

_MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        "required": "Dieses Feld ist erforderlich.",
        "min_length": "Bitte mindestens {n} Zeichen eingeben.",
        "max_length": "Bitte höchstens {n} Zeichen eingeben.",
        "range": "Der Wert muss zwischen {min} und {max} liegen.",
        "min": "Der Wert muss mindestens {min} sein.",
        "max": "Der Wert darf höchstens {max} sein.",
        "integer": "Bitte eine ganze Zahl eingeben.",
        "number": "Bitte eine Zahl eingeben.",
        "decimals": "Bitte höchstens {n} Nachkommastellen eingeben.",
        "step": "Bitte einen Wert in Schritten von {step} eingeben.",
        "choice": "Bitte eine der angebotenen Möglichkeiten wählen.",
        "pattern": "Die Eingabe hat nicht das erwartete Format.",
        "email": "Bitte eine gültige E-Mail-Adresse eingeben.",
        "phone": "Bitte eine gültige Telefonnummer eingeben.",
        "date": "Bitte ein gültiges Datum eingeben (TT.MM.JJJJ).",
        "time": "Bitte eine gültige Uhrzeit eingeben (HH:MM).",
        "datetime": "Bitte ein gültiges Datum mit Uhrzeit eingeben.",
        "past_date": "Das Datum darf nicht in der Vergangenheit liegen.",
        "boolean": "Bitte ja oder nein angeben.",
        "text": "Bitte einen Text eingeben.",
        "too_many": "Bitte höchstens {n} Einträge angeben.",
        "invalid": "Ungültige Eingabe.",
    },
    "en": {
        "required": "This field is required.",
        "min_length": "Please enter at least {n} characters.",
        "max_length": "Please enter at most {n} characters.",
        "range": "The value must be between {min} and {max}.",
        "min": "The value must be at least {min}.",
        "max": "The value must be at most {max}.",
        "integer": "Please enter a whole number.",
        "number": "Please enter a number.",
        "decimals": "Please enter at most {n} decimal places.",
        "step": "Please enter a value in steps of {step}.",
        "choice": "Please choose one of the options offered.",
        "pattern": "The input does not have the expected format.",
        "email": "Please enter a valid e-mail address.",
        "phone": "Please enter a valid phone number.",
        "date": "Please enter a valid date (DD.MM.YYYY).",
        "time": "Please enter a valid time (HH:MM).",
        "datetime": "Please enter a valid date and time.",
        "past_date": "The date must not be in the past.",
        "boolean": "Please answer yes or no.",
        "text": "Please enter text.",
        "too_many": "Please give at most {n} entries.",
        "invalid": "Invalid input.",
    },
}


class _Catalogue:
    """The messages of one locale; numbers in them are written the locale's way (1,5 in German)."""

    def __init__(self, locale: str):
        self.locale = locale
        self.table = _MESSAGES[locale]

    def __call__(self, message: str, **params: Any) -> str:
        return self.table[message].format(**{k: self.number(v) for k, v in params.items()})

    def number(self, value: Any) -> str:
        if isinstance(value, float | Decimal) and value == int(value):
            value = int(value)
        shown = str(value)
        return shown.replace(".", ",") if self.locale == "de" else shown

    def error(self, message: str, **params: Any) -> ma.ValidationError:
        return ma.ValidationError(self(message, **params))


def _language(locale: str) -> str:
    language = (locale or "de").replace("-", "_").split("_")[0].lower()
    return language if language in _MESSAGES else "de"


@lru_cache(maxsize=8)
def _catalogue(language: str) -> _Catalogue:
    return _Catalogue(language)


# --- value parsing -----------------------------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal:
    """A finite number from JSON or from text (`2`, `-1.5`, `2,5`); no exponents, no thousands separators."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    text = value.strip() if isinstance(value, str) else ""
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    if len(text) > 40 or not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _parse_date(text: str) -> date:
    """`2026-03-01`, `01.03.2026` (as typed in Germany) or `01/03/2026` (Camunda formData's dd/MM/yyyy)."""
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        return date.fromisoformat(text)
    match = _GERMAN_DATE.fullmatch(text) or _SLASHED_DATE.fullmatch(text)
    if not match:
        raise ValueError(f"not a date: {text!r}")
    day, month, year = (int(part) for part in match.groups())
    return date(year, month, day)


def _parse_time(text: str) -> time:
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r}")
    hours, minutes, seconds, zone = match.groups()
    return time.fromisoformat(f"{int(hours):02d}:{minutes}{seconds or ''}{zone or ''}")


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    day, _, clock = text.replace("T", " ", 1).partition(" ")
    if not clock:
        raise ValueError(f"not a date with time: {text!r}")
    moment = _parse_time(clock)
    return datetime.combine(_parse_date(day), moment.replace(tzinfo=None), tzinfo=moment.tzinfo)


def _iso(moment: datetime | time, serializing: str | None) -> str:
    """ISO text, to the minute unless seconds were given; `utc_normalized` converts aware times to UTC."""
    if isinstance(moment, datetime) and moment.tzinfo is not None and serializing == "utc_normalized":
        moment = moment.astimezone(UTC)
    if serializing == "no_timezone":
        moment = moment.replace(tzinfo=None)
    spec = "minutes" if not (moment.second or moment.microsecond) else "auto"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


# --- marshmallow fields ------------------------------------------------------------------------------------

_Check = Callable[[Any], None]


def _is_blank(value: Any) -> bool:
    if value is ma.missing or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple) and not value


class _Input(ma.fields.Field[Any]):
    """A form field: blank input is 'not given' (an error when required), otherwise coerced, then checked."""

    def __init__(self, spec: Field, catalogue: _Catalogue):
        self.form_spec = spec
        self.catalogue = catalogue
        self.mandatory = spec.validation.required
        super().__init__(validate=list(self.checks()))

    def checks(self) -> Iterator[_Check]:
        return iter(())

    def blank(self, absent: bool) -> Any:
        """What a field left empty stores: nothing when it was not sent at all, null when sent empty."""
        return ma.missing if absent else None

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> Any:
        if _is_blank(value):
            if self.mandatory:
                raise self.catalogue.error("required")
            return self.blank(value is ma.missing)
        return self.finish(super().deserialize(value, attr, data, **kwargs))

    def finish(self, value: Any) -> Any:
        return value


class _Text(_Input):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.catalogue.error("text")
        if len(value) > MAX_INPUT_CHARS:
            raise self.catalogue.error("max_length", n=MAX_INPUT_CHARS)
        return value.strip() if self.form_spec.type == "textfield" else value.replace("\r\n", "\n")

    def checks(self) -> Iterator[_Check]:
        rules, text = self.form_spec.validation, self.catalogue
        shortest, longest = rules.min_length, rules.max_length
        if shortest is not None:
            yield _check(lambda v: len(v) >= shortest, text, "min_length", n=shortest)
        if longest is not None:
            yield _check(lambda v: len(v) <= longest, text, "max_length", n=longest)
        if rules.pattern:
            pattern = _regex(rules.pattern)
            yield _check(lambda v: pattern.search(v) is not None, text, "pattern")
        if rules.validation_type == "email":
            yield _check(lambda v: _EMAIL.fullmatch(v) is not None, text, "email")
        if rules.validation_type == "phone":
            yield _check(lambda v: _PHONE.fullmatch(v) is not None, text, "phone")


class _Number(_Input):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Decimal:
        try:
            return _to_decimal(value)
        except ValueError:
            raise self.catalogue.error("integer" if self.form_spec.decimal_digits == 0 else "number") from None

    def checks(self) -> Iterator[_Check]:
        spec, text, digits = self.form_spec, self.catalogue, self.form_spec.decimal_digits
        if digits == 0:
            yield _check(lambda v: v == v.to_integral_value(), text, "integer")
        elif digits is not None:
            yield _check(lambda v: _decimals(v) <= digits, text, "decimals", n=digits)
        yield from _range_checks(spec.validation, text)
        if spec.increment:
            step, base = Decimal(repr(spec.increment)), Decimal(repr(spec.validation.min or 0))
            yield _check(lambda v: _is_step(v, base, step), text, "step", step=spec.increment)

    def finish(self, value: Decimal) -> Any:
        if self.form_spec.serialize_to_string:
            return str(value)
        return int(value) if self.form_spec.decimal_digits == 0 else float(value)


class _Checkbox(_Input):
    TRUE = frozenset({"on", "true", "1", "yes"})
    FALSE = frozenset({"off", "false", "0", "no"})

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> Any:
        return super().deserialize(False if _is_blank(value) else value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower() if isinstance(value, str | int) else ""
        if word not in self.TRUE | self.FALSE:
            raise self.catalogue.error("boolean")
        return word in self.TRUE

    def checks(self) -> Iterator[_Check]:
        if self.form_spec.validation.required:
            yield _check(lambda v: v is True, self.catalogue, "required")


class _Choice(_Input):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        return _choice_text(value, self.catalogue)

    def checks(self) -> Iterator[_Check]:
        allowed = frozenset(option.value for option in self.form_spec.options)
        if allowed:
            yield _check(lambda v: v in allowed, self.catalogue, "choice")


class _Choices(_Input):
    def blank(self, absent: bool) -> Any:
        return []

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise self.catalogue.error("invalid")
        if len(items) > MAX_LIST_ITEMS:
            raise self.catalogue.error("too_many", n=MAX_LIST_ITEMS)
        return list(dict.fromkeys(_choice_text(item, self.catalogue) for item in items))

    def checks(self) -> Iterator[_Check]:
        allowed = frozenset(option.value for option in self.form_spec.options)
        if allowed:
            yield _check(lambda v: set(v) <= allowed, self.catalogue, "choice")


class _Moment(_Input):
    PARSERS: dict[str, Callable[[str], date | time | datetime]] = {
        "date": _parse_date, "time": _parse_time, "datetime": _parse_datetime}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        subtype = self.form_spec.subtype or "date"
        try:
            moment = self.PARSERS[subtype](value) if isinstance(value, str) else _moment_object(value, subtype)
        except ValueError:
            raise self.catalogue.error(subtype) from None
        if isinstance(moment, datetime | time):
            return _iso(moment, self.form_spec.time_serializing_format)
        return moment.isoformat()


class _ItemList(ma.fields.Field[Any]):
    """A dynamic list: items as JSON objects or as HTML names `kinder.0.name`, each loaded by the item schema."""

    def __init__(self, spec: Group, catalogue: _Catalogue, item_schema: ma.Schema):
        self.form_spec = spec
        self.catalogue = catalogue
        self.item_schema = item_schema
        self.item_names = _names(spec.components)
        super().__init__()

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> list[dict[str, Any]]:
        items = _as_items(value)
        if items is None:
            raise self.catalogue.error("invalid")
        if len(items) > MAX_LIST_ITEMS:
            raise self.catalogue.error("too_many", n=MAX_LIST_ITEMS)
        loaded, errors = [], {}
        for index, item in enumerate(items):
            try:
                loaded.append(self.item_schema.load(_flat_input(item, self.item_names)))
            except ma.ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ma.ValidationError(errors)
        return loaded


def _check(test: Callable[[Any], bool], catalogue: _Catalogue, message: str, **params: Any) -> _Check:
    def check(value: Any) -> None:
        if not test(value):
            raise catalogue.error(message, **params)

    return check


def _range_checks(rules: Validation, catalogue: _Catalogue) -> Iterator[_Check]:
    low, high = rules.min, rules.max
    if low is not None and high is not None:
        yield _check(lambda v: low <= v <= high, catalogue, "range", min=low, max=high)
    elif low is not None:
        yield _check(lambda v: v >= low, catalogue, "min", min=low)
    elif high is not None:
        yield _check(lambda v: v <= high, catalogue, "max", max=high)


def _is_step(value: Decimal, base: Decimal, step: Decimal) -> bool:
    """Whether value lies on the grid base + n * step (exact, also for 40-digit input)."""
    with localcontext(prec=120):
        try:
            return (value - base) % step == 0
        except InvalidOperation:
            return False


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _choice_text(value: Any, catalogue: _Catalogue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise catalogue.error("choice")


def _moment_object(value: Any, subtype: str) -> date | time | datetime:
    """Python callers may hand over date, time and datetime objects directly."""
    if subtype == "datetime" and isinstance(value, datetime):
        return value
    if subtype == "date" and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    if subtype == "time" and isinstance(value, time):
        return value
    raise ValueError(f"not a {subtype}: {value!r}")


def _as_items(value: Any) -> list[Any] | None:
    """A list of item mappings; HTML posts arrive as {"0": {...}, "1": {...}} and are ordered by index."""
    if isinstance(value, Mapping) and all(_DIGITS.fullmatch(str(k)) for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if not isinstance(value, list | tuple) or not all(isinstance(item, Mapping) for item in value):
        return None
    return list(value)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --- schema and submission ---------------------------------------------------------------------------------

_FIELD_CLASSES: dict[str, type[_Input]] = {
    "textfield": _Text, "textarea": _Text, "number": _Number, "checkbox": _Checkbox, "radio": _Choice,
    "select": _Choice, "checklist": _Choices, "taglist": _Choices, "datetime": _Moment,
}


@lru_cache(maxsize=256)
def schema_for(form: FormDefinition, locale: str = "de") -> ma.Schema:
    """The marshmallow schema that validates submissions of this form (cached per form and language)."""
    return _schema(form.components, _catalogue(_language(locale)), form.key)


def _schema(components: tuple[Component, ...], catalogue: _Catalogue, name: str) -> ma.Schema:
    declared: dict[str, ma.fields.Field[Any]] = {}
    for unit in _units(components):
        if isinstance(unit, Group):
            declared[unit.name] = _ItemList(unit, catalogue, _schema(unit.components, catalogue, unit.name))
        elif unit.readonly is not True and unit.disabled is not True:
            declared[unit.name] = _FIELD_CLASSES[unit.type](unit, catalogue)
    schema_class = ma.Schema.from_dict(declared, name="Form_" + re.sub(r"\W", "_", name))
    return schema_class(unknown=ma.EXCLUDE)


def validate_submission(form: FormDefinition, raw: Mapping[str, Any], *, locale: str = "de",
                        variables: Mapping[str, Any] | None = None,
                        today: date | None = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(clean values, {}) or ({}, field name -> messages) for a submission (HTML form post or JSON).

    `variables` are the process variables the form was shown with; hide conditions see them merged with the
    submitted values. `today` (from the caller's clock) enables `disallowPassedDates`.
    """
    catalogue = _catalogue(_language(locale))
    schema = schema_for(form, catalogue.locale)
    data = _flat_input(raw, _names(form.components))
    context = {**(variables or {}), **_lenient_load(schema, data)}
    skipped = tuple(_skipped(form.components, context, parent_hidden=False))
    try:
        clean = schema.load({k: v for k, v in data.items() if k not in skipped}, partial=skipped)
    except ma.ValidationError as exc:
        return {}, _flat_errors(exc.messages)
    errors = _late_errors(form, clean, skipped, context, catalogue, today)
    return ({}, errors) if errors else (clean, {})


def _lenient_load(schema: ma.Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted values that are valid on their own, typed, for evaluating conditions."""
    try:
        return dict(schema.load(data))
    except ma.ValidationError as exc:
        return dict(exc.valid_data) if isinstance(exc.valid_data, dict) else {}


def _skipped(components: Iterable[Component], context: Mapping[str, Any], *, parent_hidden: bool) -> Iterator[str]:
    """Names of fields (and dynamic lists) that are hidden, read-only or disabled for this submission."""
    for component in components:
        hidden = parent_hidden or is_hidden(component, context)
        if isinstance(component, Group) and component.type == "group":
            yield from _skipped(component.components, context, parent_hidden=hidden)
        elif isinstance(component, Field | Group) and (hidden or _fixed_input(component, context)):
            yield component.name


def _fixed_input(unit: Field | Group, context: Mapping[str, Any]) -> bool:
    return isinstance(unit, Field) and is_readonly(unit, context)


def _late_errors(form: FormDefinition, clean: Mapping[str, Any], skipped: Sequence[str],
                 context: Mapping[str, Any], catalogue: _Catalogue, today: date | None) -> dict[str, list[str]]:
    """Checks that need the moment or the variables: past dates, options from a variable or an expression."""
    errors: dict[str, list[str]] = {}
    for unit in _units(form.components):
        if isinstance(unit, Field) and unit.name not in skipped:
            message = _late_error(unit, _lookup(clean, unit.data_path), context, today)
            if message:
                errors[unit.name] = [catalogue(message)]
    return errors


def _late_error(spec: Field, value: Any, context: Mapping[str, Any], today: date | None) -> str | None:
    if value is None or value == []:
        return None
    if spec.disallow_passed_dates and today and spec.subtype != "time" and str(value)[:10] < today.isoformat():
        return "past_date"
    allowed = _dynamic_options(spec, context)
    if allowed is not None and not set(value if isinstance(value, list) else [value]) <= allowed:
        return "choice"
    return None


def _dynamic_options(spec: Field, context: Mapping[str, Any]) -> frozenset[str] | None:
    """Option values from `valuesKey` or `valuesExpression`; None when they cannot be known (then not checked)."""
    if spec.options or spec.type not in CHOICE_TYPES | MULTI_TYPES:
        return None
    if spec.values_key:
        source = _lookup(context, tuple(spec.values_key.split(".")))
    elif spec.values_expression:
        source = _evaluate(spec.values_expression, context)
    else:
        return None
    if not isinstance(source, list):
        return None
    return frozenset(str(item.get("value")) if isinstance(item, Mapping) else str(item) for item in source)


def _lookup(data: Any, path: Sequence[str]) -> Any:
    for segment in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(segment)
    return data


# --- submitted data in, errors out -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    """The input names a schema knows: fields, dynamic lists, and every dotted prefix of them."""

    fields: frozenset[str]
    lists: frozenset[str]
    prefixes: frozenset[str]


@lru_cache(maxsize=512)
def _names(components: tuple[Component, ...]) -> _Names:
    units = list(_units(components))
    names = frozenset(unit.name for unit in units)
    prefixes = frozenset(".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 1))
    return _Names(names, frozenset(u.name for u in units if isinstance(u, Group)), prefixes)


def _flat_input(raw: Mapping[str, Any], names: _Names) -> dict[str, Any]:
    """Submitted values under their dotted names; nested JSON objects are opened, unknown keys dropped."""
    flat: dict[str, Any] = {}
    for key in itertools.islice(raw, 4 * MAX_COMPONENTS):
        if isinstance(key, str) and len(key) <= 200:
            _collect(flat, key, _posted(raw, key), names)
    return flat


def _posted(raw: Mapping[str, Any], key: str) -> Any:
    """One value, or every value of a repeated HTML name (werkzeug's MultiDict has getlist)."""
    getlist = getattr(raw, "getlist", None)
    if not callable(getlist):
        return raw[key]
    values = getlist(key)
    return values[0] if len(values) == 1 else values


def _collect(flat: dict[str, Any], name: str, value: Any, names: _Names) -> None:
    if name in names.fields:
        flat[name] = value
    elif name in names.prefixes and isinstance(value, Mapping):
        for key, inner in itertools.islice(value.items(), 4 * MAX_COMPONENTS):
            _collect(flat, f"{name}.{key}", inner, names)
    else:
        _collect_list_item(flat, name, value, names)


def _collect_list_item(flat: dict[str, Any], name: str, value: Any, names: _Names) -> None:
    """`kinder.0.name` -> flat["kinder"]["0"]["name"], for a dynamic list `kinder`."""
    owner = next((lst for lst in names.lists if name.startswith(lst + ".")), None)
    if owner is None:
        return
    index, _, rest = name[len(owner) + 1:].partition(".")
    items = flat.setdefault(owner, {})
    if _DIGITS.fullmatch(index) and rest and isinstance(items, dict) and len(items) < MAX_LIST_ITEMS + 1:
        items.setdefault(index, {})[rest] = value


def _flat_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"name": [...], "kinder.0.name": [...]}."""
    if not isinstance(messages, Mapping):
        return {prefix: [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}
    flat: dict[str, list[str]] = {}
    for key, inner in messages.items():
        name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        for field_name, field_messages in _flat_errors(inner, name).items():
            flat.setdefault(field_name, []).extend(field_messages)
    return flat
