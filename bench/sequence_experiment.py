"""Experiment (issue 25, point 7): a small recurrent model over each account's last N transactions as one more
detector. Not part of the product: it stays out unless it raises average precision where the issue asks.

A GRU (PyTorch, CPU, one thread) reads an account's last ``--steps`` transactions before a row (log amount, log
gap since its own previous one, hour of day, same merchant as the row) and predicts the row's log amount and log
gap since the previous transaction as Gaussians; the detector's raw score is the negative log-likelihood of what
happened. It is trained label-free on the training rows, calibrated on them like the other components, and joined to
the unsupervised ensemble as a fourth surprise with weight ``--weights`` (the others keep their proportions).

    .venv/bin/python bench/sequence_experiment.py handbook [--steps 8] [--weights 0.1,0.25] [--epochs 4]
    .venv/bin/python bench/sequence_experiment.py seed [--one-sided]

``handbook``: the cold-start week of ``docs/benchmarks.md`` (train 2018-07-11..17, test 07-25..31, no label);
``seed``: the prototype's data, its split column. Prints ROC AUC / AP / CP@100 of the ensemble alone, of the
sequence detector alone and of the ensemble with it.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection.backtests.files import load_frame  # noqa: E402
from detection.engine.calibration import QuantileCalibrator, surprise  # noqa: E402
from detection.engine.detector import Detector  # noqa: E402
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS  # noqa: E402
from detection.engine.frame import Frame  # noqa: E402
from detection.engine.metrics import summary  # noqa: E402
from detection.engine.windows import factorized  # noqa: E402

DAY = 86400
DATA = Path("/work/shared/data")
HANDBOOK = {
    "path": DATA / "handbook/transactions.parquet",
    "mapping": {
        "account_id": "CUSTOMER_ID",
        "merchant_id": "TERMINAL_ID",
        "amount": "TX_AMOUNT",
        "timestamp": "TX_DATETIME",
        "transaction_id": "TRANSACTION_ID",
    },
    "label": "TX_FRAUD",
}
SEED = {
    "path": DATA / "seed/transactions.csv",
    "mapping": {
        "transaction_id": "transaction_id",
        "timestamp": "timestamp",
        "account_id": "user_id",
        "amount": "amount",
        "merchant_category": "merchant_category",
        "location_distance_km": "location_distance_km",
        "channel": "is_online",
    },
    "label": "is_anomaly",
    "attributes": [
        "time_since_last_transaction_minutes",
        "is_weekend",
        "hour",
        "day_of_week",
        "amount_log",
        "transaction_count_1h",
        "total_amount_24h",
    ],
    "split_column": "split",
}


def sequences(data: Frame, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: its account's previous ``steps`` transactions (within the lookback) as (rows, steps, 5) inputs, oldest
    first, zero-padded with a mask column; and the row's targets (log amount, log gap since the previous one)."""
    account = factorized(data.account_id)
    merchant = factorized(data.merchant_id)
    order = np.lexsort((data.row_id, data.ts, account))
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    log_amount = np.log1p(np.maximum(data.amount, 0.0))
    hour = (data.ts % DAY) * (2 * np.pi / DAY)
    inputs = np.zeros((len(data), steps, 5), np.float32)
    for k in range(1, steps + 1):
        back = np.maximum(position - k, 0)
        previous = order[back]
        valid = (
            (position - k >= 0)
            & (account[previous] == account)
            & (data.ts - data.ts[previous] <= ACCOUNT_LOOKBACK_SECONDS)
        )
        step = steps - k
        before = order[np.maximum(position - k - 1, 0)]
        has_before = (position - k - 1 >= 0) & (account[before] == account)
        gap = np.where(has_before, data.ts[previous] - data.ts[before], ACCOUNT_LOOKBACK_SECONDS)
        inputs[:, step, 0] = np.where(valid, log_amount[previous], 0.0)
        inputs[:, step, 1] = np.where(valid, np.log1p(np.clip(gap, 0, ACCOUNT_LOOKBACK_SECONDS)), 0.0)
        inputs[:, step, 2] = np.where(valid, np.sin(hour[previous]), 0.0)
        inputs[:, step, 3] = np.where(valid, merchant[previous] == merchant, 0.0)
        inputs[:, step, 4] = valid
    previous = order[np.maximum(position - 1, 0)]
    has_previous = (position >= 1) & (account[previous] == account)
    gap = np.where(has_previous, data.ts - data.ts[previous], ACCOUNT_LOOKBACK_SECONDS)
    targets = np.stack([log_amount, np.log1p(np.minimum(gap, ACCOUNT_LOOKBACK_SECONDS))], axis=1).astype(np.float32)
    return inputs, targets


class SequenceModel(nn.Module):
    def __init__(self, n_inputs: int, hidden: int = 32, n_targets: int = 2):
        super().__init__()
        self.gru = nn.GRU(n_inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden + 2, 2 * n_targets)  # + the row's hour (sin, cos)

    def forward(self, x, now):
        _, h = self.gru(x)
        out = self.head(torch.cat([h[-1], now], dim=1))
        mean, log_var = out.chunk(2, dim=1)
        return mean, log_var.clamp(-6, 6)


