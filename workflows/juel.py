"""JUEL, Camunda 7's expression language in BPMN (`${...}`), translated into the sandbox's AST.

A small tokenizer and recursive-descent parser (no regex tricks, no eval) turn the text into Python AST nodes
that call internal operations (`$eq`, `$add`, `$prop`...). Those names contain `$`, which Python source cannot,
so a model's own Python can never reach them; the sandbox interprets the tree like any other.

Supported: `&& || !` and `and or not`, `== != < <= > >=` and `eq ne lt le gt ge`, `+ - * / %` and `div mod`,
unary minus, `empty`, `a ? b : c` (nested too), parentheses, `true false null`, strings in '…' or "…" with
backslash escapes, integers and decimals, identifiers, `a.b` and `a["b"]`/`a[0]`, calls of helpers `fn(x, y)`,
`execution.getVariable("x")` (null when x is not set) and `execution.hasVariable("x")`, and composite text
(`Frist: ${tage} Tage`, always a string). Everything else is an error that names the construct and its
position. Namespaced functions (`fn:upper(x)`) are refused as such; a `:` after a name closes an open `? :`
unless more `:` follow than the open `?` can take, so `a ? b : c(x)` is a conditional here (JUEL itself would
read `b:c(x)` as a namespaced call and fail).

Semantics follow the EL specification where Camunda users notice them:
- `+ - * %` are numeric: null counts as 0, numeric strings are converted, other strings are an error.
- `/` and `div` always divide as decimals; `%` of integers stays an integer.
- `==`: null equals only null; if either side is a number, both are compared as numbers (a non-numeric string
  is simply unequal); if either is a boolean, as booleans; otherwise as the values themselves; dates compare
  with ISO date strings by parsing the string.
- `< <= > >=`: null on either side gives false; numbers numerically, strings lexicographically, dates as dates.
- `! && || ? :` coerce to boolean: null is false, "true"/"false" strings are booleans; other values use
  Python truthiness.
- An unknown identifier is an error: "Cannot resolve identifier 'x'" (as in Camunda), except directly after
  `empty`: `${empty x}` is true when x is not set (a kimflow extension; Camunda 7 raises the error there too).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from workflows.errors import ExpressionError
from workflows.tokens import DIGITS, Token, TokenParser, call

WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
                  "ge": ">=", "div": "/", "mod": "%", "empty": "empty"}
SYMBOLS = ("&&", "||", "==", "!=", "<=", ">=", "!", "<", ">", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(",
           ")", "[", "]")
KEYWORDS = {"true": True, "false": False, "null": None}
FORBIDDEN_WORDS = {"instanceof", "new", "class"}

class JuelError(ExpressionError):
    pass


# --- tokenizer ------------------------------------------------------------------------------------------------


def tokenize(text: str, offset: int = 0) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in DIGITS:
            index = _scan_number(text, index, tokens, offset)
        elif char in "'\"":
            index = _scan_string(text, index, tokens, offset)
        elif char.isalpha() or char == "_":
            index = _scan_word(text, index, tokens, offset)
        else:
            index = _scan_symbol(text, index, tokens, offset)
    tokens.append(Token("end", None, offset + len(text)))
    return tokens


def _scan_number(text: str, index: int, tokens: list[Token], offset: int) -> int:
    end = index
    while end < len(text) and (text[end] in DIGITS or text[end] == "."):
        end += 1
    literal = text[index:end]
    try:
        value: Any = float(literal) if "." in literal else int(literal)
    except ValueError as error:
        raise JuelError(f"Malformed number {literal!r} at position {offset + index + 1}.") from error
    tokens.append(Token("number", value, offset + index))
    return end


def _scan_string(text: str, index: int, tokens: list[Token], offset: int) -> int:
    quote, end, chars = text[index], index + 1, []
    while end < len(text) and text[end] != quote:
        if text[end] == "\\" and end + 1 < len(text):
            end += 1
        chars.append(text[end])
        end += 1
    if end >= len(text):
        raise JuelError(f"Unterminated string starting at position {offset + index + 1}.")
    tokens.append(Token("string", "".join(chars), offset + index))
    return end + 1


def _scan_word(text: str, index: int, tokens: list[Token], offset: int) -> int:
    end = index
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    word = text[index:end]
    if word in WORD_OPERATORS:
        tokens.append(Token("op", WORD_OPERATORS[word], offset + index))
    elif word in FORBIDDEN_WORDS:
        raise JuelError(f"'{word}' is not supported in kimflow's JUEL (position {offset + index + 1}).")
    elif word.startswith("_"):
        raise JuelError(f"names starting with '_' are not allowed ('{word}' at position {offset + index + 1}).")
    elif word == "T" and text[end:].lstrip().startswith("("):
        raise JuelError(f"T(...) type references (Spring EL) are not JUEL (position {offset + index + 1}).")
    else:
        tokens.append(Token("name", word, offset + index))
    return end


def _scan_symbol(text: str, index: int, tokens: list[Token], offset: int) -> int:
    for symbol in SYMBOLS:
        if text.startswith(symbol, index):
            tokens.append(Token("op", symbol, offset + index))
            return index + len(symbol)
    raise JuelError(f"Unexpected character {text[index]!r} at position {offset + index + 1}.")


# --- parser: JUEL grammar to sandbox AST --------------------------------------------------------------------------




class _Parser(TokenParser):
    language = "JUEL"
    error_class = JuelError

    def __init__(self, tokens: list[Token]):
        super().__init__(tokens)
        self.open_ternaries = [0]  # per bracket level: `?` still waiting for their `:`

    def parse(self) -> ast.expr:
        expression = self.ternary()
        if self.current.kind != "end":
            raise self.error("unexpected text after the expression (assignments, ';' and lambdas are not "
                             "supported)")
        return expression

    def ternary(self) -> ast.expr:
        condition = self.disjunction()
        if self.accept("?"):
            self.open_ternaries[-1] += 1
            body = self.ternary()
            self.expect(":")
            self.open_ternaries[-1] -= 1
            return ast.IfExp(test=call("$bool", condition), body=body, orelse=self.ternary())
        return condition

    def nested(self) -> ast.expr:
        """An expression inside (), [] or call arguments: a `?` outside does not own a `:` in here."""
        self.open_ternaries.append(0)
        try:
            return self.ternary()
        finally:
            self.open_ternaries.pop()

    def disjunction(self) -> ast.expr:
        operands = [self.conjunction()]
        while self.accept("||"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else ast.BoolOp(op=ast.Or(), values=[call("$bool", o)
                                                                                      for o in operands])

    def conjunction(self) -> ast.expr:
        operands = [self.equality()]
        while self.accept("&&"):
            operands.append(self.equality())
        return operands[0] if len(operands) == 1 else ast.BoolOp(op=ast.And(), values=[call("$bool", o)
                                                                                       for o in operands])

    def _binary(self, next_level: Callable[[], ast.expr], operations: dict[str, str]) -> ast.expr:
        left = next_level()
        while (op := self.accept(*operations)) is not None:
            left = call(operations[op], left, next_level())
        return left

    def equality(self) -> ast.expr:
        return self._binary(self.relation, {"==": "$eq", "!=": "$ne"})

    def relation(self) -> ast.expr:
        return self._binary(self.additive, {"<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge"})

    def additive(self) -> ast.expr:
        return self._binary(self.multiplicative, {"+": "$add", "-": "$sub"})

    def multiplicative(self) -> ast.expr:
        return self._binary(self.unary, {"*": "$mul", "/": "$div", "%": "$mod"})

    def unary(self) -> ast.expr:
        if self.accept("!"):
            return call("$not", self.unary())
        if self.accept("-"):
            return call("$neg", self.unary())
        if self.accept("empty"):
            return call("$empty", _optional(self.unary()))
        return self.postfix(self.primary())

    def postfix(self, value: ast.expr) -> ast.expr:
        while True:
            if self.accept("."):
                token = self.current
                if token.kind != "name":
                    raise self.error("expected a property name after '.'")
                self.index += 1
                if self.current.kind == "op" and self.current.value == "(":
                    raise self.error(f"method calls like .{token.value}(...) are not supported; use a helper")
                value = call("$prop", value, ast.Constant(token.value))
            elif self.accept("["):
                index = self.nested()
                self.expect("]")
                value = call("$prop", value, index)
            else:
                return value

    def primary(self) -> ast.expr:
        token = self.current
        if token.kind in ("number", "string"):
            self.index += 1
            return ast.Constant(token.value)
        if token.kind == "name":
            return self.name(token)
        if self.accept("("):
            inner = self.nested()
            self.expect(")")
            return inner
        raise self.error("expected a value")

    def name(self, token: Token) -> ast.expr:
        self.index += 1
        if token.value in KEYWORDS:
            return ast.Constant(KEYWORDS[token.value])
        if self.is_op(":") and not self._colon_ends_ternary():
            raise self.error("namespaced EL functions (prefix:name) are not supported")
        if token.value == "execution" and self.is_op("."):
            return self.execution_method()
        if self.accept("("):
            return ast.Call(func=ast.Name(id=token.value, ctx=ast.Load()), args=self.arguments(), keywords=[])
        return call("$var", ast.Constant(token.value))

    def arguments(self) -> list[ast.expr]:
        args: list[ast.expr] = []
        if not self.accept(")"):
            args.append(self.nested())
            while self.accept(","):
                args.append(self.nested())
            self.expect(")")
        return args

    def _colon_ends_ternary(self) -> bool:
        """At a `:` after a name: does it close an open `a ? b : c`, or is it a prefix:name separator?

        A `?` on this bracket level is still waiting for a `:`. The `:` belongs to it unless more `:` follow on
        this level than the remaining `?` (nested ternaries) and the open ones can take: then one of them is
        a namespace separator, and this is the first place where it can be one.
        """
        waiting = self.open_ternaries[-1]
        if waiting == 0:
            return False
        colons, depth = 0, 0
        for token in self.tokens[self.index:]:
            if token.kind == "op" and token.value in ("(", "["):
                depth += 1
            elif token.kind == "op" and token.value in (")", "]"):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and token.kind == "op" and token.value in (":", "?"):
                colons += 1 if token.value == ":" else -1
        return colons <= waiting

    def execution_method(self) -> ast.expr:
        """`execution.getVariable("x")` (null when x is not set) and `execution.hasVariable("x")`."""
        self.expect(".")
        method = self.current
        self.index += 1
        operations = {"getVariable": "$getvar", "hasVariable": "$hasvar"}
        if method.kind != "name" or method.value not in operations or not self.accept("("):
            raise JuelError(f"JUEL: of the execution object only getVariable(name) and hasVariable(name) are "
                            f"supported (position {method.position + 1}).")
        args = self.arguments()
        if len(args) != 1:
            raise JuelError(f"JUEL: execution.{method.value} takes one argument, the variable's name "
                            f"(position {method.position + 1}).")
        return call(operations[str(method.value)], args[0])


def _optional(tree: ast.expr) -> ast.expr:
    """`empty x` with a bare name: a variable that is not set is empty (instead of an unknown identifier)."""
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "$var":
        return call("$getvar", *tree.args)
    return tree


def parse(text: str) -> ast.expr:
    """Parse a JUEL text (one `${...}` or composite text) into a sandbox expression tree."""
    parts = _split(text)
    trees: list[ast.expr] = []
    for is_code, chunk, offset in parts:
        if is_code:
            tree = _Parser(tokenize(chunk, offset)).parse()
            trees.append(tree)
        elif chunk:
            trees.append(ast.Constant(chunk))
    if len(parts) == 1 and parts[0][0]:
        return _located(trees[0])
    return _located(call("$concat", *trees))


def _located(tree: ast.expr) -> ast.expr:
    return ast.fix_missing_locations(ast.Expression(body=tree)).body


def _split(text: str) -> list[tuple[bool, str, int]]:
    """Literal text and `${...}`/`#{...}` parts (with the position of each part's code)."""
    parts: list[tuple[bool, str, int]] = []
    index = 0
    while index < len(text):
        start = min((p for p in (text.find("${", index), text.find("#{", index)) if p >= 0), default=-1)
        if start < 0:
            parts.append((False, text[index:], index))
            break
        if start > index:
            parts.append((False, text[index:start], index))
        end = _closing_brace(text, start + 2)
        parts.append((True, text[start + 2:end], start + 2))
        index = end + 1
    if len(parts) == 1 and not parts[0][0]:
        return parts
    stripped = [p for p in parts if p[0] or p[1]]
    return stripped if stripped else parts


def _closing_brace(text: str, index: int) -> int:
    quote = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "}":
            return index
        index += 1
    if quote:
        raise JuelError(f"JUEL: Unterminated string (a {quote} is not closed).")
    raise JuelError("JUEL: '${' without a closing '}'.")


# --- operations (the `$` names the translated trees call) ---------------------------------------------------------


def _number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ExpressionError(f"Cannot coerce boolean {value} to a number.")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ExpressionError(f"Cannot coerce {value!r} to a number.") from None
    raise ExpressionError(f"Cannot coerce {type(value).__name__} to a number.")


def _boolean(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return bool(value)


def _as_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _dates(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, date) or isinstance(right, date):
        left, right = _as_date(left), _as_date(right)
        if isinstance(left, datetime) != isinstance(right, datetime):
            left = left.date() if isinstance(left, datetime) else left
            right = right.date() if isinstance(right, datetime) else right
    return left, right


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    left, right = _dates(left, right)
    if isinstance(left, bool) or isinstance(right, bool):
        return _boolean(left) == _boolean(right)
    if isinstance(left, int | float) or isinstance(right, int | float):
        try:
            return _number(left) == _number(right)
        except ExpressionError:
            return False
    return bool(left == right)


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        left, right = _dates(left, right)
        if isinstance(left, int | float) or isinstance(right, int | float):
            return check(_number(left), _number(right))
        try:
            return check(left, right)
        except TypeError as error:
            raise ExpressionError(f"Cannot compare {type(left).__name__} with {type(right).__name__}.") from error

    return compare


def _divide(left: Any, right: Any) -> float:
    divisor = _number(right)
    if divisor == 0:
        raise ExpressionError("division by zero")
    return _number(left) / divisor


def _modulo(left: Any, right: Any) -> int | float:
    divisor = _number(right)
    if divisor == 0:
        raise ExpressionError("division by zero")
    return _number(left) % divisor


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict | set) and len(value) == 0)


