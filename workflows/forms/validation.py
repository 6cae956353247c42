"""Coerce and validate a submission with a marshmallow schema built from the form model."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

import marshmallow as ma

from workflows.forms.messages import _Catalogue, _catalogue, _language
from workflows.forms.model import (
    _DIGITS,
    CHOICE_TYPES,
    MAX_COMPONENTS,
    MAX_INPUT_CHARS,
    MAX_LIST_ITEMS,
    MULTI_TYPES,
    Component,
    Field,
    FormDefinition,
    Group,
    Validation,
    _evaluate,
    _units,
    is_hidden,
    is_readonly,
)
from workflows.forms.values import _iso, _parse_date, _parse_datetime, _parse_time, _regex, _to_decimal

# --- marshmallow fields ------------------------------------------------------------------------------------

_Check = Callable[[Any], None]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"(?:\+|00)?[0-9][0-9 ()/.\-]{4,24}")


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
    errors: dict[str, list[str]] = {}
    try:
        clean = schema.load({k: v for k, v in data.items() if k not in skipped}, partial=skipped)
    except ma.ValidationError as exc:  # the late checks still run on what did load: all errors at once
        clean, errors = exc.valid_data if isinstance(exc.valid_data, dict) else {}, _flat_errors(exc.messages)
    for name, messages in _late_errors(form, clean, skipped, context, catalogue, today).items():
        errors.setdefault(name, messages)
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
