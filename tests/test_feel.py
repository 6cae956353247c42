"""FEEL expressions and DMN unary tests as Camunda 7's FEEL engine evaluates them, inside the sandbox.
Unit tests: no app, no database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import feel
from workflows.errors import EvaluationTimeout, ExpressionError
from workflows.feel_functions import YearsMonths
from workflows.sandbox import Limits


def run(text: str, **variables: Any) -> Any:
    return feel.compile_expression(text).evaluate(variables)


def passes(test: str, value: Any, **variables: Any) -> bool:
    return feel.compile_unary_tests(test).evaluate({**variables, "?": value}) is True


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3.5), ("6 / 2", 3), ("2 ** 10", 1024), ("-3 + 1", -2),
    ("1 / 0", None), ('"Ein" + "bürgerung"', "Einbürgerung"), ("1 + null", None), ('1 + "1"', None),
    ("3 > 2", True), ("3 = 3.0", True), ('"a" < "b"', True), ("1 = null", False), ("null = null", True),
    ("null != 1", True), ("1 < null", None), ('1 = "1"', None), ("true and false", False),
    ("true and null", None), ("false and null", False), ("true or null", True), ("false or null", None),
    ("not(true)", False), ("not(null)", None), ("5 between 1 and 5", True), ("0 between 1 and 5", False),
    ("if 1 > 2 then \"ja\" else \"nein\"", "nein"), ("if null then 1 else 2", 2),
    ("[1, 2, 3][item >= 2]", [2, 3]), ("[1, 2, 3][1]", 1), ("[1, 2, 3][-1]", 3), ("[1, 2, 3][5]", None),
    ("{a: 1, b c: 2}.a", 1), ('{"b c": 2}.x', None), ("[{a: 1}, {a: 2}].a", [1, 2]),
    ("for x in [1, 2] return x * 10", [10, 20]), ("for i in 1..3 return i", [1, 2, 3]),
    ("some x in [1, 5] satisfies x > 4", True), ("every x in [1, 5] satisfies x > 4", False),
    ("3 in [1..5]", True), ("3 in (1, 2)", False), ("3 in > 2", True), ('"b" in ["a", "b"]', True),
    ("5 instance of number", True), ('"5" instance of number', False),
    ("// a comment\n 1 /* and another */ + 1", 2),
])
def test_expressions(text: str, expected: Any) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('string length("Müller")', 6), ('substring("Aktenzeichen", 1, 5)', "Akten"), ('substring("abc", -2)', "bc"),
    ('upper case("abh")', "ABH"), ('contains("EBH-2026-1", "2026")', True), ('starts with("FM-1", "FM")', True),
    ('substring before("EBH-2026", "-")', "EBH"), ('substring after("EBH-2026", "-")', "2026"),
    ('string join(["a", "b"], ", ")', "a, b"), ('trim("  x ")', "x"),
    ("sum([1, 2, 3])", 6), ("sum(1, 2)", 3), ("mean([1, 2])", 1.5), ("min([3, 1])", 1), ("max(3, 1)", 3),
    ("count([1, 2])", 2), ("sum([])", None), ('sum([1, "x"])', None), ("median([3, 1, 2])", 2),
    ("list contains([1, 2], 2)", True), ("append([1], 2, 3)", [1, 2, 3]), ("concatenate([1], [2])", [1, 2]),
    ("distinct values([1, 1, 2])", [1, 2]), ("flatten([1, [2, [3]]])", [1, 2, 3]), ("reverse([1, 2])", [2, 1]),
    ("index of([1, 2, 1], 1)", [1, 3]), ("sublist([1, 2, 3], 2)", [2, 3]), ("all([true, true])", True),
    ("any([false, null])", None), ("is empty([])", True), ("insert before([1, 3], 2, 2)", [1, 2, 3]),
    ("remove([1, 2], 1)", [2]), ("union([1], [1, 2])", [1, 2]), ("product([2, 3])", 6),
    ("decimal(1.015, 2)", 1.02), ("decimal(2.5, 0)", 2), ("decimal(1 / 3, 2)", 0.33),
    ("floor(1.7)", 1), ("ceiling(1.2)", 2), ("abs(-2)", 2),
    ("modulo(-7, 3)", 2), ("odd(3)", True), ("even(3)", False),
    ('number("17")', 17), ('number("1.5")', 1.5), ('number("x")', None), ("string(1)", "1"),
    ("string(true)", "true"), ('get value({a: 1}, "a")', 1), ("get entries({a: 1})", [{"key": "a", "value": 1}]),
    ('day of week(date("2026-11-25"))', "Wednesday"), ('month of year(date("2026-11-25"))', "November"),
    ('week of year(date("2026-01-01"))', 1), ('day of year(date("2026-02-01"))', 32),
])
def test_built_in_functions(text: str, expected: Any) -> None:
    assert run(text) == expected


def test_temporal_values_and_arithmetic() -> None:
    assert run('date("2026-01-31")') == date(2026, 1, 31)
    assert run("date(2026, 1, 31)") == date(2026, 1, 31)
    assert run('@"2026-01-31"') == date(2026, 1, 31)
    assert run('date("2026-01-31") + duration("P1M")') == date(2026, 2, 28)
    assert run('date("2026-03-01") - date("2026-02-01")') == timedelta(days=28)
    assert run('date("2026-03-01") - duration("P1D")') == date(2026, 2, 28)
    assert run('date and time("2026-03-29T01:30:00")') == datetime(2026, 3, 29, 1, 30)
    assert run('duration("P1Y2M")') == YearsMonths(14)
    assert str(run('duration("P1Y2M")')) == "P1Y2M"
    assert run('duration("P1Y2M").years') == 1
    assert run('duration("PT36H").days') == 1
    assert run('date("2026-11-25").month') == 11
    assert run('time("10:15:00").hour') == 10
    assert run('date("2026-01-01") < date("2026-01-02")') is True
    assert run("antrag > date(\"2026-01-01\")", antrag="2026-02-01") is True  # ISO text next to a date
    assert run('geburt.year', geburt="2000-05-10") == 2000


@pytest.mark.parametrize(("birth", "day", "years"), [
    ("2000-05-10", "2026-05-09", 25), ("2000-05-10", "2026-05-10", 26), ("2008-02-29", "2026-02-28", 17),
    ("2008-02-29", "2026-03-01", 18),
])
def test_age_in_completed_years(birth: str, day: str, years: int) -> None:
    text = "years and months duration(date(geburt), date(stichtag)).years"
    assert run(text, geburt=birth, stichtag=day) == years


def test_names_that_are_not_defined_are_null_and_helpers_are_callable() -> None:
    assert run("unbekannt") is None
    assert run("unbekannt.feld") is None
    assert run("unbekannt = null") is True
    expression = feel.compile_expression('frist(antrag, "P4W")')
    assert expression.evaluate({"antrag": "2026-01-05"}, {"frist": lambda start, text: f"{start}+{text}"}) \
        == "2026-01-05+P4W"


def test_the_leading_equals_sign_of_camunda_forms_is_allowed() -> None:
    assert run("=alter < 18", alter=17) is True


@pytest.mark.parametrize(("test", "value", "expected"), [
    ("-", None, True), ("-", "x", True), ("", 1, True),
    (">= 18", 18, True), (">= 18", 17, False), (">= 18", None, False), ("< 18", "17", False),
    ('"A2","B1"', "B1", True), ('"A2","B1"', "C1", False), ('not("x")', "y", True), ('not("x")', "x", False),
    ('not("A2","B1")', "B1", False), ("[1..5]", 1, True), ("[1..5]", 5, True), ("(1..5)", 5, False),
    ("]1..5[", 1, False), ("(1..5]", 5, True), ("[1..5]", 6, False), ("null", None, True), ("null", 1, False),
    ("not(null)", 1, True), ("true", True, True), ("true", False, False), ("? > 3 and ? < 9", 5, True),
    ("? > 3 and ? < 9", 10, False), ('< date("2026-01-01")', "2025-12-31", True),
    ('< date("2026-01-01")', date(2026, 1, 1), False), ("[1, 2]", 2, True), ("= 3", 3, True), ("!= 3", 3, False),
    ("[lo..hi]", 4, True), ("> lo + 1", 3, False), ('string length(?) > 3', "abcd", True), ("< 3, > 7", 8, True),
])
def test_unary_tests(test: str, value: Any, expected: bool) -> None:
    assert passes(test, value, lo=2, hi=4) is expected


@pytest.mark.parametrize("text", [
    "1 +", '"open', "a[", "f(a: 1)", "1 2", "function(x) x", "if a then b", "for x in return 1",
    "__import__(\"os\")", "_secret(1)", "date(", "{a 1}", "1 ! 2", "x instance of gibtsnicht",
])
def test_syntax_errors_are_expression_errors_with_a_position(text: str) -> None:
    with pytest.raises(ExpressionError):
        feel.compile_expression(text).evaluate({"x": 1})


@pytest.mark.parametrize("text", [
    'x.__class__', 'x.__class__.__bases__', '{a: 1}.__class__', '"".join', 'open("/etc/passwd")',
    'eval("1")', 'system("id")',
])
def test_nothing_reaches_python_objects_or_the_machine(text: str) -> None:
    try:
        value = feel.compile_expression(text).evaluate({"x": "text"})
    except ExpressionError:
        return
    assert value is None  # a path into an object is null, never an attribute


def test_runaway_loops_stop_at_the_budget() -> None:
    expression = feel.compile_expression("count(for a in 1..99999, b in 1..99999 return a)")
    with pytest.raises(EvaluationTimeout):
        expression.evaluate({}, limits=Limits(max_steps=50_000))
    with pytest.raises(ExpressionError, match="more than"):
        run("for i in 1..100000000 return i")
    with pytest.raises(ExpressionError, match="too large"):
        run("9 ** 9999")


def test_overlong_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        feel.compile_expression("1 + " * 10_000 + "1")


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=-10**6, max_value=10**6))
def test_intervals_agree_with_comparisons(value: int, bound: int) -> None:
    assert passes(f"[{bound}..{bound + 10}]", value) is (bound <= value <= bound + 10)
    assert passes(f"< {bound}", value) is (value < bound)
    assert passes(f"not({bound})", value) is (value != bound)


@given(st.text(max_size=40))
def test_any_text_either_compiles_or_raises_an_expression_error(text: str) -> None:
    try:
        feel.compile_expression(text).evaluate({"a": 1}, limits=Limits(max_steps=10_000))
        feel.compile_unary_tests(text).evaluate({"?": 1}, limits=Limits(max_steps=10_000))
    except ExpressionError:
        pass


KINDER = [{"name": "Ada", "alter": 7}, {"name": "Bo", "alter": 19}, {"name": "Cem", "alter": 12}]


@pytest.mark.parametrize(("text", "expected"), [
    ("kinder[alter < 18].name", ["Ada", "Cem"]),
    ("kinder[item.alter < 18].name", ["Ada", "Cem"]),
    ("kinder[alter < grenze and name != \"Ada\"].name", ["Cem"]),
    ("kinder[alter > 18][1].name", "Bo"),
    ("count(kinder[alter < 18])", 2),
    ("for k in kinder return k.name", ["Ada", "Bo", "Cem"]),
    ("kinder[item = {name: \"Bo\", alter: 19}].alter", [19]),
    ("[1, 2, 3][item > grenze - 17]", [2, 3]),
    ("[{a: [1, 5]}, {a: [0]}][count(a[item > 2]) > 0]", [{"a": [1, 5]}]),
    ("[{grenze: 1}, {x: 1}][grenze = 1]", [{"grenze": 1}]),  # an entry hides the variable of the same name
])
def test_filters_see_the_entries_of_a_context_item(text: str, expected: Any) -> None:
    assert run(text, kinder=KINDER, grenze=18) == expected


def test_a_missing_entry_falls_back_to_the_enclosing_scope() -> None:
    assert run("kinder[alter < 10].name", kinder=[{"name": "Ada"}, {"name": "Bo", "alter": 3}], alter=5) == \
        ["Ada", "Bo"]
