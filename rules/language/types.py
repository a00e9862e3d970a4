"""The language's types and the schema an expression is checked against."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Type(enum.Enum):
    """The type of a value. ``ANY`` is an attribute's: known only per row (a row holding another type is missing)."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    NULL = "null"
    ANY = "attribute"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Schema:
    """What an expression may read.

    ``fields``: catalogue name → type. ``lists``: list name → kind (account, merchant, country, …). ``kinds``: field
    name → the kind of list its values may be looked up in (``merchant_id`` → ``merchant``); a list of kind ``text``
    takes any string, and a field not named here takes any list.
    """

    fields: Mapping[str, Type]
    lists: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
