"""Tokens to a syntax tree, by precedence climbing (a Pratt parser).

From loosest to tightest: ``or``; ``and``; ``not``; the comparisons ``== != < <= > >= =~ !~ in``, ``not in`` (which
do not chain); ``+ -``; ``* / %``; unary ``-``; values, names, calls, brackets.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.language.errors import ExpressionError
from rules.language.lexer import Token, tokenize

MAX_LENGTH = 4000
ATTRIBUTES = "attributes"
MAX_DEPTH = 64
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in", "not in"})
_BINDING = {
    "or": 10,
    "and": 20,
    **dict.fromkeys(COMPARISONS, 40),
    "+": 50,
    "-": 50,
    "*": 60,
    "/": 60,
    "%": 60,
}
_NOT_BINDING = 30
_NEGATE_BINDING = 70


@dataclass(frozen=True, slots=True)
class Literal:
    position: int
    value: object  # float, str, bool or None
    length: int


@dataclass(frozen=True, slots=True)
class Name:
    """A dotted name as written (``amount``, ``attributes.card.bin``, ``lists.blocked``); the checker resolves it."""

    position: int
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Array:
    position: int
    items: tuple


@dataclass(frozen=True, slots=True)
class Unary:
    position: int
    op: str  # "not" | "-"
    operand: object


@dataclass(frozen=True, slots=True)
class Binary:
    position: int  # the operator's
    op: str
    left: object
    right: object


@dataclass(frozen=True, slots=True)
class Call:
    position: int
    name: str
    args: tuple


def parse(text: str):
    if len(text) > MAX_LENGTH:
        raise ExpressionError(MAX_LENGTH, f"expression too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError(0, "empty expression")
    return _Parser(tokenize(text)).parse_all()


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse_all(self):
        node = self.expression(0)
        token = self.peek
        if token.kind != "end":
            raise ExpressionError(token.position, f"unexpected {_describe(token)} after a complete expression")
        return node

    def expression(self, binding: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(self.peek.position, f"expression nested too deeply (at most {MAX_DEPTH} levels)")
        left = self.prefix()
        while True:
            op = self.infix_operator()
            if op is None or _BINDING[op] <= binding:
                break
            left = self.infix(op, left)
        self.depth -= 1
        return left

    def infix_operator(self) -> str | None:
        token = self.peek
        if token.kind == "keyword" and token.text == "not":
            after = self.tokens[self.i + 1]
            return "not in" if after.kind == "keyword" and after.text == "in" else None
        if token.kind in ("keyword", "op") and token.text in _BINDING:
            return token.text
        return None

    def infix(self, op: str, left):
        token = self.next()
        if op == "not in":
            self.next()
        right = self.expression(_BINDING[op])
        if op in COMPARISONS and self.infix_operator() in COMPARISONS:
            chained = self.peek
            raise ExpressionError(
                chained.position, f"comparisons do not chain: write 'a {op} b and b {chained.text} c'"
            )
        return Binary(token.position, op, left, right)

    def prefix(self):
        token = self.next()
        if token.kind in ("number", "string"):
            return Literal(token.position, token.value, len(token.text))
        if token.kind == "keyword":
            return self.keyword(token)
        if token.kind == "name":
            return self.name(token)
        if token.text == "(":
            node = self.expression(0)
            self.expect(")", token)
            return node
        if token.text == "[":
            return self.array(token)
        if token.text == "-":
            return Unary(token.position, "-", self.expression(_NEGATE_BINDING))
        raise ExpressionError(token.position, f"expected a value, found {_describe(token)}", length=len(token.text))

    def keyword(self, token: Token):
        constants = {"true": True, "false": False, "null": None}
        if token.text in constants:
            return Literal(token.position, constants[token.text], len(token.text))
        if token.text == "not":
            return Unary(token.position, "not", self.expression(_NOT_BINDING))
        raise ExpressionError(token.position, f"expected a value, found {_describe(token)}", length=len(token.text))

    def name(self, token: Token):
        parts = [token.text]
        while self.peek.kind == "op" and (self.peek.text == "." or self.peek.text == "[" and parts[0] == ATTRIBUTES):
            if self.peek.text == "[":
                parts.append(self.quoted_key())
                continue
            dot = self.next()
            part = self.next()
            if part.kind not in ("name", "keyword"):
                raise ExpressionError(
                    part.position if part.kind != "end" else dot.position, "expected a name after '.'"
                )
            parts.append(part.text)
        if self.peek.text == "(" and self.peek.kind == "op":
            if len(parts) > 1:
                raise ExpressionError(token.position, f"'{'.'.join(parts)}' is not a function")
            return self.call(token)
        return Name(token.position, tuple(parts))

    def quoted_key(self) -> str:
        """An attribute key that is no plain name, written attributes["card-bin"]."""
        opening = self.next()
        key = self.next()
        if key.kind != "string":
            raise ExpressionError(key.position, 'write an attribute\'s key in quotes: attributes["card-bin"]')
        if not key.value or "." in key.value:
            reason = "an attribute's key cannot be empty" if not key.value else "an attribute's key cannot hold '.'"
            raise ExpressionError(key.position, reason, length=len(key.text))
        self.expect("]", opening)
        return key.value

    def call(self, token: Token):
        opening = self.next()
        args = []
        if self.peek.text != ")":
            args.append(self.expression(0))
            while self.peek.text == ",":
                self.next()
                args.append(self.expression(0))
        self.expect(")", opening)
        return Call(token.position, token.text, tuple(args))

    def array(self, opening: Token):
        items = []
        if self.peek.text != "]":
            items.append(self.expression(0))
            while self.peek.text == ",":
                self.next()
                if self.peek.text == "]":  # a trailing comma
                    break
                items.append(self.expression(0))
        self.expect("]", opening)
        return Array(opening.position, tuple(items))

    def expect(self, text: str, opening: Token) -> None:
        token = self.peek
        if token.kind == "op" and token.text == text:
            self.next()
            return
        if token.kind == "end":
            raise ExpressionError(opening.position, f"'{opening.text}' is never closed (expected '{text}')")
        raise ExpressionError(token.position, f"expected '{text}', found {_describe(token)}", length=len(token.text))


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "string":
        return f"string {token.text}"
    return f"'{token.text}'"
