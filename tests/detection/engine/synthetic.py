"""Small generated transaction tables for the engine tests (never the shared benchmark data)."""

import numpy as np
import pandas as pd

START = 1_700_000_000 // 86400 * 86400
FAST = {"n_estimators": 50, "ae_epochs": 6, "ae_patience": 2, "supervised_max_iter": 30, "threads": 1}


def transactions(*, accounts: int = 40, days: int = 20, per_day: float = 3.0, fraud_share: float = 0.02, seed=0):
    """Accounts with their own typical amount, merchants, places; a few frauds at 8-15x the typical amount."""
    rng = np.random.default_rng(seed)
    typical = rng.lognormal(3.5, 0.6, accounts)
    n = rng.poisson(per_day * days, accounts)
    account = np.repeat(np.arange(accounts), n)
    ts = START + rng.integers(0, days * 86400, len(account))
    amount = typical[account] * rng.lognormal(0.0, 0.3, len(account))
    fraud = rng.random(len(account)) < fraud_share
    amount[fraud] *= rng.uniform(8, 15, fraud.sum())
    home_lat, home_lon = rng.uniform(40, 50, accounts), rng.uniform(0, 10, accounts)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(len(account), dtype=np.int64),
            "ts": ts.astype(np.int64),
            "account_id": [f"acct-{a}" for a in account],
            "merchant_id": [f"m-{m}" for m in rng.integers(0, 30, len(account))],
            "amount": amount.round(2),
            "channel": rng.choice(["online", "in_person"], len(account)),
            "country": np.where(fraud, "XX", "FR"),
            "merchant_category": rng.choice(["food", "retail", "travel"], len(account)),
            "latitude": home_lat[account] + rng.normal(0, 0.05, len(account)),
            "longitude": home_lon[account] + rng.normal(0, 0.05, len(account)),
            "location_distance_km": rng.exponential(5.0, len(account)),
            "attr_total_amount_24h": (typical[account] * rng.uniform(1, 3, len(account))).round(2),
            "label": fraud.astype(np.float64),
            "label_known_ts": np.nan,
        }
    )
    return frame.sort_values(["ts", "row_id"]).reset_index(drop=True)


def history_for(frame: pd.DataFrame, position: int, account_lookback: int, merchant_lookback: int) -> pd.DataFrame:
    """What the single-transaction path reads: the account's and the merchant's rows in their lookbacks + itself."""
    row = frame.iloc[position]
    ts = frame["ts"]
    account = (frame["account_id"] == row["account_id"]) & (ts >= row["ts"] - account_lookback)
    merchant = (frame["merchant_id"] == row["merchant_id"]) & (ts >= row["ts"] - merchant_lookback)
    keep = (account | merchant) & (ts <= row["ts"])
    keep.iloc[position] = True
    return frame[keep]
