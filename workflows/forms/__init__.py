"""Task and start forms: Camunda Forms (form-js JSON) and camunda:formData, read into one small model.

The package: `model` (fields, groups, conditions), `reading` (form-js JSON and formData, checked at deploy
time), `values` (numbers and dates as people type them), `messages` (German and English), `validation` (the
marshmallow schema and a submission's way through it).

A form is parsed and checked once, at deploy time, and every problem is reported at once. The model keeps what
a server-side renderer needs (labels, options, layout, adornments, conditions), so nothing re-reads the JSON.
Each submission is coerced and validated by a marshmallow schema built from the model, with messages in German
(English as the second locale). Fields hidden by their condition are neither required nor stored; read-only
and disabled fields are never taken from a submission; keys the form does not name are dropped.

Conditions (`conditional.hide`, `readonly`, `disabled`, `valuesExpression`) are FEEL, evaluated by
workflows.feel in the sandbox; nothing from a form file is ever evaluated as Python. Regular expressions run
only on input capped at MAX_INPUT_CHARS.
"""


from workflows.forms.model import (
    MAX_COMPONENTS,
    MAX_FORM_BYTES,
    MAX_INPUT_CHARS,
    MAX_LIST_ITEMS,
    MAX_NESTING,
    Component,
    Condition,
    Field,
    FormDefinition,
    Group,
    Layout,
    Option,
    Static,
    Validation,
    input_fields,
    is_hidden,
    is_readonly,
)
from workflows.forms.reading import form_from_form_data, parse_form_js
from workflows.forms.validation import schema_for, validate_submission

__all__ = [
    "MAX_COMPONENTS", "MAX_FORM_BYTES", "MAX_INPUT_CHARS", "MAX_LIST_ITEMS", "MAX_NESTING", "Component", "Condition",
    "Field", "FormDefinition", "Group", "Layout", "Option", "Static", "Validation", "form_from_form_data",
    "input_fields", "is_hidden", "is_readonly", "parse_form_js", "schema_for", "validate_submission",
]
