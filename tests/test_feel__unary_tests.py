"""DMN input entries (FEEL unary tests), case by case after the semantics the DMN 1.3 specification gives them
(section 10.3.2.9, "unary tests": an expression is compared with the input, a list contains it, a boolean
is the answer, `?` is the input, `not(...)` negates a disjunction, `-` is any) and as Camunda 7's FEEL engine
evaluates them. Each row: input entry, input value, variables, and the three-valued result (None is FEEL's
null: the rule does not match, and neither does its negation). Unit tests: no app, no database.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from workflows import feel
from workflows.feel_functions import YearsMonths

D = date.fromisoformat

ROWS: list[tuple[str, Any, dict[str, Any], bool | None]] = [
    # comparisons with the input ("< 3" means "? < 3")
    ("< 3", 2, {}, True), ("< 3", 3, {}, False), ("<= 3", 3, {}, True), ("> 3", 4, {}, True), (">= 3", 2, {}, False),
    ("< var", 2, {"var": 3}, True), ("< a.b", 3, {"a": {"b": 4}}, True), ("< max(1, 2, 3)", 2, {}, True),
    # a comparison with null is null
    ("< 3", None, {}, None), (">= 3", None, {}, None), ('< @"2024-08-19"', 5, {}, None),
    # an expression: equal to the input
    ("3", 3, {}, True), ("3", 2, {}, False), ("-1", -1, {}, True), ("2 + 3", 5, {}, True), ("var", 3, {"var": 3}, True),
    ('"b"', "b", {}, True), ('"b"', "a", {}, False), ('"a"', None, {}, False), ("3", None, {}, False),
    ('@"2024-08-19"', 5, {}, None),  # other types: null
    ('date("2015-09-18")', D("2015-09-18"), {}, True), ('date("2015-09-18")', D("2015-09-17"), {}, False),
    ('date and time("2015-09-17T08:31:14")', datetime(2015, 9, 17, 8, 31, 14), {}, True),
    ('time("08:31:14")', time(8, 31, 14), {}, True), ('duration("P1Y4M")', YearsMonths(16), {}, True),
    ('duration("P2DT4H")', timedelta(days=2, hours=4), {}, True), ("[1,2]", [1, 2], {}, True),
    ("[2,1]", [1, 2], {}, False), ("[]", [], {}, True), ("{x: 1}", {"x": 1}, {}, True), ("{}", {"x": 1}, {}, False),
    # an expression that is a list: the input is one of its elements
    ("[4,5,6]", 5, {}, True), ("[1,2,3]", 5, {}, False), ("concatenate([1,2,3], [4,5,6])", 5, {}, True),
    ("var", 5, {"var": [4, 5, 6]}, True),
    # a boolean expression: its value is the answer when the input is no boolean
    ("true", True, {}, True), ("true", False, {}, False), ("false", False, {}, True), ("true", None, {}, False),
    ("1 < 2", True, {}, True), ("2 < 1", True, {}, False), ("var", 3, {"var": True}, True),
    ("4 < 10", 3, {}, True), ("even(4)", 3, {}, True), ("list contains([1,2], 3)", 3, {}, False),
    ("true and null", True, {}, False), ("false or null", True, {}, False),
    # `?` is the input
    ("? > 3 and ? < 9", 5, {}, True), ("odd(?)", 5, {}, True), ("even(?)", 5, {}, False), ("abs(?) < 10", 5, {}, True),
    ('starts with(?, "f")', "foo", {}, True), ("list contains([481, 485], ?)", 481, {}, True),
    ("every x in ? satisfies x > 3", [4, 5, 6], {}, True), ("some x in ? satisfies x > 4", [1, 2, 3], {}, False),
    ("? = null", None, {}, True), ("? != null", None, {}, False), ("? < 10", None, {}, None), ("?", 5, {}, None),
    ("abs(?)", 5, {}, None),
    # null
    ("null", None, {}, True), ("null", 1, {}, False), ("not_existing", None, {}, True), ("not_existing", 5, {}, False),
    ("2 + not_existing", None, {}, True),
    # intervals
    ("(2..4)", 2, {}, False), ("(2..4)", 3, {}, True), ("[2..4]", 4, {}, True), ("]2..4[", 4, {}, False),
    ("(2..4]", 4, {}, True), ("[lo..hi]", 3, {"lo": 1, "hi": 5}, True), ("(0..10)", None, {}, None),
    ('[date("2015-09-17")..date("2015-09-19")]', D("2015-09-19"), {}, True),
    ('(date("2015-09-17")..date("2015-09-19"))', D("2015-09-17"), {}, False),
    ('[duration("P1Y")..duration("P2Y")]', YearsMonths(20), {}, True),
    ('[duration("P1D")..duration("P2D")]', timedelta(hours=4), {}, False),
    # disjunctions
    ("2,3", 3, {}, True), ("2,3", 4, {}, False), ('"A2","B1"', "B1", {}, True), ("[1..5], [6..10]", 6, {}, True),
    ("< 3, > 7", 8, {}, True), ("[1..5], [6..10]", 11, {}, False),
    # negation of a disjunction (null stays null)
    ("not(3)", 2, {}, True), ("not(3)", 3, {}, False), ("not(2,3)", 4, {}, True), ("not(< 3, > 10)", 1, {}, False),
    ("not([0..3], [10..20])", 5, {}, True), ('not("a")', "b", {}, True), ("not(1)", "b", {}, None),
    ('not("a")', 2, {}, None), ("not(< 3)", None, {}, None), ("not(null)", 5, {}, True), ("not(null)", None, {}, False),
    ("not(4 > 10)", 3, {}, True), ("not(var)", 3, {"var": True}, False),
    # any
    ("-", None, {}, True), ("-", "x", {}, True), ("", 1, {}, True),
]


@pytest.mark.parametrize(("entry", "value", "variables", "expected"), ROWS)
def test_unary_test(entry: str, value: Any, variables: dict[str, Any], expected: bool | None) -> None:
    result = feel.compile_unary_tests(entry).evaluate({**variables, "?": value})
    assert result is expected, f"{entry!r} with {value!r}: {result!r}"


def test_every_row_is_distinct() -> None:
    keys = [(entry, repr(value), repr(variables)) for entry, value, variables, _ in ROWS]
    assert len(keys) == len(set(keys))
