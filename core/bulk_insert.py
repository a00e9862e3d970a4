"""Many rows into one table in one INSERT ... ON CONFLICT ... RETURNING, whatever their number.

Small sets travel as one array parameter per column through `unnest`. Large ones go through COPY into a temporary
staging table first: psycopg writes COPY rows in C, while it quotes array literals element by element in Python.
The staging table lives as long as the session (`ON COMMIT DELETE ROWS`), since creating and dropping it on every
call would add statements to every batch; each call empties it in the statement that makes sure it exists, which
is cheaper than taking the rows out with a `DELETE ... RETURNING` inside the INSERT.
"""

import zlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import psycopg
from django.db import IntegrityError, connection, transaction

# Above this many rows, COPY and a staging table beat the arrays despite their extra statements.
COPY_ABOVE = 200


def insert_returning(
    *,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence] = (),
    suffix: str,
    copy_lines: Sequence[str] = (),
    into: Sequence[str] = (),
    select: str = "",
    join: str = "",
) -> list[tuple]:
    """Insert `rows` (tuples in the order of `columns`, each a (name, SQL type) pair) into `table`'s columns
    `into` (default: the same names).

    `select` is the SELECT list over the staged columns, alias s (default: all of them, in order), `join` a JOIN
    clause after them (a column the rows take from another table), and `suffix` what follows (ON CONFLICT ...
    RETURNING ...). Returns the RETURNING rows. Names, types and SQL fragments are
    the caller's constants, never user input.

    A caller that writes large sets faster than psycopg's per-row writer gives them as `copy_lines` instead: each
    row already in COPY's text format, newline included; they always go through COPY.
    """
    if not rows and not copy_lines:
        return []
    names = [name for name, _ in columns]
    select = select or ", ".join(f"s.{name}" for name in names)
    target = f"{table} ({', '.join(into or names)})"
    with connection.cursor() as cursor:
        if rows and len(rows) <= COPY_ABOVE:
            arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
            cursor.execute(
                f"INSERT INTO {target} SELECT {select} FROM unnest({arrays}) AS s({', '.join(names)}) {join} {suffix}",  # noqa: S608
                [array_literal(column) for column in zip(*rows, strict=True)],
            )
            return cursor.fetchall()
        definition = ", ".join(f"{name} {kind}" for name, kind in columns)
        # Named by its columns too, so two callers staging different columns for one table never share a table.
        staging = f"staging_{table}_{zlib.crc32(definition.encode()):08x}"
        # Cheap when it exists (the usual case: a catalog lookup); a rolled-back transaction may have taken it away.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ({definition}) ON COMMIT DELETE ROWS; DELETE FROM {staging}"  # noqa: S608
        )
        with cursor.cursor.copy(f"COPY {staging} ({', '.join(names)}) FROM STDIN") as copy:
            if copy_lines:
                copy.write("".join(copy_lines))
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {target} SELECT {select} FROM {staging} s {join} {suffix}")  # noqa: S608
        return cursor.fetchall()


def insert_new_returning(*, conflict: str, returning: str, **insert) -> list[tuple]:
    """`insert_returning` (its keyword arguments) of rows that are expected to be new, skipping any whose
    `conflict` columns' values are stored already: a plain INSERT in a savepoint first, then, if one was stored,
    the rows again with ON CONFLICT (`conflict`) DO NOTHING, which decides as always (the rows inserted before that
    one are paid twice, and left dead until vacuum). `returning`: the RETURNING list.

    ON CONFLICT's speculative insertion costs CPU and a WAL record per row to confirm it, far more on a large set
    than the savepoint's two statements. For large sets of distinct rows only (a row that conflicts with an earlier
    one of the same statement would always fail the plain INSERT).
    """
    try:
        with transaction.atomic():
            return insert_returning(**insert, suffix=f"RETURNING {returning}")
    except IntegrityError as error:
        if not isinstance(error.__cause__, psycopg.errors.UniqueViolation):
            raise
    return insert_returning(**insert, suffix=f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {returning}")


def array_literal(values: Sequence) -> str | list:
    """`values` as the text of a PostgreSQL array (``{1,NULL,"a b"}``), to be cast to the column's array type.

    What psycopg writes for a list when Django binds parameters on the client, but without its adapter's Python
    call per element, which dominates a small INSERT's time. Values of any other type than these (a dict, say)
    return as the list, for psycopg to adapt.
    """
    parts = []
    for value in values:
        kind = type(value)
        if kind is str:
            parts.append(f'"{value.translate(_ARRAY_ESCAPES)}"')
        elif value is None:
            parts.append("NULL")
        elif kind is int:
            parts.append(str(value))
        elif kind is float:
            parts.append(float_text(value))
        elif kind is bool:
            parts.append("t" if value else "f")
        elif kind is Decimal:
            parts.append(str(value))  # NaN and exponents as numeric reads them
        elif kind is datetime:
            parts.append(f'"{value.isoformat()}"')  # with its offset when it has one, as psycopg writes it
        else:
            return list(values)
    return "{" + ",".join(parts) + "}"


_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def float_text(value: float) -> str:
    """A float as PostgreSQL reads it back exactly (its shortest repr; NaN and the infinities by name)."""
    if value - value == 0:  # finite: the shortest text that reads back as the same float
        return repr(value)
    return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"


_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
)


def copy_text(text: str) -> str:
    """`text` as a value in a line of COPY's text format: backslashes doubled, control characters escaped."""
    if text.isprintable() and "\\" not in text:
        return text
    return text.translate(_COPY_ESCAPES)
