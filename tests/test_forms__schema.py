"""Forms: form-js and formData read into the model, deploy-time problems, and submissions validated by the schema.

Pure unit tests: no app, no database.
"""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from workflows import forms
from workflows.errors import DeploymentError, ExpressionError, Problem

DATA = Path(__file__).parent / "data"
RICH = DATA / "forms" / "antrag_25b.form"


def form_of(*components: dict[str, Any], key: str = "probe") -> forms.FormDefinition:
    document = {"id": key, "type": "default", "components": list(components), "schemaVersion": 16}
    return forms.parse_form_js(json.dumps(document).encode(), f"{key}.form")


def field(kind: str = "textfield", key: str = "wert", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "id": f"Field_{key}", "key": key, "label": key.capitalize(), **extra}


def problems_of(content: bytes | dict[str, Any], name: str = "kaputt.form") -> list[Problem]:
    raw = json.dumps(content).encode() if isinstance(content, dict) else content
    with pytest.raises(DeploymentError) as info:
        forms.parse_form_js(raw, name)
    return info.value.problems


def rich() -> forms.FormDefinition:
    return forms.parse_form_js(RICH.read_bytes(), RICH.name)


def component(form: forms.FormDefinition, component_id: str) -> forms.Component:
    def walk(components: tuple[forms.Component, ...]) -> Any:
        for item in components:
            if item.id == component_id:
                return item
            found = walk(item.components) if isinstance(item, forms.Group) else None
            if found:
                return found
        return None

    found = walk(form.components)
    assert found is not None, component_id
    return found


# --- parsing ---------------------------------------------------------------------------------------------


def test_parses_the_user_task_attribute_forms() -> None:
    folder = DATA / "user_task_attributes"
    erstkontakt = forms.parse_form_js((folder / "erstkontakt.form").read_bytes(), "erstkontakt.form")
    start = forms.parse_form_js((folder / "start_form.form").read_bytes(), "start_form.form")

    assert (erstkontakt.key, erstkontakt.title, erstkontakt.schema_version) == ("erstkontakt", "erstkontakt", 16)
    assert erstkontakt.source_name == "erstkontakt.form"
    aktenzeichen, name = forms.input_fields(erstkontakt)
    assert aktenzeichen.key == "aktenzeichen" and aktenzeichen.layout == forms.Layout(row="Row_1")
    assert aktenzeichen.validation == forms.Validation(required=True, pattern=r"^[A-Z]{2,4}-\d{4}-\d{1,6}$")
    assert name.validation == forms.Validation(required=True, min_length=2)
    assert [f.key for f in forms.input_fields(start)] == ["vorname"]
    assert forms.validate_submission(erstkontakt, {"aktenzeichen": "FM-2026-17", "name": "Ada"}) == (
        {"aktenzeichen": "FM-2026-17", "name": "Ada"}, {})


def test_a_modeler_export_with_every_component_type_parses_into_the_model() -> None:
    form = rich()

    assert (form.key, form.title) == ("antrag_25b", "Antrag auf Aufenthaltserlaubnis nach §25b AufenthG")
    assert [c.type for c in form.components] == [
        "text", "textfield", "textfield", "textfield", "textfield", "number", "number", "checkbox", "textarea",
        "checklist", "radio", "select", "taglist", "datetime", "datetime", "datetime", "datetime", "separator",
        "group", "spacer", "dynamiclist"]
    assert component(form, "Field_1aktenzeichen") == forms.Field(
        type="textfield", id="Field_1aktenzeichen", key="aktenzeichen", data_path=("aktenzeichen",),
        label="Aktenzeichen", description="Wie auf dem Anschreiben der Ausländerbehörde",
        layout=forms.Layout(row="Row_1a2b3c4", columns=8), prefix="AZ",
        validation=forms.Validation(required=True, pattern=r"^ABH-\d{4}-\d{1,6}$", min_length=10, max_length=15))
    assert component(form, "Field_0intro") == forms.Static(
        type="text", id="Field_0intro", layout=forms.Layout(row="Row_0k1x7q2"),
        text="# Antrag auf Aufenthaltserlaubnis nach §25b AufenthG\n\nBitte füllen Sie alle Pflichtfelder aus.")


def test_field_attributes_of_every_input_type_are_kept() -> None:
    form = rich()
    einkommen = component(form, "Field_3einkommen")
    stelle = component(form, "Field_6stelle")
    uhrzeit = component(form, "Field_8uhrzeit")
    assert isinstance(einkommen, forms.Field) and isinstance(stelle, forms.Field)
    assert isinstance(uhrzeit, forms.Field)

    assert (einkommen.decimal_digits, einkommen.increment, einkommen.suffix) == (2, 0.5, "€")
    assert component(form, "Field_1geschaeftszeichen").readonly is True  # type: ignore[attr-defined]
    assert component(form, "Field_4ablehnung").hide == "=einwilligung"
    assert component(form, "Field_5nachweise").options[1] == forms.Option(  # type: ignore[attr-defined]
        "meldebescheinigung", "Meldebescheinigung")
    assert component(form, "Field_6sprachniveau").default == "B1"  # type: ignore[attr-defined]
    assert (stelle.values_key, stelle.searchable, stelle.options) == ("stellen", True, ())
    assert component(form, "Field_7sprachen").multiple is True  # type: ignore[attr-defined]
    assert (uhrzeit.subtype, uhrzeit.time_label, uhrzeit.use24h, uhrzeit.time_interval) == ("time", "Uhrzeit", True, 15)
    assert uhrzeit.time_serializing_format == "no_timezone"
    assert component(form, "Field_8termin").disallow_passed_dates is True  # type: ignore[attr-defined]
    assert component(form, "Field_9wiedervorlage").subtype == "datetime"  # type: ignore[attr-defined]


