"""Small job files made by the tests themselves: prototype-shaped rows, some of them bad."""

import io
from datetime import timedelta

import pandas as pd
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.detection.conftest import START

BAD_ROWS = {3: ("amount", "not a number"), 7: ("timestamp", "not a date (expected ISO 8601 or YYYY-MM-DD HH:MM:SS)")}


def job_frame(rows: int, *, bad: bool = True, prefix: str = "J") -> pd.DataFrame:
    """Rows in the prototype's columns over the test history's accounts; rows 3 and 7 (1-based) are bad if asked."""
    frame = pd.DataFrame(
        {
            "transaction_id": [f"{prefix}{n:07d}" for n in range(1, rows + 1)],
            "timestamp": [(START + timedelta(days=10, minutes=n)).strftime("%Y-%m-%d %H:%M:%S") for n in range(rows)],
            "user_id": [f"acct-{n % 20:03d}" for n in range(rows)],
            "amount": [f"{20 + (n * 7) % 90}.50" for n in range(rows)],
            "merchant_category": ["grocery"] * rows,
            "is_online": [n % 2 for n in range(rows)],
            "transaction_count_1h": [n % 5 for n in range(rows)],
        }
    )
    if bad:
        frame.loc[2, "amount"] = "lots"
        frame.loc[6, "timestamp"] = "someday"
    return frame


MAPPING = {"transaction_id": "transaction_id", "timestamp": "timestamp", "account_id": "user_id", "amount": "amount"}


def csv_upload(frame: pd.DataFrame, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, frame.to_csv(index=False).encode(), content_type="text/csv")


def parquet_upload(frame: pd.DataFrame, name: str = "rows.parquet") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")
