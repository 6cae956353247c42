"""The form model: fields, groups and static parts of a form, and the FEEL conditions on them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.errors import ExpressionError

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
_DIGITS = re.compile(r"[0-9]{1,9}")

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