def test_groups_dynamic_lists_and_static_components_are_kept() -> None:
    form = rich()
    anschrift = component(form, "Field_10anschrift")
    kinder = component(form, "Field_12kinder")
    assert isinstance(anschrift, forms.Group) and isinstance(kinder, forms.Group)

    assert (anschrift.path, anschrift.data_path, anschrift.show_outline) == ("adresse", ("adresse",), True)
    ort = component(form, "Field_10ort")
    assert isinstance(ort, forms.Field)
    assert (ort.name, ort.variable, ort.properties) == ("adresse.ort", "adresse", (("autocomplete", "address-level2"),))
    assert (kinder.name, kinder.is_repeating, kinder.default_repetitions, kinder.allow_add_remove) == (
        "kinder", True, 1, True)
    assert (kinder.non_collapsed_items, kinder.hide) == (5, "=hat_kinder = false")
    alter = component(form, "Field_12alter")
    assert isinstance(alter, forms.Field)
    assert (alter.name, alter.list_path, alter.variable) == ("alter", ("kinder",), "kinder")
    assert component(form, "Field_11abstand") == forms.Static(
        type="spacer", id="Field_11abstand", height=40, layout=forms.Layout(row="Row_11sp"))
    assert component(form, "Field_9trenner").type == "separator"


def test_input_fields_recurse_into_groups_in_document_order() -> None:
    names = [f.name for f in forms.input_fields(rich())]
    assert names == [
        "aktenzeichen", "geschaeftszeichen", "email", "telefon", "aufenthaltsjahre", "einkommen", "einwilligung",
        "ablehnungsgrund", "nachweise", "sprachniveau", "stelle", "sprachen", "einreisedatum", "termin", "uhrzeit",
        "wiedervorlage", "adresse.strasse", "adresse.plz", "adresse.ort", "vorname", "alter"]


def test_a_button_is_a_static_component_and_a_group_without_path_keeps_keys_flat() -> None:
    form = form_of({"type": "group", "id": "G", "label": "Person", "components": [field(key="name")]},
                   {"type": "button", "id": "B", "label": "Absenden", "action": "submit"})
    assert [f.name for f in forms.input_fields(form)] == ["name"]
    assert component(form, "B") == forms.Static(type="button", id="B", label="Absenden", action="submit")


def test_the_model_is_hashable_and_the_schema_is_built_once_per_form_and_language() -> None:
    first, second = rich(), rich()
    assert first == second and hash(first) == hash(second)
    assert forms.schema_for(first) is forms.schema_for(second)
    assert forms.schema_for(first, "en") is not forms.schema_for(first, "de")


# --- deploy-time problems --------------------------------------------------------------------------------


@pytest.mark.parametrize(("components", "element", "words"), [
    ([field(key="name"), {**field(key="name"), "id": "Field_zwei"}], "Field_zwei", "more than one field"),
    ([field(key="a"), {**field(key="b"), "id": "Field_a"}], "Field_a", "more than one component"),
    ([{"type": "signature", "id": "Field_sig", "key": "sig"}], "Field_sig", "Unknown component type"),
    ([{"type": "iframe", "id": "Field_web", "url": "https://example.org"}], "Field_web", "not supported"),
    ([field(validate={"pattern": "([A-Z"})], "Field_wert", "not a valid regular expression"),
    ([field("number", validate={"min": 18, "max": 3})], "Field_wert", "minimum 18 is larger than the maximum 3"),
    ([field(validate={"minLength": 9, "maxLength": 2})], "Field_wert", "minimum length 9"),
    ([field(conditional={"hide": "=alter <<< 18"})], "Field_wert", "does not compile"),
    ([field(readonly="=status = ")], "Field_wert", "does not compile"),
    ([field(validate={"min": "=grenze"})], "Field_wert", "expressions are not supported"),
    ([field(validate={"required": "ja"})], "Field_wert", "expected true or false"),
    ([{"type": "textfield", "id": "Field_ohne"}], "Field_ohne", "needs a key"),
    ([field(key="mit leerzeichen")], "Field_mit leerzeichen", "needs a key"),
    ([field("select")], "Field_wert", "needs options"),
    ([field("radio", values=[{"label": "ohne Wert"}])], "Field_wert", "an option needs a value"),
    ([field(key="adresse"), field(key="adresse.ort")], "Field_adresse.ort", "lies inside the value"),
    ([{"type": "dynamiclist", "id": "Liste", "components": []}], "Liste", "needs a path"),
    ([{"type": "dynamiclist", "id": "L", "path": "l", "components": [field(conditional={"hide": "=x"})]}],
     "Field_wert", "inside a dynamic list"),
    ([{"type": "dynamiclist", "id": "L", "path": "l",
       "components": [{"type": "dynamiclist", "id": "M", "path": "m", "components": []}]}], "M", "inside a dynamic"),
    (["text"], "components[0]", "not a JSON object"),
])
def test_each_deploy_time_problem_names_its_element(components: list[Any], element: str, words: str) -> None:
    problems = problems_of({"id": "kaputt", "components": components})
    assert [p.element for p in problems if words in p.message] == [element], problems
    assert all(p.file == "kaputt.form" for p in problems)


