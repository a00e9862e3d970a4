"""A small labelled file for backtests: steady accounts, a few large late-night frauds, over 12 days."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2026, 2, 1, tzinfo=UTC)


def labelled_frame(*, accounts: int = 30, days: int = 12, per_day: int = 4, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(accounts):
        level = rng.uniform(15, 90)
        for day in range(days):
            for _ in range(rng.poisson(per_day)):
                fraud = rng.random() < 0.03
                at = START + timedelta(days=day, hours=int(rng.integers(2, 5) if fraud else rng.integers(8, 21)))
                amount = level * (rng.uniform(6, 12) if fraud else rng.lognormal(0, 0.25))
                rows.append(
                    {
                        "tx_id": f"b-{len(rows)}",
                        "tx_datetime": at.strftime("%Y-%m-%d %H:%M:%S"),
                        "customer_id": f"c-{a:03d}",
                        "terminal_id": f"t-{(a * 3 + int(fraud) * 101 + int(rng.integers(0, 3))) % 200:03d}",
                        "tx_amount": round(float(amount), 2),
                        "tx_fraud": int(fraud),
                    }
                )
    return pd.DataFrame(rows)
