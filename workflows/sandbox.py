"""The safe evaluator for conditions, attribute expressions and script tasks.

A deployed model can compute; it cannot reach the machine. Texts are parsed with `ast.parse` (Python) or
workflows.juel (Camunda's JUEL, `${...}`) and then *interpreted* node by node here — Python's `eval`/`exec`
never see them. Only the node types listed below exist, names starting with `_` do not, attributes are
whitelisted per type, calls reach only helpers passed in, a fixed set of safe builtins, whitelisted methods
and `defined("x")` / `get("x", default)` (is a variable set; its value or a default), and every evaluation has
a step and time budget. What is visible in the text (imports, dunder access, lambdas...) is refused at compile
time — so at deploy time — with the construct and its position.

Supported Python: literals, names, arithmetic and comparisons, boolean logic, conditional expressions,
list/tuple/set/dict displays, subscripts and slices, comprehensions, f-strings, calls; in scripts also
assignment (names, subscripts, unpacking), augmented assignment, if/for/while/break/continue/pass, del.
"""

from __future__ import annotations

import ast
import operator
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from workflows.durations import Duration
from workflows.errors import EvaluationTimeout, ExpressionError, SandboxViolation


@dataclass(frozen=True)
class Limits:
    time_limit: float = 1.0  # seconds of time.monotonic() per evaluation
    max_steps: int = 200_000  # interpreter node visits per evaluation
    max_collection: int = 100_000  # largest list/str/dict/range an evaluation may build


FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "globals", "locals", "vars", "getattr", "setattr", "delattr", "input",
    "breakpoint", "help", "exit", "quit", "memoryview", "type", "object", "super", "dir", "id", "hasattr",
    "classmethod", "staticmethod", "property", "issubclass", "isinstance", "callable", "print", "format",
})

_STR_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "replace",
                "join", "title", "capitalize", "casefold", "isdigit", "isalpha", "isalnum", "zfill", "count", "find",
                "splitlines", "isspace", "islower", "isupper", "center", "ljust", "rjust"}
_DICT_METHODS = {"get", "keys", "values", "items", "copy", "update", "pop", "setdefault"}
_LIST_METHODS = {"append", "extend", "pop", "insert", "remove", "index", "count", "copy", "sort", "reverse"}
_SET_METHODS = {"add", "discard", "union", "intersection", "difference", "issubset", "issuperset", "copy"}
_DATE_ATTRS = {"year", "month", "day", "weekday", "isoweekday", "isoformat", "replace", "strftime", "toordinal"}
_DATETIME_ATTRS = _DATE_ATTRS | {"hour", "minute", "second", "microsecond", "date", "timestamp", "astimezone",
                                 "tzinfo"}
_TIMEDELTA_ATTRS = {"days", "seconds", "microseconds", "total_seconds"}

ALLOWED_ATTRIBUTES: list[tuple[type | tuple[type, ...], frozenset[str]]] = [
    (str, frozenset(_STR_METHODS)),
    (dict, frozenset(_DICT_METHODS)),
    (list, frozenset(_LIST_METHODS)),
    ((set, frozenset), frozenset(_SET_METHODS)),
    (datetime, frozenset(_DATETIME_ATTRS)),
    (date, frozenset(_DATE_ATTRS)),
    (timedelta, frozenset(_TIMEDELTA_ATTRS)),
    (tuple, frozenset({"count", "index"})),
    (Duration, frozenset({"years", "months", "days", "seconds", "negative", "is_zero"})),
]
ALL_ATTRIBUTE_NAMES = frozenset().union(*(names for _kind, names in ALLOWED_ATTRIBUTES))

EXPRESSION_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del, ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Subscript,
    ast.Slice, ast.Attribute, ast.Call, ast.keyword, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.comprehension, ast.JoinedStr, ast.FormattedValue, ast.Starred,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd, ast.Not,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)
STATEMENT_NODES = (ast.Module, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.While, ast.Break,
                   ast.Continue, ast.Pass, ast.Expr, ast.Delete)
CONSTANT_TYPES = (int, float, str, bool, type(None))


# --- compiling ---------------------------------------------------------------------------------------------


