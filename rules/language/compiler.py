"""The checker and code generator: a syntax tree and a schema to a typed tree of vectorised closures.

Every node is checked once, at compile time (unknown names, types, list kinds), and becomes a closure from a
``Batch`` to ``(values, missing)``: values a numpy array over the batch's rows (or a scalar for a constant, and for
every value of a one-row ``Row``), missing a boolean mask of the rows whose value is unknown (or None when none is;
True or None in a ``Row``). A missing value makes a comparison, an arithmetic result and a list lookup missing;
``and`` and ``or`` follow three-valued logic (``false and missing`` is false, ``true or missing`` is true);
``x == null`` asks whether x is missing and is never missing itself.
"""

from __future__ import annotations

import difflib
import operator
import re
import re._parser as regex_parser  # the pattern's structure, to refuse catastrophic ones
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rules.language import operations as ops
from rules.language import parser as ast
from rules.language.batch import ATTRIBUTE_VIEWS, Batch, scalar
from rules.language.errors import ExpressionError
from rules.language.types import Schema, Type

Evaluator = Callable[[Batch], tuple]
ATTRIBUTES, LISTS = "attributes", "lists"
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_EQUALITY = {"==": operator.eq, "!=": operator.ne}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "%": np.mod}


@dataclass
class Typed:
    type: Type
    run: Evaluator
    constant: bool = False


