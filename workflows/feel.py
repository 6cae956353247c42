"""FEEL, the expression language of DMN (and of Camunda Forms), translated into the sandbox's AST.

As with workflows.juel, a tokenizer and a recursive-descent parser turn the text into Python AST nodes that
call internal operations (`$f_eq`, `$f_add`, `$feel:string length`...); the sandbox interprets the tree with its
step and time budget, so a decision table can compute but never reach the machine.

Two entry points:
- `compile_expression(text)` — a FEEL expression (input expressions, output entries, literal expressions,
  form conditions; a leading `=` as Camunda Forms write it is allowed).
- `compile_unary_tests(text)` — a DMN input entry: `-`, `>= 18`, `"A2","B1"`, `[1..5]`, `(0..10]`, `not("x")`,
  `null`, `< date("2026-01-01")`, or an expression that uses `?` for the input value (`? > 3 and ? < 9`).

Supported expressions: literals (numbers, "strings", true, false, null, `@"2026-01-01"` temporal literals),
names, `a.b` paths, lists `[1, 2]` and filters `list[item > 2]` / `list[1]` (1-based, negative from the end;
in a list of contexts the entries of each are names of their own: `kinder[alter < 18]`, DMN 1.3 10.3.2.5),
contexts `{a: 1, "b": 2}`, `+ - * / **`, `= != < <= > >=`, `and or` (three-valued), `between x and y`,
`x in <unary tests>`, `if c then a else b`, `for x in list return e`, `some/every x in list satisfies c`,
and the built-in functions in workflows.feel_functions plus kimflow's helpers (`frist(...)`, ...).
A name that is not defined evaluates to null, as the FEEL specification says. Unary tests are three-valued
(true, false, null) as in DMN 1.3 and Camunda 7's FEEL engine: `not(1)` does not match "b" (null), and neither
does `1`; only a test that is true makes a rule match (tests/test_feel__unary_tests.py goes through the cases).

Why our own parser: the Python FEEL implementations on PyPI (pySFeel 1.4, last release 2022, S-FEEL with
deliberate deviations such as a required `item` in filters and an assignment extension; bkflow-feel 1.2, last
release 2023) evaluate directly in Python, outside kimflow's sandbox: no step or time budget for a decision
table that a process owner deploys, and their own notion of which Python objects an expression may reach.
Translating FEEL into the sandbox's tree gives one security model and one budget for JUEL, Python and FEEL.
"""

from __future__ import annotations

import ast
import itertools
from functools import lru_cache
from typing import Any

from workflows.errors import ExpressionError
from workflows.feel_functions import BUILTINS, MULTI_WORD_NAMES
from workflows.sandbox import FEEL_CONTEXT
from workflows.tokens import DIGITS, Token, TokenParser, call

SYMBOLS = ("..", "**", "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", "{", "}", ",", ".",
           ":")
KEYWORDS = {"true": True, "false": False, "null": None}
RESERVED = {"if", "then", "else", "for", "in", "return", "some", "every", "satisfies", "and", "or", "between",
            "instance", "of", "function"}
INPUT_NAME = "?"
MAX_TEXT = 20_000

class FeelError(ExpressionError):
    pass


# --- tokenizer ---------------------------------------------------------------------------------------------


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_TEXT:
        raise FeelError(f"FEEL: the expression is longer than {MAX_TEXT} characters.")
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        index = _scan(text, index, tokens)
    tokens.append(Token("end", None, len(text)))
    return tokens


def _skip(text: str, index: int) -> int:
    """The index after white space or a comment at `index` (unchanged if there is none)."""
    if text[index].isspace():
        return index + 1
    if text.startswith("//", index):
        end = text.find("\n", index)
        return len(text) if end < 0 else end
    if text.startswith("/*", index):
        end = text.find("*/", index + 2)
        if end < 0:
            raise FeelError(f"FEEL: comment not closed (position {index + 1}).")
        return end + 2
    return index


