"""Retention: months of the transactions table written to Parquet, then taken out of the store (`manage.py archive`).

A month's partition is written to ARCHIVE_DIR/transactions/<YYYY-MM>.parquet (the canonical columns, label included,
so that `import_transactions` and `backtest` read it back) with its label events beside it in
ARCHIVE_DIR/label_events/<YYYY-MM>.parquet, and the month's partitions of the tables partitioned with the transactions
(their scores and shadow scores: transactions/partitions.py) in ARCHIVE_DIR/<their folder>/<YYYY-MM>.parquet, every
column, when the month has any. Every file is read back and compared with its rows (row counts and a checksum of every
value) before the month's partitions are detached and dropped, together. Nothing is dropped that was not read back
equal. The transactions' keys stay (TransactionKey): a resent archived transaction is still a
duplicate, and rows that point at an archived one (scores, review items, labels) keep a valid reference.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.db import connection, transaction

from core.partitions import default_name, ensure_months, forget_known, month_partitions, next_month
from transactions.models import LabelEvent
from transactions.partitions import FOLLOWERS, KEY, TABLE, Follower, transaction_months_ensure
from transactions.validation import CANONICAL_FIELDS

ARCHIVED_COLUMNS = (*CANONICAL_FIELDS, "attributes", "label_source", "labelled_at", "source_id", "id", "ingested_at")
EVENT_COLUMNS = ("id", "transaction_id", "label", "source", "created_at", "created_by_id", "note")


class ArchiveMismatch(Exception):
    """A written file did not read back equal to the rows it holds: nothing was dropped."""


@dataclass
class FollowerMonth:
    """A month of a table partitioned with the transactions: its partition (None: it has none, nor rows) and file."""

    follower: Follower
    partition: str | None
    rows: int
    file: Path


@dataclass
class MonthArchive:
    month: date
    partition: str
    rows: int
    files: list[Path]
    done: bool = False
    followers: list[FollowerMonth] = field(default_factory=list)

    def describe(self, execute: bool) -> str:
        files = " and ".join(str(path) for path in self.files)
        if self.done:
            return f"{self.month:%Y-%m}: wrote {self.rows} rows to {files}, read them back, dropped {self.partition}"
        verb = "writing" if execute else "would write"
        if self.partition.endswith("_default"):
            return (
                f"{self.month:%Y-%m}: {verb} {self.rows} rows (now in {self.partition}: moved to a partition of "
                f"their month first) to {files}, then detach and drop that partition"
            )
        return f"{self.month:%Y-%m}: {verb} {self.rows} rows to {files}, then detach and drop {self.partition}"


def archive_months(*, before: date, directory: Path) -> list[MonthArchive]:
    """The months the store holds before `before` and what archiving them writes (reads only)."""
    with connection.cursor() as cursor:
        waiting = _default_months(cursor, before)
        partitions = month_partitions(cursor, TABLE)
        plans = []
        for month in sorted(set(partitions) | set(waiting)):
            if month >= before:
                continue
            name = partitions.get(month, default_name(TABLE))
            followers = _follower_months(cursor, month, directory)
            files = [*_files(directory, month), *(f.file for f in followers if f.rows)]
            plans.append(MonthArchive(month, name, _count(cursor, month), files, followers=followers))
    return plans


def _follower_months(cursor, month: date, directory: Path) -> list[FollowerMonth]:
    found = []
    for follower in FOLLOWERS.values():
        partition = month_partitions(cursor, follower.table).get(month)
        rows = _count(cursor, month, follower.table, follower.key)
        if partition is None and rows:
            partition = default_name(follower.table)
        file = directory / follower.archive_as / f"{month:%Y-%m}.parquet"
        found.append(FollowerMonth(follower, partition, rows, file))
    return found


def transactions_archive(*, before: date, directory: Path, on_month=None) -> list[MonthArchive]:
    """Archive every month before `before`, oldest first; each month is written, read back and dropped before the
    next is begun. Rows of those months still in the default partition get their month's partition first."""
    with connection.cursor() as cursor:
        transaction_months_ensure(_default_months(cursor, before), remembered=False)
        for follower in FOLLOWERS.values():
            ensure_months(
                follower.table,
                follower.key,
                _default_months(cursor, before, follower.table, follower.key),
                remembered=False,
            )
    plans = archive_months(before=before, directory=directory)
    for plan in plans:
        partitions = [plan.partition, *(f.partition for f in plan.followers)]
        waiting = [name for name in partitions if name and name.endswith("_default")]
        if waiting:  # never a default partition, which holds other months too
            raise ArchiveMismatch(f"{plan.month:%Y-%m}: its rows are still in {waiting[0]}; nothing was dropped")
    for plan in plans:
        _archive_month(plan)
        if on_month:
            on_month(plan)
    return plans


