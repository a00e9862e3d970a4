"""Reads of staged files: this session's, and their first rows."""

import pandas as pd
import pyarrow.parquet as pq

from detection.staging.services import SESSION_KEY, StagedUpload
from transactions.files import PARQUET_SUFFIXES

UPLOAD_PERM = "transactions.upload_transactions"
PREVIEW_ROWS = 5
# The rows the label-leak check reads: enough to measure a column's AUC, bounded for a large file.
CHECK_ROWS = 200_000


def may_upload(user) -> bool:
    """Whether this person may stage files, score them and replay them (the uploads and backtests pages)."""
    return bool(user) and user.is_authenticated and user.is_active and user.has_perm(UPLOAD_PERM)


def staged_upload_get(*, session, key: str) -> StagedUpload | None:
    """This session's staged file of that key, or None (another person's, an old one, or its file gone)."""
    entry = next((e for e in session.get(SESSION_KEY, []) if e["key"] == key), None)
    staged = StagedUpload(**entry) if entry else None
    return staged if staged is not None and staged.absolute.exists() else None


def staged_upload_preview(staged: StagedUpload) -> list[list[str]]:
    """The first rows of the file, as text, to help map its columns; none if they cannot be read (the header
    could, and the job or the run reports what is wrong with the rows)."""
    try:
        return _first_rows(staged)
    except (ValueError, OSError):  # pandas' ParserError and pyarrow's ArrowInvalid are ValueErrors
        return []


def _first_rows(staged: StagedUpload) -> list[list[str]]:
    path = staged.absolute
    if path.suffix in PARQUET_SUFFIXES:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=PREVIEW_ROWS), None)
        frame = batch.to_pandas() if batch is not None else pd.DataFrame(columns=staged.columns)
    else:
        frame = pd.read_csv(path, nrows=PREVIEW_ROWS, dtype=str, keep_default_na=False)
    return frame.head(PREVIEW_ROWS).astype(str).to_numpy().tolist()


def staged_upload_columns(staged: StagedUpload, columns: list[str], *, rows: int = CHECK_ROWS) -> pd.DataFrame:
    """These columns of the staged file's first `rows` rows, their types inferred as pandas reads them."""
    wanted = list(dict.fromkeys(columns))
    path = staged.absolute
    if path.suffix in PARQUET_SUFFIXES:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows, columns=wanted), None)
        return batch.to_pandas() if batch is not None else pd.DataFrame(columns=wanted)
    return pd.read_csv(path, usecols=wanted, nrows=rows, keep_default_na=True)