def is_juel(text: str) -> bool:
    """A Camunda expression: the text contains a `${...}` or `#{...}` part."""
    return "${" in text or "#{" in text


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, variables: Mapping[str, Any], helpers: Mapping[str, Callable[..., Any]] | None = None,
                 limits: Limits | None = None) -> Any:
        interpreter = _Interpreter(dict(variables), helpers or {}, limits or Limits(), writable=False)
        return interpreter.run(lambda: interpreter.eval(self.tree))


@dataclass(frozen=True)
class Script:
    source: str
    tree: ast.Module

    def execute(self, variables: dict[str, Any], helpers: Mapping[str, Callable[..., Any]] | None = None,
                limits: Limits | None = None) -> None:
        """Run the statements; top-level names they bind are written into `variables`."""
        interpreter = _Interpreter(variables, helpers or {}, limits or Limits(), writable=True)
        interpreter.run(lambda: interpreter.exec_block(self.tree.body))
        for name in [k for k, v in variables.items() if isinstance(v, _BoundMethod) or callable(v)]:
            del variables[name]


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    if text is None:
        raise ExpressionError("An expression is missing.")
    if is_juel(text):
        from workflows import juel

        tree = juel.parse(text)
    else:
        tree = _parse(text.strip(), "eval").body  # type: ignore[attr-defined]
    _validate(tree, text, EXPRESSION_NODES)
    return Expression(text, tree, frozenset(_free_names(tree)))


def compile_tree(source: str, tree: ast.expr) -> Expression:
    """An Expression from a tree another language's parser built (workflows.feel), checked like any other."""
    _validate(tree, source, EXPRESSION_NODES)
    return Expression(source, tree, frozenset(_free_names(tree)))


@lru_cache(maxsize=2048)
def compile_script(text: str) -> Script:
    module = _parse(_dedent(text or ""), "exec")
    _validate(module, text, EXPRESSION_NODES + STATEMENT_NODES)
    return Script(text, module)  # type: ignore[arg-type]


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


def _parse(text: str, mode: str) -> ast.AST:
    try:
        return ast.parse(text, mode=mode)
    except SyntaxError as error:
        where = f" (line {error.lineno}, column {error.offset})" if error.lineno else ""
        raise ExpressionError(f"Syntax error{where}: {error.msg}") from error


def _where(node: ast.AST) -> str:
    line = getattr(node, "lineno", None)
    return f" at line {line}, column {getattr(node, 'col_offset', 0) + 1}" if line else ""


def _validate(tree: ast.AST, source: str, allowed: tuple[type, ...]) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise SandboxViolation(f"{_describe(node)} is not allowed{_where(node)}.")
        _check_node(node)


def _describe(node: ast.AST) -> str:
    names = {ast.Import: "import", ast.ImportFrom: "import", ast.Lambda: "lambda", ast.FunctionDef: "def",
             ast.AsyncFunctionDef: "def", ast.ClassDef: "class", ast.With: "with", ast.Try: "try",
             ast.Raise: "raise", ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Yield: "yield",
             ast.YieldFrom: "yield", ast.Await: "await", ast.NamedExpr: "the walrus operator (:=)",
             ast.Assert: "assert", ast.Return: "return"}
    return names.get(type(node), type(node).__name__)


def _check_node(node: ast.AST) -> None:
    if isinstance(node, ast.Name) and not node.id.startswith("$"):
        if node.id.startswith("_") or node.id in FORBIDDEN_NAMES:
            raise SandboxViolation(f"the name {node.id!r} is not allowed{_where(node)}.")
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_") or node.attr not in ALL_ATTRIBUTE_NAMES:
            raise SandboxViolation(f"attribute {node.attr!r} is not allowed{_where(node)}.")
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, CONSTANT_TYPES):
            raise SandboxViolation(f"{type(node.value).__name__} literals are not allowed{_where(node)}.")
    elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            _check_target(target)


def _check_target(target: ast.AST) -> None:
    if isinstance(target, ast.Attribute):
        raise SandboxViolation(f"assigning to attributes is not allowed{_where(target)}.")
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            _check_target(element)


def _free_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and not n.id.startswith("$")}


# --- interpreting ----------------------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(frozen=True)
class _BoundMethod:
    """A whitelisted method of a value; the real bound method never reaches model code."""

    target: Any
    name: str

    def call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return getattr(self.target, self.name)(*args, **kwargs)