def _archive_month(plan: MonthArchive) -> None:
    transactions_file, events_file = plan.files[:2]
    with connection.cursor() as cursor:
        frame = _read(cursor, f"SELECT {', '.join(ARCHIVED_COLUMNS)} FROM {plan.partition} ORDER BY id")  # noqa: S608
        events = _read(
            cursor,
            f"SELECT {', '.join(f'e.{c}' for c in EVENT_COLUMNS)} FROM {LabelEvent._meta.db_table} e"  # noqa: S608
            f" WHERE e.transaction_id IN (SELECT id FROM {plan.partition}) ORDER BY e.id",
        )
        written = [(frame, transactions_file, plan.rows), (events, events_file, len(events))]
        for part in plan.followers:
            if part.rows:
                rows = _read(cursor, f"SELECT * FROM {part.partition} ORDER BY id", part.follower.json_columns)  # noqa: S608
                written.append((rows, part.file, part.rows))
    for rows, path, _ in written:
        _write(rows, path)
    for rows, path, count in written:
        if checksum(pd.read_parquet(path)) != checksum(rows) or len(rows) != count:
            raise ArchiveMismatch(f"{plan.month:%Y-%m}: {path} read back differs from the rows; nothing was dropped")
    dropped = [(TABLE, plan.partition), *((f.follower.table, f.partition) for f in plan.followers if f.partition)]
    with transaction.atomic(), connection.cursor() as cursor:
        for table, partition in dropped:
            cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {partition}")
            cursor.execute(f"DROP TABLE {partition}")
    for table, _ in dropped:
        forget_known(table, plan.month)
    plan.done = True


def checksum(frame: pd.DataFrame) -> tuple[int, str]:
    """Rows and a digest of every value, as text, in a stable order: equal for the rows and their file read back."""
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC")
        digest.update(name.encode())
        digest.update("\x1f".join("" if pd.isna(v) else str(v) for v in column.tolist()).encode())
    return len(frame), digest.hexdigest()


def _read(cursor, sql: str, json_columns: tuple[str, ...] = ("attributes",)) -> pd.DataFrame:
    cursor.execute(sql)
    names = [column.name for column in cursor.description]
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=names)
    for name in frame.columns:
        if name in ("amount",):
            frame[name] = frame[name].astype("float64")
        elif name in json_columns:
            frame[name] = frame[name].map(_json_text)
        elif name in ("label", "created_by_id"):
            frame[name] = frame[name].astype("Int64")
    return frame


def _json_text(value) -> str | None:
    """A JSON column's value as JSON text: Django's connection reads jsonb as its text already."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), partial)
    partial.replace(path)


def _files(directory: Path, month: date) -> list[Path]:
    return [
        directory / "transactions" / f"{month:%Y-%m}.parquet",
        directory / "label_events" / f"{month:%Y-%m}.parquet",
    ]


def _count(cursor, month: date, table: str = TABLE, key: str = KEY) -> int:
    cursor.execute(
        f"SELECT count(*) FROM {table} WHERE {key} >= %s AND {key} < %s",  # noqa: S608
        [_utc(month), _utc(next_month(month))],
    )
    return cursor.fetchone()[0]


def _default_months(cursor, before: date, table: str = TABLE, key: str = KEY) -> list[date]:
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC')::date FROM {default_name(table)}"  # noqa: S608
        f" WHERE {key} < %s",
        [_utc(before)],
    )
    return [month for (month,) in cursor.fetchall()]


def _utc(month: date) -> pd.Timestamp:
    return pd.Timestamp(month, tz="UTC").to_pydatetime()
