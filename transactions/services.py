"""Writes to the transaction store: ingest one or many, label, import a file, store a generated frame."""

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Unpack

import pandas as pd
from django.db import OperationalError, connection
from django.db import transaction as db_transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from transactions import bulk
from transactions.files import MappedChunk, ReadOptions, read_mapped_chunks
from transactions.models import LabelEvent, LabelSource, Source, Transaction
from transactions.validation import FieldError, RowError, parse_label, transaction_clean

MAX_STORED_ERRORS = 1000
DEADLOCK_RETRIES = 3


@dataclass
class IngestResult:
    """One raw transaction's fate: stored (`created`), already there (`created=False`), or refused (`errors`)."""

    transaction: Transaction | None
    created: bool = False
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportSummary:
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    reasons: Counter = field(default_factory=Counter)  # (field, reason) -> how many rows

    def add_errors(self, errors: Sequence[RowError]) -> None:
        room = MAX_STORED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.error_count += len(errors)
        self.rejected += len({error.row for error in errors})
        self.reasons.update((error.field, error.reason) for error in errors)


class SourceKindMismatch(ValueError):
    """A source of that name exists in the organisation, of another kind (a partner's, say): never written into."""


def source_get_or_create(*, organisation, name: str, kind: str = Source.Kind.IMPORT) -> Source:
    """The organisation's source of this name and kind, made when new; a source of that name but another kind is
    refused (an import must not write into a partner's source)."""
    source, _ = Source.objects.get_or_create(organisation=organisation, name=name, defaults={"kind": kind})
    if source.kind != kind:
        raise SourceKindMismatch(f"{name!r} is a {source.get_kind_display().lower()} source; choose another name")
    return source


def transaction_ingest(
    *, source: Source, data: dict[str, Any], label_source: str = LabelSource.REPORTED
) -> IngestResult:
    """Store one raw transaction unless the source already sent its id; a label in `data` is recorded too."""
    return transactions_ingest_many(source=source, rows=[data], label_source=label_source)[0]


class IngestedRow(NamedTuple):
    """IngestResult without the model instance: the stored row's primary key (bulk paths keep rows in arrays).

    A named tuple: a batch makes one per row, and a named tuple is cheaper to make than a frozen dataclass.
    """

    pk: int | None
    transaction_id: str | None
    created: bool = False
    errors: Sequence[FieldError] = ()
    # The values this call stored, for a row it created (the canonical fields, `attributes`, and `labelled_at` when
    # labelled): what scoring would otherwise read back. None for a row already stored, or refused.
    stored: dict[str, Any] | None = None


# No savepoint inside a caller's transaction: nothing here is caught and retried, and each savepoint is two more
# round trips on the single-score path.
@db_transaction.atomic(savepoint=False)
def transactions_ingest_many(
    *, source: Source, rows: Iterable[dict[str, Any]], label_source: str = LabelSource.REPORTED
) -> list[IngestResult]:
    """Store many raw transactions in bulk SQL; results in input order. Safe to repeat and to run concurrently."""
    ingested = transactions_ingest_rows(source=source, rows=rows, label_source=label_source)
    # A row this call created is built from the values it stored, saving the single-score path a readback; the
    # others are read.
    stored = Transaction.objects.in_bulk([row.pk for row in ingested if row.pk is not None and row.stored is None])
    stored |= {row.pk: _stored_instance(source, row, label_source) for row in ingested if row.stored is not None}
    return [
        IngestResult(transaction=None, errors=row.errors)
        if row.pk is None
        else IngestResult(transaction=stored[row.pk], created=row.created)
        for row in ingested
    ]


def _stored_instance(source: Source, row: IngestedRow, label_source: str) -> Transaction:
    """The model instance of a row this call stored, as the database would give it back (the attributes as their
    JSON reads back; the database's own columns, `ingested_at` and `change_txid`, deferred: read if asked for)."""
    values = row.stored
    labelled = values["label"] is not None
    fields = {
        "id": row.pk,
        "source_id": source.pk,
        **{name: values[name] for name in bulk.ROW_COLUMNS},
        "attributes": bulk.attributes_as_stored(values["attributes"]),
        "label": values["label"],
        "label_source": label_source if labelled else "",
        "labelled_at": values["labelled_at"] if labelled else None,
    }
    instance = Transaction.from_db(connection.alias, list(fields), list(fields.values()))
    instance.source = source
    return instance


