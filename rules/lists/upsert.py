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

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import connection
from django.utils import timezone

from core.bulk_insert import copy_text
from rules.lists.imports import ReadFile

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
        if not _has_entries(cursor, value_list_id):
            return _copy(cursor, _TARGET, _lines(entries, *_new_rows(value_list_id, user_id))), 0
        return _staged(cursor, value_list_id, entries, user_id)


def entries_upsert_read(
    *, value_list_id: int, read: ReadFile, reading: Iterator, user_id: int | None
) -> tuple[int, int]:
    """A file's entries into the list while the file is read (`reading`: rules.lists.imports.entries_read_chunks into
    `read`): (added, updated). Into a list with no entry, what each pause of the reading found new is copied
    straight away, so PostgreSQL stores it while the rest is read; a value read again after it was copied then takes
    its last row. Into a list with entries, the whole file is read first, then staged."""
    with connection.cursor() as cursor:
        if _has_entries(cursor, value_list_id):
            for _ in reading:
                pass
            return _staged(cursor, value_list_id, _read_entries(read, read.fresh), user_id)
        prefix, suffix = _new_rows(value_list_id, user_id)
        sent = 0
        with cursor.cursor.copy(f"COPY {_TARGET} FROM STDIN") as copy:
            for _ in itertools.chain(reading, [None]):  # and once more after the last row
                if len(read.fresh) > sent:
                    copy.write("".join(_lines(_read_entries(read, read.fresh[sent:]), prefix, suffix)))
                    sent = len(read.fresh)
        if read.repeated:
            _staged(cursor, value_list_id, _read_entries(read, sorted(read.repeated)), user_id)
    return sent, 0


def _read_entries(read: ReadFile, values: list[str]) -> Iterator[Entry]:
    entries = read.entries
    return ((value, *entries[value]) for value in values)


def _has_entries(cursor, value_list_id: int) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM rules_listentry WHERE value_list_id = %s)", [value_list_id])
    return cursor.fetchone()[0]


_TARGET = "rules_listentry (value_list_id, value, expires_at, note, created_at, created_by_id)"


def _new_rows(value_list_id: int, user_id: int | None) -> tuple[str, str]:
    """What a COPY line into the table holds around (value, expiry, note): the list, then the time and author."""
    return f"{value_list_id}\t", f"\t{timezone.now().isoformat()}\t{NULL if user_id is None else user_id}\n"


def _staged(cursor, value_list_id: int, entries: Iterable[Entry], user_id: int | None) -> tuple[int, int]:
    """Entries into a list that has some: staged, the list's own updated, the others inserted."""
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
        while chunk := list(itertools.islice(lines, CHUNK)):
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
