"""Read CSV and Parquet transaction files in bounded chunks, mapped onto the canonical schema and validated.

Only the columns a mapping names are read (Parquet column projection, `usecols` for CSV), and a file is never
held whole in memory: one chunk of `chunk_rows` rows at a time.
"""

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from transactions.validation import CANONICAL_FIELDS, Reason, RowError, frame_clean, nul_rows

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
}
_LABEL_GUESSES = ("label", "is_fraud", "tx_fraud", "is_anomaly", "fraud", "class")


class MappingError(ValueError):
    """The mapping does not fit the file: an unknown field, a missing or an excluded column, a required field
    without a column, or a file that is neither CSV nor Parquet (imports, jobs and backtests raise it alike)."""


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


def read_mapped_chunks(
    path: str | Path,
    *,
    mapping: dict[str, str],
    attributes: Sequence[str] = (),
    label_column: str | None = None,
    exclude: Sequence[str] = (),
    chunk_rows: int = 100_000,
) -> Iterator[MappedChunk]:
    """Yield the file's rows chunk by chunk, mapped (canonical field -> file column) and validated."""
    path = Path(path)
    plan = plan_columns(file_columns(path), mapping, attributes, label_column, exclude)
    first_row = 1
    for raw in _raw_chunks(path, plan.columns, chunk_rows):
        raw.index = pd.RangeIndex(first_row, first_row + len(raw))
        yield _map_chunk(raw, plan, first_row)
        first_row += len(raw)


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
    return FilePlan(mapping=mapping, attributes=list(dict.fromkeys(attributes)), label_column=label_column)


def _check_column(column: str, columns: Sequence[str], exclude: Sequence[str]) -> None:
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
    refused = [(name, nul_rows(raw[name])) for name in plan.attributes]
    if any(mask.any() for _, mask in refused):
        errors = sorted(
            [*errors, *(RowError(int(row), name, Reason.NUL) for name, mask in refused for row in raw.index[mask])],
            key=lambda error: error.row,
        )
        rejected = np.logical_or.reduce([mask.to_numpy() for _, mask in refused])
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
