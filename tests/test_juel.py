"""JUEL as Camunda 7 models write it, with EL's coercion rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import sandbox
from workflows.errors import ExpressionError


def juel(text: str, **variables: object) -> object:
    return sandbox.compile_expression(text).evaluate(variables, {"double": lambda x: x * 2})


CASES = [
    ("${a && b}", {"a": True, "b": False}, False),
    ("${a || b}", {"a": False, "b": True}, True),
    ("${a and not b}", {"a": True, "b": False}, True),
    ("${!a}", {"a": False}, True),
    ("${x == 5}", {"x": 5}, True),
    ("${x eq 5 && y ne 3}", {"x": 5, "y": 4}, True),
    ("${x lt 5 or x gt 9}", {"x": 10}, True),
    ("${x le 5 and x ge 5}", {"x": 5}, True),
    ("${x < 5}", {"x": None}, False),
    ("${x == null}", {"x": None}, True),
    ("${x != null}", {"x": 0}, True),
    ("${empty x}", {"x": ""}, True),
    ("${empty x}", {"x": []}, True),
    ("${empty x}", {"x": None}, True),
    ("${not empty x}", {"x": "a"}, True),
    ("${7 / 2}", {}, 3.5),
    ("${7 div 2}", {}, 3.5),
    ("${7 % 3}", {}, 1),
    ("${7 mod 3}", {}, 1),
    ("${-x + 1}", {"x": 3}, -2),
    ("${(1 + 2) * 3}", {}, 9),
    ("${x + 1}", {"x": "41"}, 42),
    ("${x + 1}", {"x": None}, 1),
    ("${x == '5'}", {"x": 5}, True),
    ("${x == 'ja'}", {"x": "ja"}, True),
    ("${flag == 'true'}", {"flag": True}, True),
    ("${a ? 'ja' : 'nein'}", {"a": False}, "nein"),
    ("${person.name}", {"person": {"name": "Ada"}}, "Ada"),
    ("${person['name']}", {"person": {"name": "Ada"}}, "Ada"),
    ("${liste[1]}", {"liste": [1, 2]}, 2),
    ("${person.adresse.ort}", {"person": {"adresse": {"ort": "Köln"}}}, "Köln"),
    ("${person.fehlt}", {"person": {}}, None),
    ("${double(x)}", {"x": 21}, 42),
    ("${true}", {}, True),
    ("${'a\\'b'}", {}, "a'b"),
    ("${\"zwei\"}", {}, "zwei"),
    ("${1.5 * 2}", {}, 3.0),
    ("#{x}", {"x": 1}, 1),
    ("Frist: ${tage} Tage", {"tage": 14}, "Frist: 14 Tage"),
    ("${a}${b}", {"a": 1, "b": 2}, "12"),
    ("${a} und ${b}", {"a": True, "b": None}, "true und "),
    ("${d > '2026-01-01'}", {"d": date(2026, 6, 1)}, True),
    ("${d == '2026-06-01'}", {"d": date(2026, 6, 1)}, True),
]


@pytest.mark.parametrize("text,variables,expected", CASES)
def test_juel_semantics(text: str, variables: dict[str, object], expected: object) -> None:
    assert juel(text, **variables) == expected


def test_unknown_identifier_as_camunda_says_it() -> None:
    with pytest.raises(ExpressionError, match="Cannot resolve identifier 'y'"):
        juel("${y}")


def test_non_numeric_string_in_arithmetic_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="Cannot coerce"):
        juel("${x + 1}", x="abc")


@pytest.mark.parametrize("text,construct", [
    ("${a = 1}", "position"), ("${x.y()}", "method calls"), ("${fn:upper(x)}", "namespaced"),
    ("${x instanceof y}", "instanceof"), ("${x", "closing"), ("${1 +}", "expected a value"),
    ("${'open}", "Unterminated"), ("${x @ y}", "Unexpected character"),
])
def test_unsupported_constructs_are_named(text: str, construct: str) -> None:
    with pytest.raises(ExpressionError, match=construct):
        sandbox.compile_expression(text)


def test_is_juel() -> None:
    assert sandbox.is_juel("${x}") and sandbox.is_juel("a #{b}") and not sandbox.is_juel("x > 1")


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_comparisons_are_consistent(a: int, b: int) -> None:
    results = [juel(f"${{a {op} b}}", a=a, b=b) for op in ("<", "<=", "==", ">=", ">", "!=")]
    assert results == [a < b, a <= b, a == b, a >= b, a > b, a != b]
    assert juel("${a lt b}", a=a, b=b) == (a < b)


@pytest.mark.parametrize("text,variables,expected", [
    ("${urgent ? fristKurz : fristLang}", {"urgent": True, "fristKurz": "P1W", "fristLang": "P4W"}, "P1W"),
    ("${urgent ? fristKurz : fristLang}", {"urgent": False, "fristKurz": "P1W", "fristLang": "P4W"}, "P4W"),
    ("${a ? b ? c : d : e}", {"a": True, "b": False, "c": 1, "d": 2, "e": 3}, 2),
    ("${a ? b : c ? d : e}", {"a": False, "b": 1, "c": False, "d": 2, "e": 3}, 3),
    ("${a ? (b ? c : d) : e}", {"a": True, "b": True, "c": 1, "d": 2, "e": 3}, 1),
    ("${a ? x : double(y)}", {"a": False, "x": 1, "y": 4}, 8),
    ("${double(a ? b : c)}", {"a": True, "b": 2, "c": 3}, 4),
    ("${a ? liste[i] : e}", {"a": True, "liste": [5, 6], "i": 1, "e": 3}, 6),
    ("${a ? person.name : 'niemand'}", {"a": True, "person": {"name": "Ada"}}, "Ada"),
    ("Frist: ${urgent ? kurz : lang}", {"urgent": False, "kurz": 7, "lang": 28}, "Frist: 28"),
])
def test_ternary_with_names_before_the_colon(text: str, variables: dict[str, object], expected: object) -> None:
    assert juel(text, **variables) == expected


@pytest.mark.parametrize("text", ["${fn:upper(x)}", "${a ? fn:upper(x) : y}", "${a ? b : fn:upper(x)}",
                                  "${a:b}", "${(fn:upper(x))}"])
def test_namespaced_functions_are_still_refused_by_name(text: str) -> None:
    with pytest.raises(ExpressionError, match="namespaced EL functions"):
        sandbox.compile_expression(text)


@pytest.mark.parametrize("text,variables,expected", [
    ('${execution.getVariable("x") != null}', {"x": 0}, True),
    ('${execution.getVariable("x") != null}', {}, False),
    ('${execution.getVariable("x") == null}', {"x": None}, True),
    ("${execution.getVariable('person').name}", {"person": {"name": "Ada"}}, "Ada"),
    ('${execution.hasVariable("x")}', {"x": None}, True),
    ('${execution.hasVariable("x")}', {}, False),
    ('${execution.hasVariable("x") && x > 3}', {}, False),
    ("${execution.hasVariable(name)}", {"name": "frist", "frist": 14}, True),
    ("${empty x}", {}, True),
    ("${not empty x}", {}, False),
    ("${empty x}", {"x": "a"}, False),
])
def test_whether_a_variable_is_defined(text: str, variables: dict[str, object], expected: object) -> None:
    assert juel(text, **variables) == expected


def test_other_uses_of_execution_are_named() -> None:
    for text in ('${execution.setVariable("x", 1)}', "${execution.processBusinessKey}"):
        with pytest.raises(ExpressionError, match="only getVariable"):
            sandbox.compile_expression(text)
    with pytest.raises(ExpressionError, match="one argument"):
        sandbox.compile_expression('${execution.getVariable("x", 1)}')
    with pytest.raises(ExpressionError, match="Cannot resolve identifier 'x'"):
        juel("${empty x.y}")  # only a bare name may be missing
