"""CSV files of the import tests: the seed dataset's header, and a writer."""

import csv
from pathlib import Path

# The columns of the seed dataset (the prototype's transactions.csv), in its order.
SEED_HEADER = [
    "transaction_id",
    "timestamp",
    "amount",
    "merchant_category",
    "location_distance_km",
    "is_online",
    "time_since_last_transaction_minutes",
    "user_id",
    "transaction_count_1h",
    "total_amount_24h",
    "is_anomaly",
    "anomaly_type",
]


def write_csv(path: Path, rows: list[list]) -> Path:
    """`rows` (the header first) written to `path` as CSV."""
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path
