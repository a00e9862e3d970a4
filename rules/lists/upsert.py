"""Many entries into a list at once: COPY into a temporary staging table, then set-based statements.

As core/bulk_insert.py does for transactions (psycopg writes COPY rows in C). Rather than INSERT … ON CONFLICT,
whose speculative insertion doubled a million-row import's time, the values the list has already are updated by
a join (only when their expiry or note differ: no dead row otherwise) and the others inserted by an anti-join; an
empty list skips the update. The caller holds the list's row lock, so no other change of the list runs between the
two, and the unique constraint stands behind them. Two counts come back, never a row per entry.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from core.bulk_insert import copy_text

STAGING = "staging_rules_listentry"
NULL = "\\N"
BACKSLASH = "\\"  # values are printable (rules.lists.values): a backslash is all COPY's text format escapes in them
NEW_ONLY = "WHERE NOT EXISTS (SELECT 1 FROM rules_listentry e WHERE e.value_list_id = %s AND e.value = s.value)"


def entries_upsert(
    *, value_list_id: int, entries: Iterable[tuple[str, datetime | None, str]], user_id: int | None
) -> tuple[int, int]:
    """Write (value, expires_at, note) entries, each value once, into the list: (added, updated)."""
    lines = [
        f"{value if BACKSLASH not in value else copy_text(value)}\t{NULL if expires is None else expires.isoformat()}"
        f"\t{copy_text(note) if note else ''}\n"
        for value, expires, note in entries
    ]
    if not lines:
        return 0, 0
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staging_rules_listentry (value text, expires_at timestamptz, note text) "
            "ON COMMIT DELETE ROWS; DELETE FROM staging_rules_listentry"
        )
        with cursor.cursor.copy(f"COPY {STAGING} (value, expires_at, note) FROM STDIN") as copy:
            for start in range(0, len(lines), 100_000):
                copy.write("".join(lines[start : start + 100_000]))
        cursor.execute("SELECT EXISTS (SELECT 1 FROM rules_listentry WHERE value_list_id = %s)", [value_list_id])
        has_entries = cursor.fetchone()[0]
        if has_entries and len(lines) > 10_000:
            cursor.execute(f"ANALYZE {STAGING}")  # a temporary table has no statistics: the joins need them
        updated = _update_existing(cursor, value_list_id) if has_entries else 0
        new_only = NEW_ONLY if has_entries else ""
        cursor.execute(
            f"""
            INSERT INTO rules_listentry (value_list_id, value, expires_at, note, created_at, created_by_id)
            SELECT %s, s.value, s.expires_at, s.note, now(), %s FROM {STAGING} s {new_only}
            """,  # noqa: S608 - this module's constants
            [value_list_id, user_id, *([value_list_id] if has_entries else [])],
        )
        added = cursor.rowcount
    return added, updated


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