@dataclass
class Compiler:
    schema: Schema
    fields: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)

    def node(self, node) -> Typed:
        handler = getattr(self, f"_{type(node).__name__.lower()}")
        return handler(node)

    def _literal(self, node: ast.Literal) -> Typed:
        value = node.value
        kind = {float: Type.NUMBER, str: Type.STRING, bool: Type.BOOLEAN}.get(type(value), Type.NULL)
        return Typed(kind, lambda batch: (value, None), constant=True)

    def _name(self, node: ast.Name) -> Typed:
        head = node.parts[0]
        if head == ATTRIBUTES:
            return self._attribute(node)
        if head == LISTS:
            raise ExpressionError(node.position, "a list is read only on the right of 'in' or 'not in'")
        if len(node.parts) > 1:
            raise ExpressionError(
                node.position,
                f"'{node.text}': only attributes.<key> and lists.<name> are written with a dot",
                length=len(node.text),
            )
        kind = self.schema.fields.get(head)
        if kind is None and head in ops.FUNCTIONS:
            raise ExpressionError(node.position, f"{head} is a function: write {head}(…)", length=len(head))
        if kind is None:
            raise ExpressionError(node.position, _unknown("field", head, self._names()), length=len(head))
        self.fields.add(head)
        return Typed(kind, _column(head, kind))

    def _names(self) -> list[str]:
        return [
            *self.schema.fields,
            ATTRIBUTES,
            LISTS,
            *ops.FUNCTIONS,
            "true",
            "false",
            "null",
            "and",
            "or",
            "not",
            "in",
        ]

    def _attribute(self, node: ast.Name) -> Typed:
        if len(node.parts) == 1:
            raise ExpressionError(node.position, "write attributes.<key> (the attribute's name after a dot)", length=10)
        self.fields.add(node.text)
        return Typed(Type.ANY, _column(node.text, Type.ANY))

    def _array(self, node: ast.Array) -> Typed:
        raise ExpressionError(node.position, "an array is written only on the right of 'in' or 'not in'")

    def _unary(self, node: ast.Unary) -> Typed:
        operand = self.node(node.operand)
        if node.op == "-":
            run = self.as_type(operand, Type.NUMBER, node.position, "'-' negates a number")
            return Typed(Type.NUMBER, lambda batch: ops.negate(*run(batch)))
        run = self.as_type(operand, Type.BOOLEAN, node.position, "'not' takes true or false")
        return Typed(Type.BOOLEAN, lambda batch: ops.logical_not(*run(batch)))

    def as_type(self, typed: Typed, wanted: Type, position: int, what: str) -> Evaluator:
        """The operand's evaluator as the wanted type: an attribute is read as that type (others rows: missing)."""
        if typed.type is wanted:
            return typed.run
        if typed.type is Type.ANY:
            return _attribute_as(typed.run, wanted)
        raise ExpressionError(position, f"{what}, not a {_called(typed.type)}")

    def _binary(self, node: ast.Binary) -> Typed:
        if node.op in ("and", "or"):
            return self._logical(node)
        if node.op in ("in", "not in"):
            return self._membership(node)
        left, right = self.node(node.left), self.node(node.right)
        if node.op in _ARITHMETIC:
            return self._arithmetic(node, left, right)
        if node.op in ("=~", "!~"):
            return self._match(node, left)
        if Type.NULL in (left.type, right.type):
            return self._null_test(node, left, right)
        return self._comparison(node, left, right)

    def _logical(self, node: ast.Binary) -> Typed:
        what = f"'{node.op}' joins conditions (true or false)"
        left = self.as_type(self.node(node.left), Type.BOOLEAN, node.position, what)
        right = self.as_type(self.node(node.right), Type.BOOLEAN, node.position, what)
        join = ops.logical_and if node.op == "and" else ops.logical_or
        return Typed(Type.BOOLEAN, lambda batch: join(*left(batch), *right(batch)))

    def _arithmetic(self, node: ast.Binary, left: Typed, right: Typed) -> Typed:
        what = f"'{node.op}' works on numbers"
        first = self.as_type(left, Type.NUMBER, node.position, what)
        second = self.as_type(right, Type.NUMBER, node.position, what)
        ufunc, checked = _ARITHMETIC[node.op], node.op in ("/", "%")

        def run(batch):
            a, missing_a = first(batch)
            b, missing_b = second(batch)
            with np.errstate(all="ignore"):
                values = ufunc(a, b)
            missing = ops.either(missing_a, missing_b)
            if checked:  # division by zero: missing, never infinite
                if not isinstance(values, np.ndarray):
                    return values, (missing or not np.isfinite(values)) or None
                missing = ops.either(missing, ops.mask(~np.isfinite(values)))
            return values, missing

        return Typed(Type.NUMBER, run)

    def _comparison(self, node: ast.Binary, left: Typed, right: Typed) -> Typed:
        kinds = {left.type, right.type}
        if node.op in _ORDERING:
            if kinds - {Type.NUMBER, Type.ANY}:
                if len(kinds - {Type.ANY}) > 1:
                    raise ExpressionError(node.position, f"cannot compare {_pair(left, right)}", length=len(node.op))
                shown = next(iter(kinds - {Type.NUMBER, Type.ANY}))
                raise ExpressionError(node.position, f"'{node.op}' orders numbers, not a {_called(shown)}")
            kind = Type.NUMBER
        else:
            known = kinds - {Type.ANY}
            if len(known) > 1:
                raise ExpressionError(node.position, f"cannot compare {_pair(left, right)}", length=len(node.op))
            kind = known.pop() if known else Type.ANY
        first = left.run if left.type is kind else _attribute_as(left.run, kind)
        second = right.run if right.type is kind else _attribute_as(right.run, kind)
        compare = _ORDERING.get(node.op) or _EQUALITY[node.op]
        return Typed(Type.BOOLEAN, lambda batch: ops.compared(compare, *first(batch), *second(batch)))

    def _null_test(self, node: ast.Binary, left: Typed, right: Typed) -> Typed:
        if node.op not in _EQUALITY:
            raise ExpressionError(node.position, f"'{node.op}' cannot compare with null; use == null or != null")
        other = right if left.type is Type.NULL else left
        is_null = node.op == "=="
        if other.type is Type.NULL:
            return Typed(Type.BOOLEAN, lambda batch: (is_null, None), constant=True)

        def run(batch):
            _, missing = other.run(batch)
            if missing is None or not isinstance(missing, np.ndarray):
                return bool(missing) == is_null, None
            return (missing if is_null else ~missing), None

        return Typed(Type.BOOLEAN, run)

    def _match(self, node: ast.Binary, left: Typed) -> Typed:
        pattern_node = node.right
        if not isinstance(pattern_node, ast.Literal) or not isinstance(pattern_node.value, str):
            raise ExpressionError(node.position, f"'{node.op}' takes a pattern written as a string on its right")
        try:
            pattern = re.compile(pattern_node.value)
        except re.error as error:
            raise ExpressionError(
                pattern_node.position, f"invalid regular expression: {error}", length=pattern_node.length
            ) from None
        if _nested_repeat(_parsed(pattern_node.value)):
            raise ExpressionError(
                pattern_node.position,
                "a repetition inside a repetition (like (a+)+) can take exponential time on some text; "
                "write the pattern without one",
                length=pattern_node.length,
            )
        run = self.as_type(left, Type.STRING, node.position, f"'{node.op}' matches a string")
        negate = node.op == "!~"

        def matched(batch):
            values, missing = run(batch)
            if not isinstance(values, np.ndarray):
                if missing:
                    return False, missing
                hit = values is not None and pattern.search(values) is not None
                return hit != negate, None
            search = pattern.search
            hits = np.fromiter((v is not None and search(v) is not None for v in values), bool, len(values))
            return ops.masked(hits if not negate else ~hits, missing), missing

        return Typed(Type.BOOLEAN, matched)

    def _membership(self, node: ast.Binary) -> Typed:
        left = self.node(node.left)
        negate = node.op == "not in"
        right = node.right
        if isinstance(right, ast.Array):
            return self._in_array(node, left, right, negate)
        if isinstance(right, ast.Name) and right.parts[0] == LISTS:
            return self._in_list(node, left, right, negate)
        raise ExpressionError(
            node.position, f'\'{node.op}\' looks a value up in an array ["a", "b"] or a list (lists.<name>)'
        )

    def _in_array(self, node: ast.Binary, left: Typed, array: ast.Array, negate: bool) -> Typed:
        if not array.items:
            raise ExpressionError(array.position, "empty array: name at least one value")
        values = [_written_value(item) for item in array.items]
        kinds = {type(value) for value in values}
        if len(kinds) > 1:
            raise ExpressionError(array.position, "an array holds values of one type (all numbers or all strings)")
        kind = {float: Type.NUMBER, str: Type.STRING, bool: Type.BOOLEAN}[kinds.pop()]
        if left.type not in (kind, Type.ANY):
            raise ExpressionError(node.position, f"cannot look a {_called(left.type)} up in an array of {kind}s")
        run = left.run if left.type is kind else _attribute_as(left.run, kind)
        contains = ops.contains_numbers(np.array(values)) if kind is Type.NUMBER else ops.contains_objects(values)
        one = ops.contains_one(values)
        return Typed(Type.BOOLEAN, lambda batch: ops.looked_up(contains, one, negate, *run(batch)))

    def _in_list(self, node: ast.Binary, left: Typed, name: ast.Name, negate: bool) -> Typed:
        if len(name.parts) != 2:
            raise ExpressionError(name.position, "write lists.<name>", length=len(name.text))
        list_name = name.parts[1]
        kind = self.schema.lists.get(list_name)
        if kind is None:
            known = list(self.schema.lists)
            reason = _unknown("list", list_name, known) if known else f"unknown list '{list_name}' (there are no lists)"
            raise ExpressionError(name.position, reason, length=len(name.text))
        if left.type not in (Type.STRING, Type.ANY):
            raise ExpressionError(node.position, f"a list holds text: cannot look a {_called(left.type)} up in it")
        field_kind = self._kind_of(node.left)
        if field_kind is not None and kind not in (field_kind, "text"):
            raise ExpressionError(
                name.position,
                f"lists.{list_name} is a list of {kind} values; {node.left.text} is a {field_kind} value",
                length=len(name.text),
            )
        self.lists.add(list_name)
        run = _attribute_as(left.run, Type.STRING) if left.type is Type.ANY else left.run
        return Typed(Type.BOOLEAN, lambda batch: ops.in_membership(batch, list_name, negate, *run(batch)))

    def _kind_of(self, node) -> str | None:
        if isinstance(node, ast.Name) and len(node.parts) == 1:
            return self.schema.kinds.get(node.parts[0])
        return None

    def _call(self, node: ast.Call) -> Typed:
        function = ops.FUNCTIONS.get(node.name)
        if function is None:
            known = list(ops.FUNCTIONS)
            raise ExpressionError(node.position, _unknown("function", node.name, known), length=len(node.name))
        takes, gives, apply = function
        if len(node.args) != 1:
            raise ExpressionError(node.position, f"{node.name}() takes one {takes}, given {len(node.args)} arguments")
        run = self.as_type(self.node(node.args[0]), takes, node.position, f"{node.name}() takes a {takes}")
        return Typed(gives, lambda batch: apply(*run(batch)))


