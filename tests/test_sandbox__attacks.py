"""A model can compute, it cannot reach the machine: every blocked path raises, nothing executes."""

from __future__ import annotations

import time

import pytest

from workflows import sandbox
from workflows.errors import EvaluationTimeout, ExpressionError, SandboxViolation

COMPILE_TIME = [
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('x=1')",
    "getattr(x, '__class__')",
    "globals()",
    "[].__class__",
    "'{0.__class__}'.format(1)",
    "f'{x.__class__}'",
    "lambda: 1",
    "type(1)",
    "(y for y in []).gi_frame",
    "x.__dict__",
    "vars()",
    "compile('1', 'x', 'eval')",
    "b'bytes'",
    "_private",
    "x.mro()",
]


@pytest.mark.parametrize("text", COMPILE_TIME)
def test_refused_when_compiled(text: str) -> None:
    with pytest.raises(SandboxViolation):
        sandbox.compile_expression(text)


SCRIPTS = [
    "import os",
    "from os import system",
    "def f():\n    pass",
    "class C:\n    pass",
    "with open('x') as f:\n    pass",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "raise ValueError()",
    "global x",
    "x.attr = 1",
    "async def f():\n    pass",
    "assert False",
]


@pytest.mark.parametrize("text", SCRIPTS)
def test_script_statements_refused_when_compiled(text: str) -> None:
    with pytest.raises(ExpressionError):
        sandbox.compile_script(text)


@pytest.mark.parametrize("text", ["${''.getClass().forName('java.lang.Runtime')}", "${x.__class__}",
                                  "${execution.getClass()}", "${a = 1}", "${x; y}", "${T(java.lang.System)}"])
def test_juel_attacks_refused_when_compiled(text: str) -> None:
    with pytest.raises(ExpressionError):
        sandbox.compile_expression(text)


def test_huge_power_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(SandboxViolation):
        sandbox.compile_expression("9**9**9").evaluate({})
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("text", ["'a' * 10**9", "[0] * 10**9", "list(range(10**12))", "10**100000",
                                  "sum(range(10**12))", "[i for i in range(10**7)]"])
def test_huge_values_fail_fast(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        sandbox.compile_expression(text).evaluate({}, limits=sandbox.Limits(time_limit=0.5))
    assert time.monotonic() - started < 2


def test_endless_loop_is_stopped_by_the_budget() -> None:
    script = sandbox.compile_script("n = 0\nwhile True:\n    n += 1")
    started = time.monotonic()
    with pytest.raises(EvaluationTimeout):
        script.execute({}, limits=sandbox.Limits(time_limit=0.3, max_steps=10**9))
    assert time.monotonic() - started < 1.5


def test_step_budget() -> None:
    with pytest.raises(EvaluationTimeout):
        sandbox.compile_script("for i in range(50000):\n    x = i").execute({}, limits=sandbox.Limits(max_steps=1000))


def test_deep_nesting_is_refused_not_crashing() -> None:
    deep = {"a": None}
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(ExpressionError):
        sandbox.compile_expression("(" * 300 + "1" + ")" * 300).evaluate({})
    assert sandbox.compile_expression("x['a']['a']").evaluate({"x": deep}) == deep["a"]["a"]


def test_helpers_cannot_be_overwritten_or_leaked() -> None:
    helpers = {"now": lambda: 1}
    with pytest.raises(SandboxViolation):
        sandbox.compile_script("now = 5").execute({}, helpers)
    variables: dict[str, object] = {}
    sandbox.compile_script("f = 'abc'.upper\nn = now()").execute(variables, helpers)
    assert variables == {"n": 1}  # the method object was not stored as a variable


def test_only_allowed_callables() -> None:
    variables = {"text": "abc"}
    method = sandbox.compile_expression("text.upper").evaluate(variables)
    assert not callable(method)  # a wrapped method, not Python's bound method
    with pytest.raises(SandboxViolation):
        sandbox.compile_expression("text.center.__call__").evaluate(variables)


def test_runtime_attribute_of_a_forbidden_type() -> None:
    with pytest.raises(SandboxViolation):
        sandbox.compile_expression("x.year").evaluate({"x": object()})


def test_errors_are_expression_errors_with_the_cause() -> None:
    with pytest.raises(ExpressionError) as caught:
        sandbox.compile_expression("1 / 0").evaluate({})
    assert "division by zero" in str(caught.value)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