@pytest.mark.parametrize(("content", "words", "line"), [
    (b'{\n  "id": "x",\n  "components": [,]\n}', "not valid JSON", 3),
    (b"[1, 2]", "must hold a JSON object", None),
    (b'{"components": []}', "has no id", None),
    (b'{"id": "x", "components": {}}', "must be a list", None),
    (b"\xff\xfe\x00", "not valid UTF-8", None),
])
def test_a_malformed_file_is_refused_with_a_clear_problem(content: bytes, words: str, line: int | None) -> None:
    (problem,) = problems_of(content)
    assert words in problem.message and problem.line == line


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"components": [
        field(key="a", validate={"pattern": "("}), field("number", key="b", validate={"min": 2, "max": 1}),
        {"type": "fancy", "id": "Field_c"}, field(key="a", id="Field_d")]})
    assert [p.element for p in problems] == [None, "Field_a", "Field_b", "Field_c", "Field_d"]


def test_a_form_file_with_a_byte_order_mark_is_read() -> None:
    content = b"\xef\xbb\xbf" + json.dumps({"id": "bom", "components": [field()]}).encode()
    assert forms.parse_form_js(content, "bom.form").key == "bom"


def nested_groups(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = field(key="blatt")
    for level in range(depth):
        inner = {"type": "group", "id": f"Gruppe_{level}", "components": [inner]}
    return inner


@pytest.mark.parametrize(("content", "words"), [
    (b" " * 10_000_000, "larger than"),
    (b"[" * 2_000_000 + b"]" * 2_000_000, "larger than"),
    (b'{"id": "x", "components": ' + b"[" * 400_000 + b"]" * 400_000 + b"}", "nested too deeply"),
    (json.dumps({"id": "x", "components": [nested_groups(40)]}).encode(), "nested more than"),
    (json.dumps({"id": "x", "components": [field(key=f"f{i}") for i in range(5_000)]}).encode(), "more than 500"),
])
def test_hostile_files_are_refused_quickly(content: bytes, words: str) -> None:
    started = time.perf_counter()
    problems = problems_of(content)
    assert time.perf_counter() - started < 1.0
    assert [p for p in problems if words in p.message], problems
    assert len(problems) < 5


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                     max_size=3), max_leaves=10)
COMPONENT_KEYS = st.sampled_from(["type", "id", "key", "path", "label", "values", "validate", "conditional", "layout",
                                  "appearance", "components", "readonly", "disabled", "decimalDigits", "increment",
                                  "subtype", "valuesKey", "defaultValue", "properties"])
COMPONENT_VALUES = ANY_JSON | st.sampled_from(["textfield", "number", "select", "group", "dynamiclist", "datetime",
                                               "=x > 1", "a.b", {"required": True, "min": 5, "max": 1}, "(["])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(COMPONENT_KEYS, COMPONENT_VALUES, max_size=7), max_size=5))
def test_any_component_list_parses_or_is_refused_with_problems_and_never_crashes(components: list[Any]) -> None:
    content = json.dumps({"id": "fuzz", "components": components}).encode()
    try:
        form = forms.parse_form_js(content, "fuzz.form")
    except DeploymentError as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
        return
    assert forms.validate_submission(form, {}) is not None


# --- validation rules at their boundaries ----------------------------------------------------------------

