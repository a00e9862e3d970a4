"""Tables partitioned by month (PostgreSQL declarative range partitions): the SQL to make, fill and empty them.

A partitioned table has one partition per calendar month (UTC) of its partition key, named `<table>_pYYYY_MM`, and a
DEFAULT partition, `<table>_default`, that takes a row of a month nobody made a partition for (an insert by the ORM,
say), so no insert ever fails for want of one. `ensure_months` makes the months' partitions and moves such rows out
of the default first (PostgreSQL refuses a new partition while the default holds rows of its range). Tables, columns
and months are this project's constants and dates, never user input.
"""

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.db import connection, transaction

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_known: set[tuple[str, date]] = set()  # (table, first day) this process has made or seen: their check is skipped


def month_start(moment: datetime | date) -> date:
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_from(month: date, *, ahead: int) -> list[date]:
    """`month` and the `ahead` months after it."""
    months = [month]
    for _ in range(ahead):
        months.append(next_month(months[-1]))
    return months


def parse_month(text: str) -> date:
    """'YYYY-MM' as its first day; ValueError naming the expected form otherwise."""
    match = MONTH.match(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month: expected YYYY-MM, such as 2026-01")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _instant(month: date) -> str:
    """A month's first instant in UTC as an SQL literal, whatever the session's time zone."""
    return f"'{month.isoformat()} 00:00:00+00'"


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def month_partitions(cursor, table: str) -> dict[date, str]:
    """The table's month partitions, {first day: name}, oldest first (the default partition is not one)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY c.relname",
        [table],
    )
    found = {}
    for (name,) in cursor.fetchall():
        match = re.fullmatch(rf"{re.escape(table)}_p(\d{{4}})_(\d{{2}})", name)
        if match:
            found[date(int(match.group(1)), int(match.group(2)), 1)] = name
    return found


def ensure_months(table: str, key: str, moments: Iterable[datetime | date], *, remembered: bool = True) -> list[date]:
    """Make the partitions of `table` (partitioned by `key`) for the months of `moments` that lack one; returns the
    months made. Outside a transaction each month is made in a short one of its own; inside one, where its lock on
    the table (ACCESS EXCLUSIVE, as any new partition takes) is then held to its end. `remembered=False` looks in
    the catalog even for months this process made before."""
    wanted = {month_start(moment) for moment in moments}
    if remembered:
        wanted -= {m for t, m in _known if t == table}
    wanted = sorted(wanted)
    if not wanted:
        return []
    made = []
    with connection.cursor() as cursor:
        existing = month_partitions(cursor, table)
        for month in wanted:
            if month not in existing:
                with transaction.atomic():
                    _make_month(cursor, table, key, month)
                made.append(month)
            # Remembered even if an enclosing transaction later rolls the partition back: its rows then go to the
            # default partition, which the month's next creation empties.
            _known.add((table, month))
    return made


def forget_known(table: str | None = None, month: date | None = None) -> None:
    """Drop this process's memory of made partitions: all, or one dropped (after a test rolled them back, say)."""
    if table is None:
        _known.clear()
    else:
        _known.discard((table, month))


def _make_month(cursor, table: str, key: str, month: date) -> None:
    """One month's partition; rows of it waiting in the default partition move into it first."""
    name, default, end = partition_name(table, month), default_name(table), next_month(month)
    bounds = f"FROM ({_instant(month)}) TO ({_instant(end)})"
    in_month = f"{key} >= {_instant(month)} AND {key} < {_instant(end)}"
    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})")  # noqa: S608
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES {bounds}")
        return
    # Detached, the default is a plain table without the parent's triggers: its rows move without firing them.
    cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    moved = f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING *) INSERT INTO {name} SELECT * FROM moved"  # noqa: S608
    cursor.execute(moved)
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {bounds}")
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")


