"""Read CSV and Parquet transaction files in bounded chunks, mapped onto the canonical schema and validated.

Only the columns a mapping names are read (Parquet column projection, `usecols` for CSV), and a file is never
held whole in memory: one chunk of `chunk_rows` rows at a time.
"""

import codecs
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Required, TypedDict

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from django.conf import settings

from transactions.validation import (
    CANONICAL_FIELDS,
    REQUIRED,
    Reason,
    RowError,
    attribute_column_problems,
    frame_clean,
    row_sizes_over,
)

ALL_OTHER_COLUMNS = "*"
PARQUET_SUFFIXES = {".parquet", ".pq"}

_GUESSES = {
    "transaction_id": ("transaction_id", "tx_id", "txn_id", "transactionid", "id"),
    "timestamp": ("timestamp", "tx_datetime", "datetime", "transaction_time", "transaction_date", "created_at", "date"),
    "account_id": ("account_id", "user_id", "customer_id", "card_id", "account", "card", "customer"),
    "amount": ("amount", "tx_amount", "transaction_amount", "value"),
    "currency": ("currency", "currency_code"),
    "merchant_id": ("merchant_id", "terminal_id", "merchant", "terminal"),
    "merchant_category": ("merchant_category", "category", "mcc"),
    "channel": ("channel", "is_online", "card_present"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng"),
    "location_distance_km": ("location_distance_km", "distance_km", "distance_from_home"),
    "country": ("country", "country_code"),
    "device_id": ("device_id", "device"),
    "billing_latitude": ("billing_latitude", "billing_lat"),
    "billing_longitude": ("billing_longitude", "billing_lon", "billing_lng"),
    "billing_postal_code": ("billing_postal_code", "billing_zip", "billing_postcode"),
    "billing_country": ("billing_country",),
    "shipping_latitude": ("shipping_latitude", "shipping_lat"),
    "shipping_longitude": ("shipping_longitude", "shipping_lon", "shipping_lng"),
    "shipping_postal_code": ("shipping_postal_code", "shipping_zip", "shipping_postcode"),
    "shipping_country": ("shipping_country",),
    "ip_country": ("ip_country",),
}
_LABEL_GUESSES = ("label", "is_fraud", "tx_fraud", "is_anomaly", "fraud", "class")


class MappingError(ValueError):
    """The mapping does not fit the file: an unknown field, a missing or an excluded column, a required field
    without a column, or a file that is neither CSV nor Parquet (imports, jobs and backtests raise it alike)."""


class UnreadableFile(MappingError):
    """The file cannot be read as what it claims to be (CSV that is not UTF-8 text, a broken Parquet footer): it
    does not fit any mapping, and is refused like a mapping that does not fit."""


DECODE_BLOCK = 1 << 20


def check_readable(path: str | Path) -> None:
    """Refuse, with the place and the reason, a file that would fail after it was accepted: a CSV file must be UTF-8
    text throughout (one bad byte in its last line would otherwise fail a job that answered 202), a Parquet file
    must have a readable footer. Reads a CSV file once, in blocks."""
    path = Path(path)
    if _is_parquet(path):
        try:
            pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims
            raise UnreadableFile(f"The file could not be read as Parquet ({type(exc).__name__}).") from exc
        return
    decoder, offset, lines = codecs.getincrementaldecoder("utf-8")(), 0, 1
    with path.open("rb") as handle:
        while block := handle.read(DECODE_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                place = offset + exc.start
                line = lines + block.count(b"\n", 0, max(exc.start, 0))
                raise UnreadableFile(_not_utf8(place, line)) from exc
            offset, lines = offset + len(block), lines + block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(_not_utf8(offset - 1, lines)) from exc


def _not_utf8(offset: int, line: int) -> str:
    return (
        f"The file is not UTF-8 text: byte {offset} (line {line}) is not valid UTF-8; "
        "save it as UTF-8 and send it again."
    )


@dataclass
class MappedChunk:
    """One chunk of a file: its valid rows in canonical columns (+ `attr_<name>`), and its rejected rows' errors.

    `frame`'s index is the 1-based data row number in the file; `rows` counts every row read, valid or not.
    """

    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    first_row: int = 1
    rows: int = 0


@dataclass(frozen=True)
class FilePlan:
    mapping: dict[str, str]
    attributes: list[str]
    label_column: str | None

    @property
    def columns(self) -> list[str]:
        wanted = [*self.mapping.values(), *self.attributes, *([self.label_column] if self.label_column else [])]
        return list(dict.fromkeys(wanted))


class ReadOptions(TypedDict, total=False):
    """read_mapped_chunks' options, for the services that pass them on (transactions_import_file)."""

    mapping: Required[dict[str, str]]
    attributes: Sequence[str]
    label_column: str | None
    exclude: Sequence[str]
    chunk_rows: int


def read_mapped_chunks(
    path: str | Path,
    *,
    mapping: dict[str, str],
    attributes: Sequence[str] = (),
    label_column: str | None = None,
    exclude: Sequence[str] = (),
    chunk_rows: int = 100_000,
) -> Iterator[MappedChunk]:
    """Yield the file's rows chunk by chunk, mapped (canonical field -> file column) and validated. A file that
    cannot be read throughout is refused before its first chunk (UnreadableFile), not after some were stored."""
    path = Path(path)
    check_readable(path)
    plan = plan_columns(file_columns(path), mapping, attributes, label_column, exclude)
    first_row = 1
    for raw in _raw_chunks(path, plan.columns, chunk_rows):
        raw.index = pd.RangeIndex(first_row, first_row + len(raw))
        yield _map_chunk(raw, plan, first_row)
        first_row += len(raw)


def same_name_mapping(path: str | Path, fields: Sequence[str]) -> dict[str, str]:
    """Each of `fields` that the file has a column of the same name for, mapped to it: what a file written in the
    canonical shape (an archived month, say) needs instead of a --map."""
    return {name: name for name in file_columns(path) if name in fields}


def file_columns(path: str | Path) -> list[str]:
    path = Path(path)
    if _is_parquet(path):
        return list(pq.ParquetFile(path).schema_arrow.names)
    return list(pd.read_csv(path, nrows=0).columns)


def plan_columns(
    columns: Sequence[str],
    mapping: dict[str, str],
    attributes: Sequence[str],
    label_column: str | None,
    exclude: Sequence[str],
) -> FilePlan:
    """Check a mapping against a file's header; `attributes=["*"]` keeps every column nothing else uses."""
    mapping = dict(mapping)
    label_column = label_column or mapping.pop("label", None)
    unknown = sorted(set(mapping) - set(CANONICAL_FIELDS))
    if unknown:
        raise MappingError(f"unknown field {unknown[0]!r}; fields are: {', '.join(CANONICAL_FIELDS)}")
    used = [*mapping.values(), *([label_column] if label_column else [])]
    if ALL_OTHER_COLUMNS in attributes:
        attributes = [name for name in columns if name not in used and name not in exclude]
    for column in [*used, *attributes]:
        _check_column(column, columns, exclude)
    unmapped = [name for name in REQUIRED if not mapping.get(name)]
    if unmapped:
        # Without them every row would be refused (or, with no column read at all, none read): say so up front.
        found = ", ".join(map(str, columns)) or "none"
        raise MappingError(f"no column for the required field {unmapped[0]!r}; the file's columns are: {found}")
    attributes = list(dict.fromkeys(attributes))
    if len(attributes) > settings.ATTRIBUTES_MAX_KEYS:
        limit = settings.ATTRIBUTES_MAX_KEYS
        raise MappingError(f"{len(attributes)} columns to keep as attributes; at most {limit} are kept")
    return FilePlan(mapping=mapping, attributes=attributes, label_column=label_column)


def _check_column(column: str, columns: Sequence[str], exclude: Sequence[str]) -> None:
    if not isinstance(column, str):
        raise MappingError(f"a column is named by its header text, not {column!r}")
    if column in exclude:
        raise MappingError(f"column {column!r} is excluded and cannot be mapped or kept")
    if column not in columns:
        raise MappingError(f"column {column!r} is not in the file; its columns are: {', '.join(columns)}")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def _raw_chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterable[pd.DataFrame]:
    if _is_parquet(path):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns):
            yield batch.to_pandas()
        return
    yield from pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, chunksize=chunk_rows)


