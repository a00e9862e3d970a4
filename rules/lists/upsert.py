"""Many entries into a list at once, by COPY (psycopg writes COPY rows in C), as core/bulk_insert.py does for
transactions.

Into a list with no entry yet (a new list's import, the big case) the entries are copied straight into the table:
no staging, and PostgreSQL stores each chunk while the next is formatted. Into a list that has entries they are
copied into a temporary staging table, then the values the list has already are updated by a join (only when their
expiry or note differ: no dead row otherwise) and the others inserted by an anti-join; rather than INSERT … ON
CONFLICT, whose speculative insertion doubled a million-row import's time. The caller holds the list's row lock, so
no other change of the list runs meanwhile, and the unique constraint stands behind both. Two counts come back,
never a row per entry.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.db import connection
from django.utils import timezone

from core.bulk_insert import copy_text

STAGING = "staging_rules_listentry"
NULL = "\\N"
BACKSLASH = "\\"  # values are printable (rules.lists.values): a backslash is all COPY's text format escapes in them
CHUNK = 50_000  # COPY lines sent at once: PostgreSQL stores one chunk while the next is formatted
STAGING_CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS staging_rules_listentry (value text, expires_at timestamptz, note text) "
    "ON COMMIT DELETE ROWS; DELETE FROM staging_rules_listentry"
)
NEW_ONLY = "WHERE NOT EXISTS (SELECT 1 FROM rules_listentry e WHERE e.value_list_id = %s AND e.value = s.value)"

Entry = tuple[str, datetime | None, str]


def entries_upsert(*, value_list_id: int, entries: Iterable[Entry], user_id: int | None) -> tuple[int, int]:
    """Write (value, expires_at, note) entries, each value once, into the list: (added, updated)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM rules_listentry WHERE value_list_id = %s)", [value_list_id])
        if not cursor.fetchone()[0]:
            prefix = f"{value_list_id}\t"
            suffix = f"\t{timezone.now().isoformat()}\t{NULL if user_id is None else user_id}\n"
            columns = "value_list_id, value, expires_at, note, created_at, created_by_id"
            return _copy(cursor, f"rules_listentry ({columns})", _lines(entries, prefix, suffix)), 0
        cursor.execute(STAGING_CREATE)
        staged = _copy(cursor, f"{STAGING} (value, expires_at, note)", _lines(entries, "", "\n"))
        if not staged:
            return 0, 0
        if staged > 10_000:
            cursor.execute(f"ANALYZE {STAGING}")  # a temporary table has no statistics: the joins need them
        updated = _update_existing(cursor, value_list_id)
        cursor.execute(
            f"""
            INSERT INTO rules_listentry (value_list_id, value, expires_at, note, created_at, created_by_id)
            SELECT %s, s.value, s.expires_at, s.note, now(), %s FROM {STAGING} s {NEW_ONLY}
            """,  # noqa: S608 - this module's constants
            [value_list_id, user_id, value_list_id],
        )
        return cursor.rowcount, updated


def _lines(entries: Iterable[Entry], prefix: str, suffix: str) -> Iterator[str]:
    """COPY text lines: prefix, value, expiry, note, suffix."""
    for value, expires, note in entries:
        shown = value if BACKSLASH not in value else copy_text(value)
        expiry = NULL if expires is None else expires.isoformat()
        yield f"{prefix}{shown}\t{expiry}\t{copy_text(note) if note else ''}{suffix}"


def _copy(cursor, target: str, lines: Iterator[str]) -> int:
    """COPY the lines into `target` (a table and its columns), a chunk at a time: how many were copied."""
    copied = 0
    with cursor.cursor.copy(f"COPY {target} FROM STDIN") as copy:
        while chunk := list(islice(lines, CHUNK)):
            copy.write("".join(chunk))
            copied += len(chunk)
    return copied


def _update_existing(cursor, value_list_id: int) -> int:
    """Values the list has already take the staged expiry and note (when they differ): how many did."""
    cursor.execute(
        f"""
        UPDATE rules_listentry e SET expires_at = s.expires_at, note = s.note FROM {STAGING} s
        WHERE e.value_list_id = %s AND e.value = s.value
          AND (e.expires_at, e.note) IS DISTINCT FROM (s.expires_at, s.note)
        """,  # noqa: S608 - the staging table's name is this module's constant
        [value_list_id],
    )
    return cursor.rowcount