def partition_table_sql(*, table: str, key: str, months: Iterable[date]) -> list[str]:
    """Statements making the partitioned `table` (from `<table>_unpartitioned`'s columns, defaults, checks and
    identity) with its default partition and the given months' partitions."""
    statements = [
        f"CREATE TABLE {table} (LIKE {table}_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING IDENTITY INCLUDING STORAGE) PARTITION BY RANGE ({key})",
        f"CREATE TABLE {default_name(table)} PARTITION OF {table} DEFAULT",
    ]
    for month in sorted(set(months)):
        statements.append(
            f"CREATE TABLE {partition_name(table, month)} PARTITION OF {table}"
            f" FOR VALUES FROM ({_instant(month)}) TO ({_instant(next_month(month))})"
        )
    return statements


def table_triggers(cursor, table: str) -> list[str]:
    """CREATE TRIGGER statements of the table's own (not internal) triggers, with the table's name as `{table}`."""
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal"
        " AND tgparentid = 0 ORDER BY tgname",
        [table],
    )
    return [_templated(definition, table) for (definition,) in cursor.fetchall()]


def table_indexes(cursor, table: str) -> list[str]:
    """CREATE INDEX statements of the table's indexes that back no constraint, with its name as `{table}`."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        " ORDER BY c.relname",
        [table],
    )
    return [_templated(definition, table) for (definition,) in cursor.fetchall()]


def _templated(definition: str, table: str) -> str:
    return re.sub(rf" ON (ONLY )?(public\.)?{re.escape(table)} ", " ON {table} ", definition, count=1)


def referencing_foreign_keys(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE contype = 'f'"
        " AND confrelid = %s::regclass",
        [table],
    )
    return [name for (name,) in cursor.fetchall()]


def rebuild_table(
    cursor,
    *,
    table: str,
    key: str,
    partitioned: bool,
    primary_key: str,
    constraints: Iterable[str] = (),
    indexes: Iterable[str] = (),
    drop_indexes: Iterable[str] = (),
    drop_triggers: Iterable[str] = (),
    ahead: int = 3,
) -> None:
    """Move `table` with its rows into a new one, partitioned by month of `key` or not (a migration's step, either
    way): columns, defaults, checks, identity and its sequence's position, indexes and triggers carry over, save
    `drop_indexes` and `drop_triggers` (names); `primary_key`, `constraints` (ADD CONSTRAINT text) and `indexes`
    (CREATE INDEX text with `{table}`) are added. No foreign key may point at the table: it refuses to start."""
    foreign = referencing_foreign_keys(cursor, table)
    if foreign:
        raise RuntimeError(f"{table} is referenced by foreign keys {foreign}: move them to statement checks first")
    drop_indexes, drop_triggers = set(drop_indexes), set(drop_triggers)
    kept_indexes = [d for d in table_indexes(cursor, table) if _name_after(d, "INDEX ") not in drop_indexes]
    kept_triggers = [d for d in table_triggers(cursor, table) if _name_after(d, "TRIGGER ") not in drop_triggers]
    old = f"{table}_unpartitioned"
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    if sequence:
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {old}_id_seq")
        cursor.execute(f"SELECT last_value, is_called FROM {old}_id_seq")  # noqa: S608
        position = cursor.fetchone()
    if partitioned:
        cursor.execute(f"SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC')::date FROM {old}")  # noqa: S608
        months = {month for (month,) in cursor.fetchall()}
        months.update(months_from(month_start(datetime.now(UTC)), ahead=ahead))
        for statement in partition_table_sql(table=table, key=key, months=months):
            cursor.execute(statement)
    else:
        cursor.execute(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY"
            " INCLUDING STORAGE)"
        )
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # noqa: S608
    if sequence:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", [table, *position])
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({primary_key})")
    for constraint in constraints:
        cursor.execute(f"ALTER TABLE {table} ADD {constraint}")
    for statement in [*kept_indexes, *indexes, *kept_triggers]:
        cursor.execute(statement.replace("{table}", table))
    cursor.execute(f"ANALYZE {table}")


def _name_after(definition: str, word: str) -> str:
    return definition.split(word, 1)[1].split()[0]