RULES = [
    # component, rejected, German, English, accepted, stored
    (field(validate={"required": True}), "  ", "Dieses Feld ist erforderlich.", "This field is required.", "x", "x"),
    (field(validate={"minLength": 2}), "A", "Bitte mindestens 2 Zeichen eingeben.",
     "Please enter at least 2 characters.", "Ab", "Ab"),
    (field(validate={"maxLength": 3}), "abcd", "Bitte höchstens 3 Zeichen eingeben.",
     "Please enter at most 3 characters.", "abc", "abc"),
    (field(validate={"pattern": r"^\d{5}$"}), "5066", "Die Eingabe hat nicht das erwartete Format.",
     "The input does not have the expected format.", "50667", "50667"),
    (field(validate={"validationType": "email"}), "ada@", "Bitte eine gültige E-Mail-Adresse eingeben.",
     "Please enter a valid e-mail address.", "ada@example.org", "ada@example.org"),
    (field(validate={"validationType": "phone"}), "0221-abc", "Bitte eine gültige Telefonnummer eingeben.",
     "Please enter a valid phone number.", "+49 221 12345", "+49 221 12345"),
    (field("number", decimalDigits=0, validate={"min": 0, "max": 15}), "16",
     "Der Wert muss zwischen 0 und 15 liegen.", "The value must be between 0 and 15.", "15", 15),
    (field("number", decimalDigits=0, validate={"min": 0, "max": 15}), "-1",
     "Der Wert muss zwischen 0 und 15 liegen.", "The value must be between 0 and 15.", "0", 0),
    (field("number", validate={"min": 0.5}), "0,4", "Der Wert muss mindestens 0,5 sein.",
     "The value must be at least 0.5.", "0,5", 0.5),
    (field("number", validate={"max": 100}), "100.01", "Der Wert darf höchstens 100 sein.",
     "The value must be at most 100.", "100", 100.0),
    (field("number", decimalDigits=0), "2.5", "Bitte eine ganze Zahl eingeben.", "Please enter a whole number.",
     "2.0", 2),
    (field("number", decimalDigits=0), "zwei", "Bitte eine ganze Zahl eingeben.", "Please enter a whole number.",
     "-3", -3),
    (field("number"), "1e5", "Bitte eine Zahl eingeben.", "Please enter a number.", "100000", 100000.0),
    (field("number", decimalDigits=2), "1.234", "Bitte höchstens 2 Nachkommastellen eingeben.",
     "Please enter at most 2 decimal places.", "1.23", 1.23),
    (field("number", increment="0.5", validate={"min": 1}), "1.25", "Bitte einen Wert in Schritten von 0,5 eingeben.",
     "Please enter a value in steps of 0.5.", "2.5", 2.5),
    (field("select", values=[{"label": "A", "value": "a"}]), "b", "Bitte eine der angebotenen Möglichkeiten wählen.",
     "Please choose one of the options offered.", "a", "a"),
    (field("radio", values=[{"label": "A", "value": "a"}]), ["a", "a"], "Bitte eine der angebotenen Möglichkeiten "
     "wählen.", "Please choose one of the options offered.", "a", "a"),
    (field("checklist", values=[{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]), ["a", "c"],
     "Bitte eine der angebotenen Möglichkeiten wählen.", "Please choose one of the options offered.", ["b", "a"],
     ["b", "a"]),
    (field("taglist", values=[{"label": "A", "value": "a"}], validate={"required": True}), [],
     "Dieses Feld ist erforderlich.", "This field is required.", ["a"], ["a"]),
    (field("checkbox", validate={"required": True}), "off", "Dieses Feld ist erforderlich.",
     "This field is required.", "on", True),
    (field("checkbox"), "vielleicht", "Bitte ja oder nein angeben.", "Please answer yes or no.", "true", True),
    (field("datetime", subtype="date"), "31.02.2026", "Bitte ein gültiges Datum eingeben (TT.MM.JJJJ).",
     "Please enter a valid date (DD.MM.YYYY).", "28.02.2026", "2026-02-28"),
    (field("datetime", subtype="time"), "24:00", "Bitte eine gültige Uhrzeit eingeben (HH:MM).",
     "Please enter a valid time (HH:MM).", "23:59", "23:59"),
    (field("datetime", subtype="datetime"), "2026-03-01", "Bitte ein gültiges Datum mit Uhrzeit eingeben.",
     "Please enter a valid date and time.", "2026-03-01T08:00", "2026-03-01T08:00"),
    (field(), 42, "Bitte einen Text eingeben.", "Please enter text.", "42", "42"),
    (field("textarea"), "x" * (forms.MAX_INPUT_CHARS + 1), "Bitte höchstens 20000 Zeichen eingeben.",
     "Please enter at most 20000 characters.", "x" * forms.MAX_INPUT_CHARS, "x" * forms.MAX_INPUT_CHARS),
]


@pytest.mark.parametrize(("spec", "bad", "german", "english", "good", "stored"), RULES)
def test_each_rule_rejects_and_accepts_at_its_boundary(spec: dict[str, Any], bad: Any, german: str, english: str,
                                                        good: Any, stored: Any) -> None:
    form = form_of(spec)
    assert forms.validate_submission(form, {"wert": bad}) == ({}, {"wert": [german]})
    assert forms.validate_submission(form, {"wert": bad}, locale="en") == ({}, {"wert": [english]})
    assert forms.validate_submission(form, {"wert": good}) == ({"wert": stored}, {})


def test_all_failing_rules_of_a_field_are_reported_together() -> None:
    form = form_of(field(validate={"minLength": 5, "pattern": "^[0-9]+$"}))
    assert forms.validate_submission(form, {"wert": "ab"})[1] == {"wert": [
        "Bitte mindestens 5 Zeichen eingeben.", "Die Eingabe hat nicht das erwartete Format."]}


@pytest.mark.parametrize(("locale", "message"), [
    ("de_DE", "Dieses Feld ist erforderlich."), ("en-GB", "This field is required."),
    ("fr", "Dieses Feld ist erforderlich."), ("", "Dieses Feld ist erforderlich.")])
def test_the_locale_picks_the_language_and_falls_back_to_german(locale: str, message: str) -> None:
    form = form_of(field(validate={"required": True}))
    assert forms.validate_submission(form, {}, locale=locale) == ({}, {"wert": [message]})


def test_dates_in_the_past_are_refused_when_the_form_says_so_and_a_day_is_given() -> None:
    form = form_of(field("datetime", subtype="date", disallowPassedDates=True))
    today = date(2026, 3, 10)
    assert forms.validate_submission(form, {"wert": "09.03.2026"}, today=today) == (
        {}, {"wert": ["Das Datum darf nicht in der Vergangenheit liegen."]})
    assert forms.validate_submission(form, {"wert": "10.03.2026"}, today=today) == ({"wert": "2026-03-10"}, {})
    assert forms.validate_submission(form, {"wert": "09.03.2026"}, locale="en", today=today)[1] == {
        "wert": ["The date must not be in the past."]}


def test_options_from_a_variable_or_an_expression_are_checked_against_the_variables() -> None:
    by_key = form_of(field("select", valuesKey="stellen"))
    by_expression = form_of(field("checklist", valuesExpression='=["jc", "abh"]'))
    stellen = {"stellen": [{"label": "Jobcenter", "value": "jc"}, "abh"]}

    assert forms.validate_submission(by_key, {"wert": "abh"}, variables=stellen) == ({"wert": "abh"}, {})
    assert forms.validate_submission(by_key, {"wert": "x"}, variables=stellen)[1] == {
        "wert": ["Bitte eine der angebotenen Möglichkeiten wählen."]}
    assert forms.validate_submission(by_key, {"wert": "x"}) == ({"wert": "x"}, {})  # options unknown: not checked
    assert forms.validate_submission(by_expression, {"wert": ["jc", "abh"]}) == ({"wert": ["jc", "abh"]}, {})
    assert forms.validate_submission(by_expression, {"wert": ["jc", "x"]})[1] == {
        "wert": ["Bitte eine der angebotenen Möglichkeiten wählen."]}


def test_too_many_entries_in_a_list_are_refused() -> None:
    form = form_of(field("taglist", valuesKey="tags"))
    too_many = [str(i) for i in range(forms.MAX_LIST_ITEMS + 1)]
    assert forms.validate_submission(form, {"wert": too_many}) == (
        {}, {"wert": ["Bitte höchstens 200 Einträge angeben."]})


# --- coercion --------------------------------------------------------------------------------------------

COERCIONS = [
    (field(), " Ada Lovelace ", "Ada Lovelace"),
    (field("textarea"), "Zeile 1\r\nZeile 2 ", "Zeile 1\nZeile 2 "),
    (field(), "", None),
    (field("number", decimalDigits=0), " 7 ", 7),
    (field("number", decimalDigits=0), 7, 7),
    (field("number", decimalDigits=0), 7.0, 7),
    (field("number"), "2,5", 2.5),
    (field("number"), "3", 3.0),
    (field("number"), 1.5, 1.5),
    (field("number"), "", None),
    (field("number", serializeToString=True), "1.50", "1.50"),
    (field("checkbox"), "on", True),
    (field("checkbox"), "true", True),
    (field("checkbox"), "1", True),
    (field("checkbox"), True, True),
    (field("checkbox"), "false", False),
    (field("checkbox"), "0", False),
    (field("checkbox"), False, False),
    (field("checkbox"), "", False),
    (field("datetime", subtype="date"), "2026-03-01", "2026-03-01"),
    (field("datetime", subtype="date"), "01.03.2026", "2026-03-01"),
    (field("datetime", subtype="date"), "1.3.2026", "2026-03-01"),
    (field("datetime", subtype="date"), "01/03/2026", "2026-03-01"),
    (field("datetime", subtype="date"), date(2026, 3, 1), "2026-03-01"),
    (field("datetime"), "2026-03-01", "2026-03-01"),
    (field("datetime", subtype="time"), "9:30", "09:30"),
    (field("datetime", subtype="time"), "09:30:15", "09:30:15"),
    (field("datetime", subtype="datetime"), "2026-03-01T09:30", "2026-03-01T09:30"),
    (field("datetime", subtype="datetime"), "01.03.2026 09:30", "2026-03-01T09:30"),
    (field("datetime", subtype="datetime", timeSerializingFormat="utc_offset"), "2026-03-01T09:30+01:00",
     "2026-03-01T09:30+01:00"),
    (field("datetime", subtype="datetime", timeSerializingFormat="utc_normalized"), "2026-03-01T09:30+01:00",
     "2026-03-01T08:30Z"),
    (field("datetime", subtype="datetime", timeSerializingFormat="no_timezone"), "2026-03-01T09:30+01:00",
     "2026-03-01T09:30"),
    (field("select", values=[{"label": "Zwei", "value": "2"}]), 2, "2"),
    (field("select", values=[{"label": "A", "value": "a"}]), "", None),
    (field("checklist", values=[{"label": "A", "value": "a"}]), "a", ["a"]),
    (field("checklist", values=[{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]), ["b", "a", "b"],
     ["b", "a"]),
    (field("taglist", values=[{"label": "A", "value": "a"}]), [], []),
]


@pytest.mark.parametrize(("spec", "raw", "stored"), COERCIONS)
def test_each_type_is_coerced(spec: dict[str, Any], raw: Any, stored: Any) -> None:
    clean, errors = forms.validate_submission(form_of(spec), {"wert": raw})
    assert errors == {}
    assert clean == {"wert": stored} and type(clean["wert"]) is type(stored)


@pytest.mark.parametrize(("spec", "stored"), [
    (field(), {}), (field("number"), {}), (field("checkbox"), {"wert": False}),
    (field("checklist", values=[{"label": "A", "value": "a"}]), {"wert": []})])
def test_a_field_not_sent_is_left_alone_except_checkboxes_and_lists(spec: dict[str, Any], stored: Any) -> None:
    assert forms.validate_submission(form_of(spec), {}) == (stored, {})


def test_an_html_post_with_repeated_names_fills_list_fields() -> None:
    form = form_of(field("checklist", key="nachweise", values=[{"label": "P", "value": "pass"},
                                                               {"label": "M", "value": "melde"}]), field(key="name"))
    posted = MultiDict([("nachweise", "pass"), ("nachweise", "melde"), ("name", "Ada")])
    assert forms.validate_submission(form, posted) == ({"nachweise": ["pass", "melde"], "name": "Ada"}, {})


def test_groups_with_a_path_take_dotted_names_or_nested_objects_and_store_nested() -> None:
    form = rich()
    group = form_of({"type": "group", "id": "G", "path": "adresse",
                     "components": [field(key="strasse", validate={"required": True}), field(key="ort")]})
    expected: tuple[dict[str, Any], dict[str, Any]] = ({"adresse": {"strasse": "Hauptstr. 1", "ort": "Köln"}}, {})
    assert forms.validate_submission(group, {"adresse.strasse": "Hauptstr. 1", "adresse.ort": "Köln"}) == expected
    assert forms.validate_submission(group, {"adresse": {"strasse": "Hauptstr. 1", "ort": "Köln"}}) == expected
    assert forms.validate_submission(group, {"adresse": {"ort": "Köln"}}) == (
        {}, {"adresse.strasse": ["Dieses Feld ist erforderlich."]})
    assert "adresse.plz" in forms.validate_submission(form, {"adresse.plz": "5066"})[1]


def test_dynamic_list_items_come_as_json_or_indexed_names_and_errors_name_the_item() -> None:
    form = rich()
    schema = forms.schema_for(form)
    as_json = schema.load({"kinder": [{"vorname": "Lea", "alter": "4"}, {"vorname": "Tom", "hack": 1}]},
                          partial=True)
    as_html = schema.load({"kinder": {"1": {"vorname": "Tom", "hack": 1}, "0": {"vorname": "Lea", "alter": "4"}}},
                          partial=True)
    assert as_json == as_html == {"kinder": [{"vorname": "Lea", "alter": 4}, {"vorname": "Tom"}]}
    _clean, errors = forms.validate_submission(form, {"kinder.0.vorname": "", "kinder.1.vorname": "Tom",
                                                      "kinder.1.alter": "18", "kinder.x.alter": "1"})
    assert errors["kinder.0.vorname"] == ["Dieses Feld ist erforderlich."]
    assert errors["kinder.1.alter"] == ["Der Wert muss zwischen 0 und 17 liegen."]


def test_a_dynamic_list_that_is_not_a_list_or_too_long_is_refused() -> None:
    form = form_of({"type": "dynamiclist", "id": "L", "path": "kinder", "components": [field(key="vorname")]})
    assert forms.validate_submission(form, {"kinder": "Lea"}) == ({}, {"kinder": ["Ungültige Eingabe."]})
    assert forms.validate_submission(form, {"kinder": {"²": {"vorname": "x"}}}) == (
        {}, {"kinder": ["Ungültige Eingabe."]})
    many = [{"vorname": "x"}] * (forms.MAX_LIST_ITEMS + 1)
    assert forms.validate_submission(form, {"kinder": many}) == (
        {}, {"kinder": ["Bitte höchstens 200 Einträge angeben."]})


# --- hidden, read-only, unknown --------------------------------------------------------------------------


def conditional_form() -> forms.FormDefinition:
    return form_of(
        field("number", key="alter", decimalDigits=0),
        field(key="vormund", validate={"required": True}, conditional={"hide": "=alter >= 18"}),
        field("checkbox", key="einwilligung"),
        field("textarea", key="grund", validate={"required": True}, conditional={"hide": "=einwilligung"}),
        {"type": "group", "id": "G", "path": "schule", "conditional": {"hide": "=alter >= 18"},
         "components": [field(key="name", validate={"required": True})]},
    )


def test_hidden_fields_are_neither_required_nor_stored() -> None:
    form = conditional_form()
    adult = {"alter": "30", "vormund": "Erika", "einwilligung": "on", "grund": "egal", "schule.name": "GS"}
    assert forms.validate_submission(form, adult) == ({"alter": 30, "einwilligung": True}, {})
    assert forms.validate_submission(form, {"alter": "12", "einwilligung": "on"})[1] == {
        "vormund": ["Dieses Feld ist erforderlich."], "schule.name": ["Dieses Feld ist erforderlich."]}
    assert forms.validate_submission(form, {"alter": "30"})[1] == {"grund": ["Dieses Feld ist erforderlich."]}


def test_hide_conditions_see_the_variables_when_the_form_does_not_send_the_value() -> None:
    form = form_of(field(key="vormund", validate={"required": True}, conditional={"hide": "=alter >= 18"}))
    assert forms.validate_submission(form, {}, variables={"alter": 30}) == ({}, {})
    required = {"vormund": ["Dieses Feld ist erforderlich."]}
    assert forms.validate_submission(form, {}, variables={"alter": 3})[1] == required
    assert forms.validate_submission(form, {}, variables={})[1] == required


def test_a_hidden_dynamic_list_is_not_validated_or_stored() -> None:
    form = rich()
    base = {"aktenzeichen": "ABH-2026-123", "aufenthaltsjahre": "7", "einwilligung": "on", "nachweise": "pass",
            "einreisedatum": "2019-03-01", "adresse.strasse": "Hauptstr. 1", "adresse.plz": "50667"}
    clean, errors = forms.validate_submission(form, {**base, "kinder.0.vorname": ""}, variables={"hat_kinder": False})
    assert errors == {} and "kinder" not in clean
    assert "kinder.0.vorname" in forms.validate_submission(form, {**base, "kinder.0.vorname": ""})[1]


class FailingExpression:
    def evaluate(self, variables: Any) -> Any:
        raise ExpressionError("kaputt")


def test_a_hide_condition_that_fails_at_run_time_leaves_the_field_required(monkeypatch: pytest.MonkeyPatch) -> None:
    form = form_of(field(validate={"required": True}, conditional={"hide": "=true"}),
                   field(key="fest", readonly="=false"))
    assert forms.validate_submission(form, {"fest": "x"}) == ({"fest": "x"}, {})
    monkeypatch.setattr(forms.model, "_compiled", lambda _text: FailingExpression())
    # hide fails: not hidden, so still required; readonly fails: read-only, so not taken
    assert forms.validate_submission(form, {"fest": "x"}) == ({}, {"wert": ["Dieses Feld ist erforderlich."]})
    assert forms.validate_submission(form, {"fest": "x", "wert": "da"}) == ({"wert": "da"}, {})


def test_readonly_and_disabled_fields_are_never_taken_from_the_submission() -> None:
    form = form_of(field(key="fest", readonly=True, validate={"required": True}), field(key="aus", disabled=True),
                   field(key="bedingt", readonly='=status = "abgeschlossen"'), field(key="frei"))
    posted = {"fest": "gefälscht", "aus": "gefälscht", "bedingt": "neu", "frei": "ok"}
    assert forms.validate_submission(form, posted, variables={"status": "abgeschlossen"}) == ({"frei": "ok"}, {})
    assert forms.validate_submission(form, posted, variables={"status": "offen"}) == (
        {"bedingt": "neu", "frei": "ok"}, {})


def test_unknown_keys_are_dropped() -> None:
    form = form_of({"type": "group", "id": "G", "path": "adresse", "components": [field(key="ort")]},
                   {"type": "dynamiclist", "id": "L", "path": "kinder", "components": [field(key="vorname")]})
    posted: dict[Any, Any] = {
        "adresse.ort": "Köln", "adresse.hack": 1, "adresse": {"ort": "Köln", "x": 2}, "__class__": "x",
        "csrf_token": "t", "kinder.0.vorname": "Lea", "kinder.0.hack": "x", "kinder.abc": "y", 7: "z"}
    assert forms.validate_submission(form, posted) == (
        {"adresse": {"ort": "Köln"}, "kinder": [{"vorname": "Lea"}]}, {})


def test_the_helpers_for_the_renderer_evaluate_conditions() -> None:
    form = conditional_form()
    vormund = component(form, "Field_vormund")
    assert forms.is_hidden(vormund, {"alter": 18}) is True
    assert forms.is_hidden(vormund, {"alter": 17}) is False
    assert forms.is_readonly(component(form, "Field_alter"), {}) is False  # type: ignore[arg-type]


# --- camunda:formData ------------------------------------------------------------------------------------


def form_data_field(field_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": field_id, "label": field_id.capitalize(), "type": kind, "defaultValue": None, "values": [],
            "validation": [], "properties": {}, **extra}


INBOX_FORM_DATA = [
    form_data_field("name", "string", validation=[("required", None), ("minlength", "2")]),
    form_data_field("kinder", "long", defaultValue="0", validation=[("min", "0"), ("max", "15")]),
    form_data_field("einwilligung", "boolean"),
    form_data_field("quelle", "enum", values=[("jobcenter", "Jobcenter"), ("abh", "Ausländerbehörde")]),
]


def test_form_data_maps_to_the_same_model() -> None:
    form = forms.form_from_form_data([
        *INBOX_FORM_DATA, form_data_field("seit", "date", defaultValue="01/02/2026"),
        form_data_field("notiz", "custom", validation=[("readonly", None), ("validator", "de.kim.Pruefer")],
                        properties={"hinweis": "intern"}),
    ], key="form_data")
    name, kinder, einwilligung, quelle, seit, notiz = forms.input_fields(form)

    assert (form.key, form.title, form.source_name) == ("form_data", "form_data", "formData")
    assert (name.type, name.validation) == ("textfield", forms.Validation(required=True, min_length=2))
    assert (kinder.type, kinder.decimal_digits, kinder.default, kinder.validation.min, kinder.validation.max) == (
        "number", 0, 0, 0, 15)
    assert (einwilligung.type, quelle.type) == ("checkbox", "select")
    assert quelle.options == (forms.Option("jobcenter", "Jobcenter"), forms.Option("abh", "Ausländerbehörde"))
    assert (seit.type, seit.subtype, seit.default) == ("datetime", "date", "2026-02-01")
    assert (notiz.type, notiz.readonly, notiz.properties) == ("textfield", True, (("hinweis", "intern"),))


def test_form_data_submissions_validate_as_the_inbox_expects() -> None:
    form = forms.form_from_form_data(INBOX_FORM_DATA, key="form_data")
    _clean, errors = forms.validate_submission(form, {"name": "A", "kinder": "99", "quelle": "x"})
    assert errors == {"name": ["Bitte mindestens 2 Zeichen eingeben."],
                      "kinder": ["Der Wert muss zwischen 0 und 15 liegen."],
                      "quelle": ["Bitte eine der angebotenen Möglichkeiten wählen."]}
    assert forms.validate_submission(form, {"name": "Ada", "kinder": "2", "quelle": "abh", "einwilligung": "on"}) == (
        {"name": "Ada", "kinder": 2, "quelle": "abh", "einwilligung": True}, {})


@pytest.mark.parametrize("raw", ["01/02/2026", "2026-02-01", "01.02.2026"])
def test_form_data_dates_accept_camundas_format_and_iso(raw: str) -> None:
    form = forms.form_from_form_data([form_data_field("seit", "date")])
    assert forms.validate_submission(form, {"seit": raw}) == ({"seit": "2026-02-01"}, {})


def test_form_data_ignores_constraints_it_cannot_read() -> None:
    form = forms.form_from_form_data([form_data_field("n", "long", defaultValue="viele",
                                                      validation=[("min", "wenig"), ("max", "9"), ("future", None)])])
    (spec,) = forms.input_fields(form)
    assert (spec.default, spec.validation) == (None, forms.Validation(max=9))


def test_form_data_fields_whose_values_would_overlap_keep_the_first() -> None:
    form = forms.form_from_form_data([form_data_field(i, "string") for i in ("a.b", "b", "a", "a.b.c", "b", "a.c")])
    assert [f.name for f in forms.input_fields(form)] == ["a.b", "b", "a.c"]
    assert forms.validate_submission(form, {"a.b": "1", "b": "2", "a": "3", "a.c": "4"}) == (
        {"a": {"b": "1", "c": "4"}, "b": "2"}, {})


# --- properties ------------------------------------------------------------------------------------------

BOUNDED = form_of(field("number", key="kinder", decimalDigits=0, validate={"min": 0, "max": 15}))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_for_a_bounded_number_is_a_whole_number_in_range_or_an_error(text: str) -> None:
    clean, errors = forms.validate_submission(BOUNDED, {"kinder": text})
    if errors:
        assert clean == {} and list(errors) == ["kinder"] and errors["kinder"]
    else:
        value = clean["kinder"]
        assert value is None if not text.strip() else isinstance(value, int) and 0 <= value <= 15


STEPPED = form_of(field("number", key="betrag", decimalDigits=2, increment="0.05", validate={"min": -100}))


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A-?\d{0,45}([.,]\d{0,12})?\Z"))
def test_any_numeric_text_for_a_stepped_number_is_on_the_grid_or_an_error(text: str) -> None:
    clean, errors = forms.validate_submission(STEPPED, {"betrag": text})
    assert (clean == {}) != (errors == {})
    if clean and clean["betrag"] is not None:
        exact = Decimal(text.replace(",", "."))
        with localcontext(prec=120):
            assert exact >= -100 and exact % Decimal("0.05") == 0 and clean["betrag"] == float(exact)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=12)
FIELD_NAMES = st.sampled_from(["aktenzeichen", "einkommen", "einwilligung", "nachweise", "uhrzeit", "wiedervorlage",
                               "adresse", "adresse.plz", "kinder", "kinder.0.alter", "sprachen", "unbekannt"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=8))
def test_any_submission_gives_clean_values_or_errors_and_never_raises(raw: dict[str, Any]) -> None:
    clean, errors = forms.validate_submission(rich(), raw, variables={"stellen": ["a"]})
    assert (clean == {}) or (errors == {})
    assert all(isinstance(k, str) and v and all(isinstance(m, str) for m in v) for k, v in errors.items())