def nll(mean, log_var, y):
    return 0.5 * (log_var + (y - mean) ** 2 / log_var.exp())


def fit_sequence(x, now, y, *, epochs: int, seed: int) -> SequenceModel:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = SequenceModel(x.shape[2])
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    x, now, y = torch.from_numpy(x), torch.from_numpy(now), torch.from_numpy(y)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for lo in range(0, len(x), 512):
            batch = order[lo : lo + 512]
            optimizer.zero_grad()
            loss = nll(*model(x[batch], now[batch]), y[batch]).sum(dim=1).mean()
            loss.backward()
            optimizer.step()
    return model.eval()


def sequence_scores(model, x, now, y, *, one_sided: bool = False) -> np.ndarray:
    """Negative log-likelihood of the row's targets; ``one_sided``: only an amount above and a gap below the
    prediction count (a small amount or a long pause is no risk)."""
    with torch.inference_mode():
        mean, log_var = model(torch.from_numpy(x), torch.from_numpy(now))
        y = torch.from_numpy(y)
        if one_sided:
            risky = torch.stack([y[:, 0] > mean[:, 0], y[:, 1] < mean[:, 1]], dim=1)
            y = torch.where(risky, y, mean)
        return nll(mean, log_var, y).sum(dim=1).numpy().astype(np.float64)


def prepared(data: Frame, steps: int, stats=None):
    x, y = sequences(data, steps)
    angle = (data.ts % DAY) * (2 * np.pi / DAY)
    now = np.stack([np.sin(angle), np.cos(angle)], axis=1).astype(np.float32)
    if stats is None:
        stats = (x[..., :2].reshape(-1, 2).mean(axis=0), x[..., :2].reshape(-1, 2).std(axis=0) + 1e-6)
        stats += (y.mean(axis=0), y.std(axis=0) + 1e-6)
    x[..., :2] = (x[..., :2] - stats[0]) / stats[1] * x[..., 4:5]
    y = (y - stats[2]) / stats[3]
    return x, now, y.astype(np.float32), stats


def masks(name: str, data: Frame, split):
    if split is not None:
        return split == "train", split == "val", split == "test"
    start = int(pd.Timestamp("2018-07-11", tz="UTC").timestamp())
    train = (data.ts >= start) & (data.ts < start + 7 * DAY)
    test = (data.ts >= start + 14 * DAY) & (data.ts < start + 21 * DAY)
    return train, None, test


def load(name: str) -> tuple[Frame, np.ndarray | None]:
    spec = HANDBOOK if name == "handbook" else SEED
    frame, split = load_frame(
        spec["path"],
        mapping=spec["mapping"],
        label=spec["label"],
        attributes=spec.get("attributes", []),
        split_column=spec.get("split_column"),
    )
    data = Frame.of(frame)
    if name == "handbook":  # the cold-start fold's rows and their lookback, as the backtest takes them
        start = int(pd.Timestamp("2018-07-11", tz="UTC").timestamp())
        keep = np.flatnonzero((data.ts >= start - ACCOUNT_LOOKBACK_SECONDS) & (data.ts < start + 21 * DAY))
        data = data.take(keep)
    return data, split


def figures(y, score, data: Frame, rows) -> str:
    s = summary(y, score, days=data.ts[rows] // DAY, cards=data.account_id[rows])
    return f"ROC AUC {s['roc_auc']:.4f}  AP {s['average_precision']:.4f}  CP@100 {s['card_precision_at_100']:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", choices=("handbook", "seed"))
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--weights", type=lambda v: [float(w) for w in v.split(",")], default=[0.1, 0.25])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one-sided", action="store_true", help="only a higher amount and a shorter gap count")
    args = parser.parse_args()
    started = time.perf_counter()
    data, split = load(args.data)
    train, validation, test = masks(args.data, data, split)
    unlabelled = data.with_labels(np.full(len(data), np.nan), np.full(len(data), np.nan))
    detector = Detector().fit(unlabelled, seed=args.seed, train_mask=train, validation_mask=validation)
    output = detector.score_frame(unlabelled, test, reasons=False)
    rows, y = output.rows, data.label[output.rows]
    x, now, targets, stats = prepared(data, args.steps)
    model = fit_sequence(x[train], now[train], targets[train], epochs=args.epochs, seed=args.seed)
    side = {"one_sided": args.one_sided}
    calibrator = QuantileCalibrator(sequence_scores(model, x[train], now[train], targets[train], **side))
    sequence = surprise(calibrator(sequence_scores(model, x[rows], now[rows], targets[rows], **side)))
    components = {k: surprise(v) for k, v in output.components.items() if k in detector.weights}
    base = sum(detector.weights[k] * components[k] for k in components)
    print(f"{args.data}: ensemble                 {figures(y, output.score, data, rows)}")
    print(f"{args.data}: sequence model alone     {figures(y, sequence, data, rows)}")
    for weight in args.weights:
        joined = (1 - weight) * base + weight * sequence
        print(f"{args.data}: ensemble + sequence {weight:.2f} {figures(y, joined, data, rows)}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