def _safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > _current_limits().max_collection:
        raise SandboxViolation(f"range of {len(result)} items is larger than allowed.")
    return result


SAFE_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "sum": sum, "abs": abs, "round": round, "sorted": sorted,
    "reversed": lambda x: list(reversed(x)), "any": any, "all": all, "str": str, "int": int, "float": float,
    "bool": bool, "list": list, "dict": dict, "set": set, "tuple": tuple, "range": _safe_range,
    "enumerate": lambda x, start=0: list(enumerate(x, start)), "zip": lambda *xs: list(zip(*xs, strict=False)),
}

_LIMITS: list[Limits] = [Limits()]


@lru_cache(maxsize=1)
def _internal_operations() -> dict[str, Callable[..., Any]]:
    """The `$` operations translated JUEL and FEEL trees call (model source can never name them)."""
    from workflows import feel_functions, juel

    return {**juel.OPERATIONS, **feel_functions.OPERATIONS}


def _current_limits() -> Limits:
    return _LIMITS[-1]


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos,
                                           ast.Not: operator.not_}
_MISSING = object()
FEEL_CONTEXT = "$fcontext"  # a comprehension name that puts a context's entries in scope (FEEL filters)


class _Interpreter:
    def __init__(self, variables: dict[str, Any], helpers: Mapping[str, Callable[..., Any]], limits: Limits,
                 *, writable: bool):
        self.variables = variables
        self.helpers = helpers
        self.limits = limits
        self.writable = writable
        self.scopes: list[dict[str, Any]] = []
        self.steps = 0
        self.deadline = 0.0
        self.internal = _internal_operations()
        self.variable_access: dict[str, Callable[..., Any]] = {
            "defined": self._defined, "get": self._get, "$hasvar": self._defined, "$getvar": self._get}

    # --- budget and errors ---------------------------------------------------------------------------------

    def run(self, body: Callable[[], Any]) -> Any:
        self.deadline = time.monotonic() + self.limits.time_limit
        _LIMITS.append(self.limits)
        try:
            return body()
        except (ExpressionError, _Break, _Continue):
            raise
        except RecursionError as error:
            raise SandboxViolation("the expression nests too deeply.") from error
        except Exception as error:
            raise ExpressionError(_message(error)) from error
        finally:
            _LIMITS.pop()

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise EvaluationTimeout(f"stopped after {self.limits.max_steps} steps (step budget exceeded).")
        if self.steps % 512 == 0 and time.monotonic() > self.deadline:
            raise EvaluationTimeout(f"stopped after {self.limits.time_limit} s (time limit exceeded).")

    # --- expressions -----------------------------------------------------------------------------------------

    def eval(self, node: ast.AST) -> Any:
        self.tick()
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise SandboxViolation(f"{type(node).__name__} is not allowed.")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        value = self.lookup(node.id)
        if value is _MISSING:
            raise ExpressionError(f"name {node.id!r} is not defined")
        return value

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.variables:
            return self.variables[name]
        if name in self.helpers:
            return self.helpers[name]
        if name in self.variable_access:
            return self.variable_access[name]
        if name.startswith("$"):
            return self.internal[name]
        return SAFE_BUILTINS.get(name, _MISSING)

    def _variable(self, name: Any) -> Any:
        """A process variable (or a comprehension's name) by its name as text; _MISSING if it is not set."""
        if not isinstance(name, str):
            raise ExpressionError(f"a variable name must be text, not {type(name).__name__}")
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.variables.get(name, _MISSING)

    def _defined(self, name: Any) -> bool:
        """`defined("x")`, JUEL `execution.hasVariable("x")`: is the variable set (to any value, null too)?"""
        return self._variable(name) is not _MISSING

    def _get(self, name: Any, default: Any = None) -> Any:
        """`get("x", default)`, JUEL `execution.getVariable("x")`: the variable, or the default if it is not set."""
        value = self._variable(name)
        return default if value is _MISSING else value

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        _guard_binary(type(node.op), left, right, self.limits)
        return _BINARY[type(node.op)](left, right)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.eval(node.operand))

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _List(self, node: ast.List) -> Any:
        return self._sized(self._elements(node.elts))

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self._elements(node.elts))

    def _Set(self, node: ast.Set) -> Any:
        return set(self._elements(node.elts))

    def _elements(self, nodes: list[ast.expr]) -> list[Any]:
        values: list[Any] = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                values.extend(self.eval(element.value))
            else:
                values.append(self.eval(element))
        return values

    def _Dict(self, node: ast.Dict) -> Any:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                result.update(self.eval(value))
            else:
                result[self.eval(key)] = self.eval(value)
        return self._sized(result)

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self.eval(node.value)[self.eval(node.slice)]

    def _Slice(self, node: ast.Slice) -> Any:
        return slice(*(self.eval(part) if part is not None else None for part in (node.lower, node.upper, node.step)))

    def _Attribute(self, node: ast.Attribute) -> Any:
        return attribute(self.eval(node.value), node.attr)

    def _Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in ("$var", "$fvar"):  # a JUEL or FEEL name
            return self._identifier(node.func.id, node.args[0].value)  # type: ignore[attr-defined]
        function = self.eval(node.func)
        args = self._elements(node.args)
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg}
        if isinstance(function, _BoundMethod):
            return self._sized(function.call(args, kwargs))
        if not self._may_call(function):
            raise SandboxViolation("only helpers, safe builtins and allowed methods can be called.")
        return self._sized(function(*args, **kwargs))

    def _identifier(self, kind: str, name: str) -> Any:
        if kind == "$fvar":  # FEEL: a name that is not defined is null; helpers are functions, not values
            return self._feel_name(name)
        value = self.lookup(name)
        if value is _MISSING:
            raise ExpressionError(f"Cannot resolve identifier '{name}'")
        return value

    def _feel_name(self, name: str) -> Any:
        """Inner scopes first; in a filter the entries of the item (a context) are names too (DMN 1.3 10.3.2.5)."""
        for scope in reversed(self.scopes):
            context = scope.get(FEEL_CONTEXT)
            if isinstance(context, dict) and name in context:
                return context[name]
            if name in scope:
                return scope[name]
        return self.variables.get(name)

    def _may_call(self, function: Any) -> bool:
        known = [*self.helpers.values(), *SAFE_BUILTINS.values(), *self.internal.values(),
                 *self.variable_access.values()]
        return any(function is candidate for candidate in known)

    def _JoinedStr(self, node: ast.JoinedStr) -> Any:
        return self._sized("".join(str(self.eval(part)) for part in node.values))

    def _FormattedValue(self, node: ast.FormattedValue) -> Any:
        value = self.eval(node.value)
        if node.conversion == ord("r"):
            value = repr(value)
        spec = self.eval(node.format_spec) if node.format_spec is not None else ""
        if len(spec) > 20:
            raise SandboxViolation("format specification too long.")
        return format(value, spec)

    def _ListComp(self, node: ast.ListComp) -> Any:
        return self._sized([value for value in self._comprehend(node.generators, lambda: self.eval(node.elt))])

    def _GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        return self._ListComp(node)  # type: ignore[arg-type]

    def _SetComp(self, node: ast.SetComp) -> Any:
        return self._sized(set(self._comprehend(node.generators, lambda: self.eval(node.elt))))

    def _DictComp(self, node: ast.DictComp) -> Any:
        pairs = self._comprehend(node.generators, lambda: (self.eval(node.key), self.eval(node.value)))
        return self._sized(dict(pairs))

    def _comprehend(self, generators: list[ast.comprehension], element: Callable[[], Any]) -> list[Any]:
        results: list[Any] = []
        self.scopes.append({})
        try:
            self._generate(generators, 0, element, results)
        finally:
            self.scopes.pop()
        return results

    def _generate(self, generators: list[ast.comprehension], index: int, element: Callable[[], Any],
                  results: list[Any]) -> None:
        if index == len(generators):
            results.append(element())
            self._sized(results)
            return
        generator = generators[index]
        for item in self.eval(generator.iter):
            self.tick()
            self.bind(generator.target, item, self.scopes[-1])
            if all(self.eval(condition) for condition in generator.ifs):
                self._generate(generators, index + 1, element, results)

    def _sized(self, value: Any) -> Any:
        if isinstance(value, str | list | tuple | dict | set | bytes) and len(value) > self.limits.max_collection:
            raise SandboxViolation(f"a value of {len(value)} items is larger than allowed "
                                   f"({self.limits.max_collection}).")
        return value

    # --- statements ------------------------------------------------------------------------------------------

    def exec_block(self, statements: Iterable[ast.stmt]) -> None:
        for statement in statements:
            self.tick()
            method = getattr(self, "_stmt_" + type(statement).__name__)
            method(statement)

    def _stmt_Expr(self, node: ast.Expr) -> None:
        self.eval(node.value)

    def _stmt_Pass(self, node: ast.Pass) -> None:
        return None

    def _stmt_Break(self, node: ast.Break) -> None:
        raise _Break

    def _stmt_Continue(self, node: ast.Continue) -> None:
        raise _Continue

    def _stmt_Assign(self, node: ast.Assign) -> None:
        value = self.eval(node.value)
        for target in node.targets:
            self.bind(target, value, self.variables)

    def _stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, self.eval(node.value), self.variables)

    def _stmt_AugAssign(self, node: ast.AugAssign) -> None:
        current = self.eval(_as_load(node.target))
        value = self.eval(node.value)
        _guard_binary(type(node.op), current, value, self.limits)
        self.bind(node.target, self._sized(_BINARY[type(node.op)](current, value)), self.variables)

    def _stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.variables.pop(target.id, None)
            elif isinstance(target, ast.Subscript):
                del self.eval(target.value)[self.eval(target.slice)]

    def _stmt_If(self, node: ast.If) -> None:
        self.exec_block(node.body if self.eval(node.test) else node.orelse)

    def _stmt_For(self, node: ast.For) -> None:
        for item in list(self.eval(node.iter)):
            self.bind(node.target, item, self.variables)
            try:
                self.exec_block(node.body)
            except _Break:
                return
            except _Continue:
                continue
        self.exec_block(node.orelse)

    def _stmt_While(self, node: ast.While) -> None:
        while self.eval(node.test):
            try:
                self.exec_block(node.body)
            except _Break:
                return
            except _Continue:
                continue
        self.exec_block(node.orelse)

    def bind(self, target: ast.AST, value: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            if target.id in self.helpers:
                raise SandboxViolation(f"{target.id!r} is a helper and cannot be assigned to.")
            scope[target.id] = value
        elif isinstance(target, ast.Subscript):
            self.eval(target.value)[self.eval(target.slice)] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = list(value)
            if len(items) != len(target.elts):
                raise ExpressionError(f"cannot unpack {len(items)} values into {len(target.elts)} names")
            for element, item in zip(target.elts, items, strict=True):
                self.bind(element, item, scope)
        else:
            raise SandboxViolation(f"cannot assign to {type(target).__name__}.")


def _as_load(target: ast.expr) -> ast.expr:
    copy = ast.copy_location(type(target)(**{f: getattr(target, f) for f in target._fields}), target)
    copy.ctx = ast.Load()  # type: ignore[attr-defined]
    return copy


def attribute(value: Any, name: str) -> Any:
    """A whitelisted attribute of a value; methods come back wrapped (never as real bound methods)."""
    for kind, names in ALLOWED_ATTRIBUTES:
        if isinstance(value, kind) and name in names:
            found = getattr(value, name)
            return _BoundMethod(value, name) if callable(found) else found
    raise SandboxViolation(f"attribute {name!r} of {type(value).__name__} is not allowed.")


MAX_POWER_BITS = 4096


def _huge_power(left: Any, right: Any) -> bool:
    if not (isinstance(left, int) and isinstance(right, int)) or isinstance(left, bool):
        return False
    return right > 0 and abs(left) > 1 and right * max(abs(left).bit_length(), 1) > MAX_POWER_BITS


def _guard_binary(op: type, left: Any, right: Any, limits: Limits) -> None:
    """Refuse results that would be huge before computing them (9**9**9, 'a' * 10**9)."""
    if op is ast.Pow and _huge_power(left, right):
        raise SandboxViolation(f"{left} ** {right} is too large.")
    if op is ast.Mult:
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(count, int) and \
                    len(sequence) * max(count, 0) > limits.max_collection:
                raise SandboxViolation("the repeated sequence would be larger than allowed.")
        if isinstance(left, int) and isinstance(right, int) and \
                left.bit_length() + right.bit_length() > MAX_POWER_BITS * 4:
            raise SandboxViolation("the product is too large.")


def _message(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"key {error.args[0]!r} not found"
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    return str(error) or error.__class__.__name__