def _scan(text: str, index: int, tokens: list[Token]) -> int:
    skipped = _skip(text, index)
    if skipped != index:
        return skipped
    char = text[index]
    if char in DIGITS or (char == "." and index + 1 < len(text) and text[index + 1] in DIGITS):
        return _scan_number(text, index, tokens)
    if char == '"':
        return _scan_string(text, index, tokens, "string")
    if char == "@" and text.startswith('@"', index):
        return _scan_string(text, index + 1, tokens, "temporal")
    if char.isalpha() or char in "_?":
        return _scan_name(text, index, tokens)
    return _scan_symbol(text, index, tokens)


def _scan_number(text: str, index: int, tokens: list[Token]) -> int:
    end = index
    while end < len(text) and text[end] in DIGITS:
        end += 1
    if text.startswith(".", end) and not text.startswith("..", end):
        end += 1
        while end < len(text) and text[end] in DIGITS:
            end += 1
    literal = text[index:end]
    tokens.append(Token("number", float(literal) if "." in literal else int(literal), index))
    return end


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}


def _scan_string(text: str, index: int, tokens: list[Token], kind: str) -> int:
    chars: list[str] = []
    end = index + 1
    while end < len(text) and text[end] != '"':
        if text[end] == "\\" and end + 1 < len(text):
            end, char = _escape(text, end + 1)
            chars.append(char)
        else:
            chars.append(text[end])
            end += 1
    if end >= len(text):
        raise FeelError(f"FEEL: string not closed (position {index + 1}).")
    tokens.append(Token(kind, "".join(chars), index))
    return end + 1


def _escape(text: str, index: int) -> tuple[int, str]:
    char = text[index]
    if char == "u" and index + 5 <= len(text):
        try:
            return index + 5, chr(int(text[index + 1:index + 5], 16))
        except ValueError:
            raise FeelError(f"FEEL: bad \\u escape at position {index}.") from None
    return index + 1, _ESCAPES.get(char, "\\" + char)


def _scan_name(text: str, index: int, tokens: list[Token]) -> int:
    for name in MULTI_WORD_NAMES:  # "string length(", "date and time(" ... (longest first)
        if text.startswith(name, index) and text[index + len(name):].lstrip().startswith("("):
            tokens.append(Token("name", name, index))
            return index + len(name)
    end = index + 1
    while end < len(text) and (text[end].isalnum() or text[end] in "_?"):
        end += 1
    tokens.append(Token("name", text[index:end], index))
    return end


def _scan_symbol(text: str, index: int, tokens: list[Token]) -> int:
    for symbol in SYMBOLS:
        if text.startswith(symbol, index):
            tokens.append(Token("op", symbol, index))
            return index + len(symbol)
    raise FeelError(f"FEEL: unexpected character {text[index]!r} at position {index + 1}.")


# --- tree helpers ------------------------------------------------------------------------------------------




def _variable(name: str) -> ast.Call:
    return call("$fvar", ast.Constant(name))


def _list(items: list[ast.expr]) -> ast.List:
    return ast.List(elts=items, ctx=ast.Load())


def _comprehension(name: str, iterable: ast.expr) -> ast.comprehension:
    return ast.comprehension(target=ast.Name(id=name, ctx=ast.Store()), iter=call("$f_iter", iterable), ifs=[],
                             is_async=0)


# --- parser ------------------------------------------------------------------------------------------------