def _parsed(pattern: str):
    return regex_parser.parse(pattern)


def _nested_repeat(items, inside: bool = False) -> bool:
    """Whether an unbounded repetition sits inside another (catastrophic backtracking: Python's re has no timeout,
    and the text matched is the sender's)."""
    for op, argument in items:
        if op in _REPEATS:
            _, most, inner = argument
            unbounded = most == regex_parser.MAXREPEAT
            if (inside and unbounded) or _nested_repeat(inner, inside or unbounded):
                return True
        elif any(_nested_repeat(child, inside) for child in _subpatterns(argument)):
            return True
    return False


def _subpatterns(argument):
    if isinstance(argument, regex_parser.SubPattern):
        yield argument
    elif isinstance(argument, list | tuple):
        for part in argument:
            yield from _subpatterns(part)


_REPEATS = {regex_parser.MAX_REPEAT, regex_parser.MIN_REPEAT, getattr(regex_parser, "POSSESSIVE_REPEAT", None)}


def _written_value(item):
    """An array item: a written number (a minus sign allowed), string or true/false."""
    negative = isinstance(item, ast.Unary) and item.op == "-" and isinstance(item.operand, ast.Literal)
    if negative and isinstance(item.operand.value, float):
        return -item.operand.value
    if isinstance(item, ast.Literal) and item.value is not None:
        return item.value
    raise ExpressionError(item.position, "an array holds written numbers, strings or true/false only")


