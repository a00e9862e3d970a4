"""Many entries into a list in one statement: COPY into a temporary staging table, then INSERT … ON CONFLICT.

As core/bulk_insert.py does for transactions (psycopg writes COPY rows in C), with one difference: the answer is
two counts rather than a row per entry, so a million entries never come back to Python. A re-added value takes the
expiry and note it was given; one given the same ones is left as it is (no dead row, not counted as updated).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from core.bulk_insert import copy_text

STAGING = "staging_rules_listentry"
NULL = "\\N"


def entries_upsert(
    *, value_list_id: int, entries: Iterable[tuple[str, datetime | None, str]], user_id: int | None
) -> tuple[int, int]:
    """Write (value, expires_at, note) entries, each value once, into the list: (added, updated)."""
    lines = [
        f"{copy_text(value)}\t{NULL if expires is None else expires.isoformat()}\t{copy_text(note) if note else ''}\n"
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
        cursor.execute(
            f"""
            WITH written AS (
                INSERT INTO rules_listentry (value_list_id, value, expires_at, note, created_at, created_by_id)
                SELECT %s, s.value, s.expires_at, s.note, now(), %s FROM {STAGING} s
                ON CONFLICT (value_list_id, value) DO UPDATE
                    SET expires_at = EXCLUDED.expires_at, note = EXCLUDED.note
                    WHERE (rules_listentry.expires_at, rules_listentry.note)
                        IS DISTINCT FROM (EXCLUDED.expires_at, EXCLUDED.note)
                RETURNING xmax = 0 AS added
            )
            SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) FROM written
            """,  # noqa: S608 - the staging table's name is this module's constant
            [value_list_id, user_id],
        )
        added, updated = cursor.fetchone()
    return added, updated
