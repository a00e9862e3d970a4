"""Text to tokens, each with the offset where it starts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.language.errors import ExpressionError

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
# Longest first, so "<=" is one token and not "<" then "=".
OPERATORS = ("==", "!=", "<=", ">=", "=~", "!~", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".")
# What people write by habit from other languages, and what this language spells instead.
_HABITS = {"=": "'==' to compare", "&&": "'and'", "||": "'or'", "!": "'not'", "&": "'and'", "|": "'or'"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?([eE][+-]?[0-9]+)?")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number | string | name | keyword | op | end
    text: str
    value: object
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            token = _string(text, i)
            tokens.append(token)
            i += len(token.text)
        elif "0" <= char <= "9":
            token = _number(text, i)
            tokens.append(token)
            i += len(token.text)
        elif name := _NAME.match(text, i):  # ASCII letters only: "é".isalpha(), but no name holds it
            word = name.group()
            tokens.append(Token("keyword" if word in KEYWORDS else "name", word, word, i))
            i += len(word)
        else:
            token = _operator(text, i)
            tokens.append(token)
            i += len(token.text)
    tokens.append(Token("end", "", None, n))
    return tokens


def _operator(text: str, i: int) -> Token:
    for habit in ("&&", "||"):
        if text.startswith(habit, i):
            raise ExpressionError(i, f"'{habit}' is not an operator here; write {_HABITS[habit]}", length=2)
    for op in OPERATORS:
        if text.startswith(op, i):
            return Token("op", op, op, i)
    char = text[i]
    if char in _HABITS:
        raise ExpressionError(i, f"'{char}' is not an operator here; write {_HABITS[char]}")
    raise ExpressionError(i, f"unexpected character {char!r}")


def _number(text: str, i: int) -> Token:
    match = _NUMBER.match(text, i)
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise ExpressionError(i, f"malformed number {text[i : end + 1]!r}", length=end + 1 - i)
    word = match.group()
    if word.endswith("_") or "_." in word or "._" in word:
        raise ExpressionError(i, f"malformed number {word!r}", length=len(word))
    value = float(word.replace("_", ""))
    return Token("number", word, value, i)


def _string(text: str, start: int) -> Token:
    quote, i, chars = text[start], start + 1, []
    while i < len(text):
        char = text[i]
        if char == quote:
            return Token("string", text[start : i + 1], "".join(chars), start)
        if char == "\\":
            i = _escape(text, i, chars)
            continue
        chars.append(char)
        i += 1
    raise ExpressionError(start, "unterminated string (no closing quote)", length=len(text) - start)


def _escape(text: str, i: int, chars: list[str]) -> int:
    """Appends the escaped character at text[i] (a backslash) and returns the offset after the escape."""
    if i + 1 >= len(text):
        raise ExpressionError(i, "unterminated string (it ends in a backslash)")
    code = text[i + 1]
    if code in _ESCAPES:
        chars.append(_ESCAPES[code])
        return i + 2
    if code == "u":
        digits = text[i + 2 : i + 6]
        if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            chars.append(chr(int(digits, 16)))
            return i + 6
        raise ExpressionError(i, "'\\u' takes four hexadecimal digits", length=2 + len(digits))
    raise ExpressionError(i, f"unknown escape '\\{code}' (use \\\\, \\\", \\', \\n, \\t, \\r or \\uXXXX)", length=2)