class _Parser(TokenParser):
    language = "FEEL"
    error_class = FeelError

    def __init__(self, tokens: list[Token]):
        super().__init__(tokens)
        self.in_interval = False  # `]1..5[`: the closing bracket is not a filter

    def is_word(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.value in words

    def accept_word(self, *words: str) -> str | None:
        if self.is_word(*words):
            self.index += 1
            return str(self.tokens[self.index - 1].value)
        return None

    def expect_word(self, word: str) -> None:
        if self.accept_word(word) is None:
            raise self.error(f"expected '{word}'")

    def finish(self, tree: ast.expr) -> ast.expr:
        if self.current.kind != "end":
            raise self.error("unexpected text after the expression")
        return tree

    # --- expressions ---------------------------------------------------------------------------------------

    def expression(self) -> ast.expr:
        if self.accept_word("if"):
            return self.conditional()
        if self.accept_word("for"):
            return self.for_loop()
        if self.is_word("some", "every") and self.peek().kind == "name":
            return self.quantified(str(self.accept_word("some", "every")))
        if self.is_word("function"):
            raise self.error("function definitions are not supported")
        return self.disjunction()

    def conditional(self) -> ast.expr:
        condition = self.expression()
        self.expect_word("then")
        body = self.expression()
        self.expect_word("else")
        return ast.IfExp(test=call("$f_true", condition), body=body, orelse=self.expression())

    def _iterations(self) -> list[ast.comprehension]:
        generators = []
        while True:
            name = self.loop_name()
            self.expect_word("in")
            start = self.expression()
            if self.accept(".."):
                start = call("$f_range", start, self.expression())
            generators.append(_comprehension(name, start))
            if not self.accept(","):
                return generators

    def loop_name(self) -> str:
        token = self.current
        if token.kind != "name" or token.value in RESERVED or token.value in KEYWORDS:
            raise self.error("expected a variable name")
        self.index += 1
        return str(token.value)

    def for_loop(self) -> ast.expr:
        generators = self._iterations()
        self.expect_word("return")
        return ast.ListComp(elt=self.expression(), generators=generators)

    def quantified(self, kind: str) -> ast.expr:
        generators = self._iterations()
        self.expect_word("satisfies")
        checks = ast.ListComp(elt=call("$f_true", self.expression()), generators=generators)
        return call("$f_some" if kind == "some" else "$f_every", checks)

    def disjunction(self) -> ast.expr:
        operands = [self.conjunction()]
        while self.accept_word("or"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else call("$f_or", *operands)

    def conjunction(self) -> ast.expr:
        operands = [self.comparison()]
        while self.accept_word("and"):
            operands.append(self.comparison())
        return operands[0] if len(operands) == 1 else call("$f_and", *operands)

    _COMPARISONS = {"=": "$f_eq", "!=": "$f_ne", "<": "$f_lt", "<=": "$f_le", ">": "$f_gt", ">=": "$f_ge"}

    def comparison(self) -> ast.expr:
        left = self.additive()
        operator = self.accept(*self._COMPARISONS)
        if operator is not None:
            return call(self._COMPARISONS[operator], left, self.additive())
        if self.accept_word("between"):
            low = self.additive()
            self.expect_word("and")
            return call("$f_between", left, low, self.additive())
        if self.accept_word("in"):
            return self.membership(left)
        if self.is_word("instance") and self.peek().value == "of":
            self.index += 2
            return call("$f_instance_of", left, ast.Constant(self.type_name()))
        return left

    def type_name(self) -> str:
        words = []
        while self.current.kind == "name" and self.current.value not in RESERVED - {"and"}:
            words.append(str(self.current.value))
            self.index += 1
        if not words:
            raise self.error("expected a type name")
        return " ".join(words)

    def membership(self, value: ast.expr) -> ast.expr:
        """`x in (1, 2)`, `x in [1..5]`, `x in > 3`, `x in list`: unary tests against the left value."""
        if self.is_op("(") and not self._interval_ahead():
            self.index += 1
            tests = [self.positive_test()]
            while self.accept(","):
                tests.append(self.positive_test())
            self.expect(")")
            test: ast.expr = call("$f_or", *tests)
        else:
            test = self.positive_test()
        return _bind_input(value, test)

    def additive(self) -> ast.expr:
        left = self.multiplicative()
        while (op := self.accept("+", "-")) is not None:
            left = call("$f_add" if op == "+" else "$f_sub", left, self.multiplicative())
        return left

    def multiplicative(self) -> ast.expr:
        left = self.power()
        while (op := self.accept("*", "/")) is not None:
            left = call("$f_mul" if op == "*" else "$f_div", left, self.power())
        return left

    def power(self) -> ast.expr:
        left = self.unary()
        while self.accept("**"):
            left = call("$f_pow", left, self.unary())
        return left

    def unary(self) -> ast.expr:
        if self.accept("-"):
            return call("$f_neg", self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: ast.expr) -> ast.expr:
        while True:
            if self.accept("."):
                token = self.current
                if token.kind != "name":
                    raise self.error("expected a name after '.'")
                self.index += 1
                value = call("$f_path", value, ast.Constant(token.value))
            elif not self.in_interval and self.accept("["):
                value = self.filter(value)
            else:
                return value

    def filter(self, value: ast.expr) -> ast.expr:
        """`list[condition]`: `item` is the element; if it is a context, its entries are names as well."""
        condition = self.expression()
        self.expect("]")
        entries = ast.comprehension(target=ast.Name(id=FEEL_CONTEXT, ctx=ast.Store()),
                                    iter=_list([ast.Name(id="item", ctx=ast.Load())]), ifs=[], is_async=0)
        per_item = ast.ListComp(elt=condition, generators=[_comprehension("item", value), entries])
        return call("$f_filter", value, per_item)

    def primary(self) -> ast.expr:
        token = self.current
        if token.kind in ("number", "string"):
            self.index += 1
            return ast.Constant(token.value)
        if token.kind == "temporal":
            self.index += 1
            return call("$f_temporal", ast.Constant(token.value))
        if token.kind == "name":
            return self.name(token)
        if self.accept("("):
            inner = self.expression()
            self.expect(")")
            return inner
        if self.accept("["):
            return self.list_literal()
        if self.accept("{"):
            return self.context_literal()
        raise self.error("expected a value")

    def list_literal(self) -> ast.expr:
        items: list[ast.expr] = []
        if not self.accept("]"):
            items.append(self.expression())
            while self.accept(","):
                items.append(self.expression())
            self.expect("]")
        return _list(items)

    def context_literal(self) -> ast.expr:
        keys: list[ast.expr | None] = []
        values: list[ast.expr] = []
        if not self.accept("}"):
            while True:
                keys.append(ast.Constant(self.context_key()))
                self.expect(":")
                values.append(self.expression())
                if not self.accept(","):
                    break
            self.expect("}")
        return ast.Dict(keys=keys, values=values)

    def context_key(self) -> str:
        token = self.current
        if token.kind not in ("name", "string"):
            raise self.error("expected a context key")
        self.index += 1
        words = [str(token.value)]
        while token.kind == "name" and self.current.kind == "name":
            words.append(str(self.current.value))
            self.index += 1
        return " ".join(words)

    def name(self, token: Token) -> ast.expr:
        self.index += 1
        word = str(token.value)
        if word in KEYWORDS:
            return ast.Constant(KEYWORDS[word])
        if word in RESERVED:
            raise FeelError(f"FEEL: unexpected '{word}' at position {token.position + 1}.")
        if self.accept("("):
            return self.function_call(word)
        return _variable(word)

    def function_call(self, name: str) -> ast.expr:
        args: list[ast.expr] = []
        if not self.accept(")"):
            args.append(self.argument())
            while self.accept(","):
                args.append(self.argument())
            self.expect(")")
        if name in BUILTINS:
            return call(f"$feel:{name}", *args)
        if name.startswith("_"):
            raise FeelError(f"FEEL: the function name {name!r} is not allowed.")
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])

    def argument(self) -> ast.expr:
        if self.current.kind == "name" and self.peek().kind == "op" and self.peek().value == ":":
            raise self.error("named arguments are not supported; pass the arguments in order")
        return self.expression()

    # --- unary tests ---------------------------------------------------------------------------------------

    def unary_tests(self) -> ast.expr:
        if self.is_op("-") and self.peek().kind == "end":
            self.index += 1
            return ast.Constant(True)
        if self.is_word("not") and self.peek().kind == "op" and self.peek().value == "(":
            self.index += 2
            tests = self.positive_tests()
            self.expect(")")
            return call("$f_not", call("$f_or", *tests))
        tests = self.positive_tests()
        return tests[0] if len(tests) == 1 else call("$f_or", *tests)

    def positive_tests(self) -> list[ast.expr]:
        tests = [self.positive_test()]
        while self.accept(","):
            tests.append(self.positive_test())
        return tests

    _TEST_OPERATORS = {"<": "$f_lt", "<=": "$f_le", ">": "$f_gt", ">=": "$f_ge", "=": "$f_eq", "!=": "$f_ne"}

    def positive_test(self) -> ast.expr:
        operator = self.accept(*self._TEST_OPERATORS)
        if operator is not None:
            return call(self._TEST_OPERATORS[operator], _variable(INPUT_NAME), self.additive())
        if self.is_op("[", "]", "(") and self._interval_ahead():
            return self.interval()
        start = self.index
        value = self.expression()
        if _uses_input(value):
            return call("$f_bool", value)
        if self.tokens[start].kind == "name" and self.tokens[start].value == "null" and self.index == start + 1:
            return call("$f_is_null", _variable(INPUT_NAME))
        return call("$f_matches", _variable(INPUT_NAME), value)

    def _interval_ahead(self) -> bool:
        """At `[`, `]` or `(`: does `a..b` follow (an interval) rather than a list or a parenthesised value?"""
        depth = 0
        for offset in itertools.count(1):
            token = self.peek(offset)
            if token.kind == "end":
                return False
            if token.kind != "op":
                continue
            if token.value in ("(", "[", "{"):
                depth += 1
            elif token.value in (")", "]", "}"):
                if depth == 0:
                    return False
                depth -= 1
            elif depth == 0 and token.value in ("..", ","):
                return token.value == ".."
        return False

    def interval(self) -> ast.expr:
        opening = self.accept("[", "]", "(")
        self.in_interval = True
        low = self.additive()
        self.expect("..")
        high = self.additive()
        self.in_interval = False
        closing = self.accept("]", "[", ")")
        if closing is None:
            raise self.error("expected ']', '[' or ')' to close the interval")
        return call("$f_in_interval", _variable(INPUT_NAME), low, high, ast.Constant(opening == "["),
                     ast.Constant(closing == "]"))


