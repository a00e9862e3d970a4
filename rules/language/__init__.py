"""The rule language: typed, safe expressions over a batch's columns (never Python's eval), in plain Python.

    compiled = compile_expression('amount > 500 and merchant_id in lists.blocked_merchants', schema)
    result = compiled.evaluate(columns, memberships)   # result.matched, result.missing: one bool per row

An expression is tokenized, parsed and type-checked against a ``Schema`` once; every error names its 0-based
position and a reason. Evaluating works on whole numpy columns at once; a batch of one row on plain Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rules.language.batch import Batch, Membership, Row, batch_of
from rules.language.compiler import Compiler, Evaluator
from rules.language.errors import ExpressionError
from rules.language.operations import FUNCTION_DESCRIPTIONS, FUNCTIONS
from rules.language.parser import MAX_DEPTH, MAX_LENGTH, parse
from rules.language.types import Schema, Type

__all__ = [
    "FUNCTIONS",
    "FUNCTION_DESCRIPTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Batch",
    "CompiledExpression",
    "ExpressionError",
    "Membership",
    "Result",
    "Row",
    "Schema",
    "Type",
    "batch_of",
    "compile_expression",
]


@dataclass(frozen=True)
class Result:
    matched: np.ndarray  # bool per row: the condition holds
    missing: np.ndarray  # bool per row: a value the condition reads was missing, so it could not hold


@dataclass(frozen=True)
class CompiledExpression:
    text: str
    fields: frozenset[str]  # catalogue names read; attributes as "attributes.<key>"
    lists: frozenset[str]  # list names read
    run: Evaluator

    def evaluate(
        self,
        columns: Mapping[str, np.ndarray],
        memberships: Mapping[str, Membership] | None = None,
        *,
        size: int | None = None,
    ) -> Result:
        """The condition over a batch: ``columns`` holds one array per name in ``fields`` (a ``Batch`` shares its
        typed views between rules); ``memberships`` one ``Membership`` per name in ``lists``. ``size``: the batch's
        length, needed only when ``columns`` is empty."""
        if isinstance(columns, Batch):
            batch = columns
            if memberships is not None:
                batch.memberships = memberships
        else:
            batch = batch_of(columns, memberships, size=size)
        values, missing = self.run(batch)
        return Result(matched=_rows(values, batch.size), missing=_rows(missing, batch.size))


def _rows(values, n: int) -> np.ndarray:
    """A fresh bool array of n rows (a condition that is one column alone must not hand out the batch's own)."""
    if values is None:
        return np.zeros(n, dtype=bool)
    if isinstance(values, np.ndarray) and values.shape == (n,):
        return values.astype(bool, copy=True)
    return np.full(n, bool(values))


def compile_expression(text: str, schema: Schema) -> CompiledExpression:
    """Parse and check ``text`` against ``schema``; ExpressionError (with the position and the reason) if invalid."""
    tree = parse(text)
    compiler = Compiler(schema)
    typed = compiler.node(tree)
    if typed.type not in (Type.BOOLEAN, Type.ANY):
        raise ExpressionError(0, f"a rule's condition is true or false; this expression gives a {typed.type}")
    run = typed.run
    if typed.type is Type.ANY:
        run = compiler.as_type(typed, Type.BOOLEAN, 0, "")
    return CompiledExpression(text=text, fields=frozenset(compiler.fields), lists=frozenset(compiler.lists), run=run)
