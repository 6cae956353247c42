"""Read Camunda Forms (form-js JSON) and camunda:formData into the model, checking everything at deploy time."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workflows.errors import DeploymentError, ExpressionError, Problem
from workflows.forms.model import (
    _DIGITS,
    _KEY,
    CHOICE_TYPES,
    CONTAINER_TYPES,
    INPUT_TYPES,
    MAX_COMPONENTS,
    MAX_FORM_BYTES,
    MAX_NESTING,
    MULTI_TYPES,
    STATIC_TYPES,
    UNSUPPORTED_TYPES,
    Component,
    Condition,
    Field,
    FormDefinition,
    Group,
    Layout,
    Option,
    Static,
    Validation,
    _compiled,
)
from workflows.forms.values import _parse_date, _regex, _to_decimal

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