def _bind_input(value: ast.expr, test: ast.expr) -> ast.expr:
    """Evaluate a unary test with `?` bound to `value` (a one-element comprehension gives the scope)."""
    scoped = ast.ListComp(elt=test, generators=[ast.comprehension(
        target=ast.Name(id=INPUT_NAME, ctx=ast.Store()), iter=_list([value]), ifs=[], is_async=0)])
    return call("$f_first", scoped)


def _uses_input(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "$fvar"
               and isinstance(node.args[0], ast.Constant) and node.args[0].value == INPUT_NAME
               for node in ast.walk(tree))


def _located(tree: ast.expr) -> ast.expr:
    return ast.fix_missing_locations(ast.Expression(body=tree)).body


def parse(text: str) -> ast.expr:
    """Parse a FEEL expression (a leading `=` is allowed) into a sandbox expression tree."""
    source = text.strip()
    if source.startswith("="):
        source = source[1:]
    if not source.strip():
        raise FeelError("FEEL: the expression is empty.")
    parser = _Parser(tokenize(source))
    return _located(parser.finish(parser.expression()))


def parse_unary_tests(text: str) -> ast.expr:
    """Parse a DMN input entry into a tree that is true when the input value `?` passes."""
    source = text.strip()
    if not source:
        return _located(ast.Constant(True))
    parser = _Parser(tokenize(source))
    return _located(parser.finish(parser.unary_tests()))


@lru_cache(maxsize=8192)
def compile_expression(text: str) -> Any:
    """A sandbox Expression for a FEEL expression; raises ExpressionError when it does not compile."""
    from workflows.sandbox import compile_tree

    return compile_tree(text, parse(text))


@lru_cache(maxsize=8192)
def compile_unary_tests(text: str) -> Any:
    """A sandbox Expression that evaluates to True when the variable `?` passes the input entry."""
    from workflows.sandbox import compile_tree

    return compile_tree(text, parse_unary_tests(text))