def _map_chunk(raw: pd.DataFrame, plan: FilePlan, first_row: int) -> MappedChunk:
    canonical = pd.DataFrame({name: raw[column] for name, column in plan.mapping.items()}, index=raw.index)
    if plan.label_column:
        canonical["label"] = raw[plan.label_column]
    frame, errors = frame_clean(canonical)
    refused = [
        (name, reason, mask) for name in plan.attributes for reason, mask in attribute_column_problems(raw[name])
    ]
    if plan.attributes:
        refused.append(("attributes", Reason.too_big(), row_sizes_over(raw[plan.attributes])))
    if any(mask.any() for _, _, mask in refused):
        extra = [RowError(int(row), name, reason) for name, reason, mask in refused for row in raw.index[mask]]
        errors = sorted([*errors, *extra], key=lambda error: error.row)
        rejected = np.logical_or.reduce([mask.to_numpy() for _, _, mask in refused])
        frame = frame[~pd.Series(rejected, index=raw.index).loc[frame.index].to_numpy()]
    for name in plan.attributes:
        frame[f"attr_{name}"] = attribute_values(raw[name]).loc[frame.index]
    return MappedChunk(frame=frame, errors=errors, first_row=first_row, rows=len(raw))


def attribute_values(column: pd.Series) -> pd.Series:
    """An attribute column as the JSON should hold it: numbers stay numbers, text whose every value is one
    becomes numbers, empty text becomes missing."""
    if not (pd.api.types.is_string_dtype(column) or column.dtype == object):
        return column
    text = column.astype("str").str.strip()
    text = text.where(column.notna() & (text != ""))
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().sum() != text.notna().sum() or not np.isfinite(numbers.dropna()).all():
        return text
    integral = text.dropna().str.fullmatch(r"[+-]?\d+").all()
    return numbers.astype("Int64") if integral else numbers


def guess_mapping(columns: Iterable[str]) -> dict[str, str]:
    """A first guess of the mapping (canonical field -> column) from a file's header names."""
    by_key = {_header_key(column): column for column in columns}
    mapping = {}
    for name, candidates in _GUESSES.items():
        found = next((by_key[key] for key in map(_header_key, candidates) if key in by_key), None)
        if found is not None and found not in mapping.values():
            mapping[name] = found
    return mapping


def guess_label_column(columns: Iterable[str]) -> str | None:
    by_key = {_header_key(column): column for column in columns}
    return next((by_key[key] for key in map(_header_key, _LABEL_GUESSES) if key in by_key), None)


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())