def _column(name: str, kind: Type) -> Evaluator:
    key = (name, kind.value)

    def read(batch):
        return batch.views.get(key) or batch.view(name, kind)

    read.column_name = name
    return read


def _attribute_as(run: Evaluator, kind: Type) -> Evaluator:
    """An attribute's values as one type: the batch's view of its column (computed once per batch)."""
    if kind is Type.ANY:
        return run

    # An attribute read straight from its column: the batch keeps the typed view for every rule.
    name = getattr(run, "column_name", None)
    if name is not None:
        key = (name, kind.value)
        return lambda batch: batch.views.get(key) or batch.view(name, kind)

    def typed(batch):
        values, missing = run(batch)
        if not isinstance(values, np.ndarray):  # one row: its value as a one-element column, then as a scalar again
            column = np.empty(1, dtype=object)
            column[0] = values
            retyped, also_missing = ATTRIBUTE_VIEWS[kind](column)
            return scalar(retyped[0]), (bool(missing) or also_missing is not None and bool(also_missing[0])) or None
        retyped, also_missing = ATTRIBUTE_VIEWS[kind](np.asarray(values, dtype=object))
        return retyped, ops.either(missing, also_missing)

    return typed


def _called(kind: Type) -> str:
    return "value of an attribute" if kind is Type.ANY else str(kind)


def _pair(left: Typed, right: Typed) -> str:
    return f"{_called(left.type)} with {_called(right.type)}"


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == name.lower()]
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} '{name}'{hint}"
