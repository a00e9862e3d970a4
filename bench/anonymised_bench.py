"""The detector against a plain isolation forest on anonymised numeric attributes (issue 25, point 9).

A file made by the generator (``transactions.generator.generate``, what ``manage.py generate_transactions`` runs) has
its behavioural columns (each transaction against its account's history, computed here with the true accounts)
standardised and projected through a random rotation into ``V1``..``Vk``, as PCA-anonymised public data sets are;
the timestamp and the amount stay in the clear. The file is written to a temporary folder and replayed with
``load_frame`` and ``run_backtest`` as ``manage.py backtest`` does (cold start, a time split: the last third of the
days is the test), with the account ids, without them (each transaction its own account, as an anonymised set
without ids is mapped) and with one id for all the traffic, beside scikit-learn's ``IsolationForest`` over the same
numeric columns and split.

    .venv/bin/python bench/anonymised_bench.py [--accounts 2000] [--days 30] [--seeds 0,1,2] [--keep DIR]

Prints, per seed and as the median over seeds, ROC AUC and AP of each model and of the plain forests.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection.backtests.files import load_frame  # noqa: E402
from detection.engine.backtest import BacktestConfig, run_backtest  # noqa: E402
from detection.engine.metrics import average_precision, roc_auc  # noqa: E402
from transactions.generator import generate  # noqa: E402

HOUR, DAY = 3600, 86400
SHOWN = ("isolation_forest", "autoencoder", "tail", "ensemble")
# How the file's accounts are mapped: its own ids; none (each transaction its own account, as an anonymised set
# without ids must be mapped); one id for all the traffic.
VARIANTS = (
    ("with account ids", "account_id"),
    ("without account ids", "transaction_id"),
    ("one account", "one_account"),
)


def behaviour(frame: pd.DataFrame) -> pd.DataFrame:
    """Per transaction, how it stands against its account's earlier transactions (what a bank would anonymise)."""
    f = frame.assign(seconds=frame["timestamp"].astype("int64") // 10**6, log_amount=np.log1p(frame["amount"]))
    f = f.sort_values(["account_id", "seconds"], kind="mergesort")
    g = f.groupby("account_id", sort=False)
    earlier = g.cumcount()
    typical = g["log_amount"].transform(lambda s: s.shift().expanding().mean())
    gap = g["seconds"].diff()
    in_hour = g["seconds"].transform(lambda s: _count_before(s.to_numpy(), HOUR))
    in_day = g["seconds"].transform(lambda s: _count_before(s.to_numpy(), DAY))
    hour = (f["seconds"] % DAY) / HOUR
    usual_hour = g["seconds"].transform(lambda s: ((s % DAY) / HOUR).shift().expanding().median())
    out = pd.DataFrame(
        {
            "distance": np.log1p(f["location_distance_km"].fillna(0.0)),
            "amount_vs_typical": (f["log_amount"] - typical).fillna(0.0),
            "gap": np.log1p(gap.fillna(30 * DAY)),
            "count_1h": np.log1p(in_hour),
            "count_24h": np.log1p(in_day),
            "new_merchant": _new_for_account(f, "merchant_id"),
            "new_device": _new_for_account(f, "device_id") * (f["device_id"] != ""),
            "new_country": _new_for_account(f, "country"),
            "hour_shift": np.abs(((hour - usual_hour.fillna(hour)) + 12) % 24 - 12),
            "online": (f["channel"] == "online").astype(float),
            "atm": (f["channel"] == "atm").astype(float),
            "history": np.log1p(earlier),
        },
        index=f.index,
    )
    return out.sort_index()


def _count_before(seconds: np.ndarray, width: int) -> np.ndarray:
    return np.arange(len(seconds)) - np.searchsorted(seconds, seconds - width, side="left")


def _new_for_account(f: pd.DataFrame, column: str) -> pd.Series:
    seen = f.groupby(["account_id", column], sort=False).cumcount()
    return ((seen == 0) & (f.groupby("account_id", sort=False).cumcount() > 0)).astype(float)


def anonymised_file(folder: Path, *, accounts: int, days: int, seed: int) -> tuple[Path, list[str]]:
    """The generated file with its behavioural columns rotated into V1..Vk; returns its path and the V names."""
    frame = generate(accounts=accounts, days=days, seed=seed)
    columns = behaviour(frame)
    standard = (columns - columns.mean()) / columns.std().replace(0, 1)
    rng = np.random.default_rng(1000 + seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(standard.shape[1], standard.shape[1])))
    names = [f"V{k + 1}" for k in range(standard.shape[1])]
    rotated = pd.DataFrame(standard.to_numpy() @ rotation, columns=names)
    day = (frame["timestamp"] - frame["timestamp"].min()).dt.days
    out = pd.concat([frame[["transaction_id", "timestamp", "account_id", "amount"]], rotated], axis=1)
    out["one_account"] = "everyone"  # for the run with one id shared by all the traffic
    out["label"] = frame["label"]
    out["split"] = np.where(day < days - days // 3, "train", "test")
    path = folder / f"anonymised_{seed}.csv"
    out.to_csv(path, index=False)
    return path, names


def plain_forest(path: Path, columns: list[str], seed: int) -> dict:
    data = pd.read_csv(path, usecols=[*columns, "label", "split"])
    train, test = data["split"] == "train", data["split"] == "test"
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(data.loc[train, columns].to_numpy())
    score = -forest.score_samples(data.loc[test, columns].to_numpy())
    y = data.loc[test, "label"].to_numpy()
    return {"roc_auc": roc_auc(y, score), "average_precision": average_precision(y, score)}


def detector(path: Path, names: list[str], *, account: str, seed: int) -> dict:
    mapping = {"timestamp": "timestamp", "account_id": account, "amount": "amount"}
    frame, split = load_frame(path, mapping=mapping, label="label", attributes=names, split_column="split")
    result = run_backtest(frame, BacktestConfig(split=split, seed=seed))
    return {model: result["models"][model] for model in SHOWN}


def run(folder: Path, args) -> list[dict]:
    rows = []
    for seed in args.seeds:
        path, names = anonymised_file(folder, accounts=args.accounts, days=args.days, seed=seed)
        figures = {
            "plain forest, V columns": plain_forest(path, names, seed),
            "plain forest, V columns + amount": plain_forest(path, [*names, "amount"], seed),
        }
        for label, account in VARIANTS:
            for model, values in detector(path, names, account=account, seed=seed).items():
                figures[f"{label}: {model}"] = values
        for name, values in figures.items():
            print(f"seed {seed}  {name:42s} ROC AUC {values['roc_auc']:.4f}  AP {values['average_precision']:.4f}")
        rows.append(figures)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")], default=[0, 1, 2])
    parser.add_argument("--keep", type=Path, help="write the files here (kept) instead of a temporary folder")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        rows = run(args.keep, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            rows = run(Path(folder), args)
    print(f"median over seeds {','.join(map(str, args.seeds))}:")
    for name in rows[0]:
        auc = statistics.median(r[name]["roc_auc"] for r in rows)
        ap = statistics.median(r[name]["average_precision"] for r in rows)
        print(f"  {name:42s} ROC AUC {auc:.4f}  AP {ap:.4f}")


if __name__ == "__main__":
    main()