def _property(value: Any, key: Any) -> Any:
    """`a.b` and `a["b"]`: map lookup for dicts, index for lists, whitelisted attributes otherwise."""
    if value is None:
        raise ExpressionError(f"Cannot resolve property {key!r} of null.")
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list | tuple | str):
        try:
            return value[int(_number(key))]
        except IndexError:
            return None
    from workflows.sandbox import attribute

    return attribute(value, str(key))


def _concat(*parts: Any) -> str:
    return "".join("" if part is None else (str(part).lower() if isinstance(part, bool) else str(part))
                   for part in parts)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "$bool": _boolean,
    "$not": lambda value: not _boolean(value),
    "$neg": lambda value: -_number(value),
    "$eq": _equal,
    "$ne": lambda left, right: not _equal(left, right),
    "$lt": _compare(lambda a, b: a < b),
    "$le": _compare(lambda a, b: a <= b),
    "$gt": _compare(lambda a, b: a > b),
    "$ge": _compare(lambda a, b: a >= b),
    "$add": lambda left, right: _number(left) + _number(right),
    "$sub": lambda left, right: _number(left) - _number(right),
    "$mul": lambda left, right: _number(left) * _number(right),
    "$div": _divide,
    "$mod": _modulo,
    "$empty": _empty,
    "$prop": _property,
    "$concat": _concat,
}
