"""The canonical transaction fields the engine reads, in the order of the engine frame's columns.

Derived from the one canonical list (transactions.validation.CANONICAL_FIELDS) and the engine's `Frame`, so a field
is read from stored rows and offered in the backtest's mapping once the engine has a column for it. Importable
without Django set up: the backtest's file reader (and the benches that use it) need no database.
"""

from dataclasses import fields

from detection.engine.frame import Frame
from transactions.validation import CANONICAL_FIELDS

# The two fields the engine names otherwise: its row key and its time in epoch seconds.
_FRAME_COLUMN = {"transaction_id": "row_id", "timestamp": "ts"}
_FRAME_ORDER = [field.name for field in fields(Frame)]


def _frame_column(name: str) -> str:
    return _FRAME_COLUMN.get(name, name)


ENGINE_FIELDS = tuple(
    sorted(
        (name for name in CANONICAL_FIELDS if _frame_column(name) in _FRAME_ORDER),
        key=lambda name: _FRAME_ORDER.index(_frame_column(name)),
    )
)
