"""What the JUEL and FEEL parsers share: tokens, and walking a token list with one token of look-ahead."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from workflows.errors import ExpressionError

DIGITS = frozenset("0123456789")  # str.isdigit() also accepts "²", which int() refuses


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | temporal | name | op | end
    value: Any
    position: int


def call(name: str, *args: ast.expr) -> ast.Call:
    """A call of an internal `$` operation (or a helper) in the translated tree."""
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class TokenParser:
    """Recursive-descent parsers subclass this; `language` and `error_class` name their errors."""

    language = "expression"
    error_class: type[ExpressionError] = ExpressionError

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def is_op(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.value in ops

    def accept(self, *ops: str) -> str | None:
        if self.is_op(*ops):
            self.index += 1
            return str(self.tokens[self.index - 1].value)
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            raise self.error(f"expected '{op}'")

    def error(self, what: str) -> ExpressionError:
        token = self.current
        found = "the end" if token.kind == "end" else repr(token.value)
        return self.error_class(f"{self.language}: {what} at position {token.position + 1}, found {found}.")