@db_transaction.atomic(savepoint=False)
def transactions_ingest_rows(
    *, source: Source, rows: Iterable[dict[str, Any]], label_source: str = LabelSource.REPORTED
) -> list[IngestedRow]:
    """transactions_ingest_many without reading the stored rows back: each row's primary key, in input order."""
    cleaned = [transaction_clean(row) for row in rows]
    valid = [item.data for item in cleaned if item.ok]
    now = timezone.now()
    for data in valid:
        data["labelled_at"] = now
    outcome = bulk.insert_rows(source_id=source.pk, rows=valid, label_source=label_source)
    results, seen, events = [], set(), []
    for item in cleaned:
        if not item.ok:
            results.append(IngestedRow(pk=None, transaction_id=None, errors=item.errors))
            continue
        tx_id = item.data["transaction_id"]
        pk, created = outcome[tx_id]
        created = created and tx_id not in seen  # the same id twice in one call: the first one is the new row
        seen.add(tx_id)
        results.append(IngestedRow(pk=pk, transaction_id=tx_id, created=created, stored=item.data if created else None))
        if created and item.data.get("label") is not None:
            events.append(LabelEvent(transaction_id=pk, label=item.data["label"], source=label_source, created_at=now))
    LabelEvent.objects.bulk_create(events)
    return results


@db_transaction.atomic
def transaction_label(
    *,
    transaction: Transaction,
    label: Any,
    source: str,
    user=None,
    note: str = "",
    at: datetime | None = None,
) -> LabelEvent:
    """Give a transaction its latest label (1 fraud, 0 legitimate; also true/false, fraud/legit) and log it."""
    value = parse_label(label)
    at = at or timezone.now()
    transaction.label, transaction.label_source, transaction.labelled_at = value, source, at
    transaction.save(update_fields=["label", "label_source", "labelled_at"])
    return LabelEvent.objects.create(
        transaction=transaction, label=value, source=source, created_at=at, created_by=user, note=note
    )


@db_transaction.atomic
def transactions_label_many(
    *, transaction_ids: list[int], label: Any, source: str, user=None, note: str = "", at: datetime | None = None
) -> int:
    """`transaction_label` for many transactions at once: one UPDATE and one INSERT of their label events."""
    value = parse_label(label)
    at = at or timezone.now()
    ids = list(transaction_ids)
    updated = Transaction.objects.filter(pk__in=ids).update(label=value, label_source=source, labelled_at=at)
    LabelEvent.objects.bulk_create(
        LabelEvent(transaction_id=pk, label=value, source=source, created_at=at, created_by=user, note=note)
        for pk in ids
    )
    return updated


def transactions_import_file(
    *,
    source: Source,
    path: str | Path,
    workers: int = 2,
    on_progress: Callable[[ImportSummary], None] | None = None,
    **read: Unpack[ReadOptions],
) -> ImportSummary:
    """Import a CSV or Parquet file chunk by chunk; each chunk commits on its own, so a rerun only adds what is
    missing. Bad rows are counted and reported; every valid row is stored. Raises MappingError up front. `read`:
    how the file is read (its mapping, attributes, label column, excluded columns, chunk size: read_mapped_chunks).

    With `workers` > 1, that many chunks are written at once over their own database connections (PostgreSQL
    then uses as many cores) while the next chunk is read; inside an outer transaction, whose rows other
    connections cannot see, chunks are written one by one on this connection.
    """
    summary = ImportSummary()
    chunks = read_mapped_chunks(path, **read)
    if workers <= 1 or connection.in_atomic_block:
        for chunk in chunks:
            _tally(summary, chunk, _store_chunk(source, chunk), on_progress)
        return summary
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import") as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk, pool.submit(_store_chunk_on_own_connection, source, chunk)))
            while len(pending) >= workers:
                done, future = pending.popleft()
                _tally(summary, done, future.result(), on_progress)
        for done, future in pending:
            _tally(summary, done, future.result(), on_progress)
    return summary


def _store_chunk(source: Source, chunk: MappedChunk) -> int:
    names = [name.removeprefix("attr_") for name in chunk.frame.columns if name.startswith("attr_")]
    return transactions_store_frame(source=source, frame=chunk.frame, attributes=names)


def _store_chunk_on_own_connection(source: Source, chunk: MappedChunk) -> int:
    """Two writers that hold the same new transaction_id in reversed order can deadlock; PostgreSQL then aborts
    one, and its chunk is simply written again (the other's rows are committed duplicates by then)."""
    try:
        for attempt in range(1, DEADLOCK_RETRIES + 1):
            try:
                return _store_chunk(source, chunk)
            except OperationalError as error:
                if attempt == DEADLOCK_RETRIES or not isinstance(error.__cause__, DeadlockDetected):
                    raise
    finally:
        connection.close()


def _tally(summary: ImportSummary, chunk: MappedChunk, stored: int, on_progress) -> None:
    summary.rows += chunk.rows
    summary.stored += stored
    summary.duplicates += len(chunk.frame) - stored
    summary.add_errors(chunk.errors)
    if on_progress:
        on_progress(summary)


@db_transaction.atomic
def transactions_store_frame(
    *,
    source: Source,
    frame: pd.DataFrame,
    attributes: Sequence[str] = (),
    label_source: str = LabelSource.IMPORT,
) -> int:
    """Store an already clean canonical frame (see transactions.files.MappedChunk) by COPY; returns new rows."""
    return bulk.copy_frame(source_id=source.pk, frame=frame, attributes=attributes, label_source=label_source)
