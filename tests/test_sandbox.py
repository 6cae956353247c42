"""The sandbox computes what Python would, for the supported subset."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import helpers, sandbox
from workflows.errors import ExpressionError

CASES = [
    ("1 + 2 * 3", {}, 7),
    ("a if b else c", {"a": 1, "b": False, "c": 2}, 2),
    ("x in [1, 2, 3] and y not in {4}", {"x": 2, "y": 5}, True),
    ("name.strip().upper()", {"name": "  ada "}, "ADA"),
    ("', '.join(sorted(tags))", {"tags": ["b", "a"]}, "a, b"),
    ("d.get('k', 0) + len(d)", {"d": {"k": 2}}, 3),
    ("[x * 2 for x in xs if x > 1]", {"xs": [1, 2, 3]}, [4, 6]),
    ("{k: v for k, v in pairs}", {"pairs": [("a", 1)]}, {"a": 1}),
    ("sum(x for x in xs)", {"xs": [1, 2, 3]}, 6),
    ("f'{n} Tage, {p:.1f} %'", {"n": 14, "p": 12.345}, "14 Tage, 12.3 %"),
    ("xs[1:] + xs[:1]", {"xs": [1, 2, 3]}, [2, 3, 1]),
    ("d.year == 2026 and d.month == 6", {"d": date(2026, 6, 1)}, True),
    ("(b - a).days", {"a": date(2026, 1, 1), "b": date(2026, 3, 1)}, 59),
    ("max(a, b) - min(a, b)", {"a": 3, "b": 9}, 6),
    ("x is None", {"x": None}, True),
    ("-x if x < 0 else +x", {"x": -4}, 4),
    ("not flag", {"flag": False}, True),
    ("round(2.675, 2)", {}, 2.67),
    ("any([False, x]) or all([])", {"x": False}, True),
]


@pytest.mark.parametrize("text,variables,expected", CASES)
def test_python_expressions(text: str, variables: dict[str, object], expected: object) -> None:
    assert sandbox.compile_expression(text).evaluate(variables) == expected


def test_script_statements_and_variables() -> None:
    script = sandbox.compile_script("""
summe = 0
treffer = []
for i, wert in enumerate(werte):
    if wert < 0:
        continue
    if wert > 100:
        break
    summe += wert
    treffer.append(i)
else:
    fertig = True
a, b = 1, 2
karte = {}
karte['x'] = a + b
n = 0
while n < 3:
    n += 1
del a
hinweis: str = 'ok'
""")
    variables = {"werte": [5, -1, 7]}
    script.execute(variables)
    assert variables["summe"] == 12 and variables["treffer"] == [0, 2] and variables["fertig"] is True
    assert variables["karte"] == {"x": 3} and variables["n"] == 3 and "a" not in variables
    assert variables["hinweis"] == "ok"


def test_names_are_collected() -> None:
    assert sandbox.compile_expression("a + b.get('x') if c else len(d)").names == {"a", "b", "c", "d", "len"}


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(ExpressionError, match="name 'missing' is not defined"):
        sandbox.compile_expression("missing + 1").evaluate({})


def test_compiled_expressions_are_cached() -> None:
    assert sandbox.compile_expression("x + 1") is sandbox.compile_expression("x + 1")


def test_syntax_errors_name_the_position() -> None:
    with pytest.raises(ExpressionError, match="line 1"):
        sandbox.compile_expression("x +")


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6), st.sampled_from(["+", "-", "*", "//", "%"]))
def test_arithmetic_agrees_with_python(a: int, b: int, op: str) -> None:
    if op in ("//", "%") and b == 0:
        return
    assert sandbox.compile_expression(f"a {op} b").evaluate({"a": a, "b": b}) == eval(f"{a} {op} {b}")


def test_helpers_dates_and_durations() -> None:
    moment = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    available = helpers.default_helpers(lambda: moment)

    def run(text: str, **variables: object) -> object:
        return sandbox.compile_expression(text).evaluate(variables, available)

    assert run("now()") == moment
    assert run("today()") == date(2026, 1, 31)
    assert run("add_duration('2026-01-31', 'P1M')") == date(2026, 2, 28)
    assert run("add_duration(now(), 'P3M')") == datetime(2026, 4, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert run("years_between(geburt, '2026-06-30')", geburt="2000-07-01") == 25
    assert run("years_between(geburt, '2026-07-01')", geburt="2000-07-01") == 26
    assert run("days_between('2026-01-01', d)", d=date(2026, 1, 11)) == 10
    assert run("duration('P2W').days") == 14
    assert run("iso(date(2026, 3, 1))") == "2026-03-01"
    assert run("parse_date('2026-03-01') > date(2026, 2, 1)") is True
    assert run("timedelta_days(3) == (date(2026, 1, 4) - date(2026, 1, 1))") is True
    _ = timedelta


@pytest.mark.parametrize("text,variables,expected", [
    ('defined("x")', {}, False),
    ('defined("x")', {"x": None}, True),
    ('get("frist", "P4W")', {}, "P4W"),
    ('get("frist", "P4W")', {"frist": "P2W"}, "P2W"),
    ('get("frist")', {}, None),
    ('defined("x") and x > 3', {}, False),
    ('[n for n in ["a", "b"] if defined(n)]', {"b": 1}, ["b"]),
])
def test_whether_a_variable_is_defined(text: str, variables: dict[str, object], expected: object) -> None:
    assert sandbox.compile_expression(text).evaluate(variables) == expected


def test_scripts_see_what_they_set_themselves_as_defined() -> None:
    values: dict[str, object] = {"standard": "P4W"}
    sandbox.compile_script("""
if not defined("frist"):
    frist = get("standard", "P2W")
gesetzt = defined("frist")
""").execute(values)
    assert values == {"standard": "P4W", "frist": "P4W", "gesetzt": True}


def test_a_variable_named_like_the_helper_wins() -> None:
    assert sandbox.compile_expression("get").evaluate({"get": 5}) == 5
    with pytest.raises(ExpressionError, match="text"):
        sandbox.compile_expression("defined(1)").evaluate({})
