"""Engine speed on the handbook data (2 cores): features for 1M rows, training on 1M rows, batch scoring of
precomputed features (on 2 threads and on 1), and the single-transaction path (features + scoring of one row with
its history), first with the unsupervised models, then with a supervised part trained on every label.

    .venv/bin/python bench/engine_speed.py [--rows 1000000] [--repeat 3]

Prints the median of --repeat runs for each figure.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection.backtests.files import load_frame  # noqa: E402
from detection.engine import parallel  # noqa: E402
from detection.engine.detector import Detector  # noqa: E402
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS, build_features  # noqa: E402
from detection.engine.frame import Frame  # noqa: E402

WORKERS = parallel.workers
HANDBOOK = "/work/shared/data/handbook/transactions.parquet"
MAPPING = {"account_id": "CUSTOMER_ID", "merchant_id": "TERMINAL_ID", "amount": "TX_AMOUNT", "timestamp": "TX_DATETIME"}


def timed(fn, repeat):
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def single_calls(detector, data: Frame, positions, repeat_each=20) -> list[float]:
    """Per call: the frame the Django side builds (account + merchant history + the row) as a dict of arrays."""
    latencies = []
    for p in positions:
        t = data.ts[p]
        keep = ((data.account_id == data.account_id[p]) & (data.ts >= t - ACCOUNT_LOOKBACK_SECONDS)) | (
            (data.merchant_id == data.merchant_id[p]) & (data.ts >= t - MERCHANT_LOOKBACK_SECONDS)
        )
        keep &= (data.ts < t) | (np.arange(len(data)) == p)
        index = np.flatnonzero(keep)
        small = data.take(index)
        target = index == p
        detector.score_frame(small, target)  # warm
        started = time.perf_counter()
        for _ in range(repeat_each):
            detector.score_frame(small, target)
        latencies.append((time.perf_counter() - started) / repeat_each)
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    frame, _ = load_frame(HANDBOOK, mapping=MAPPING, label="TX_FRAUD")
    labels = frame["label"].to_numpy()[: args.rows]
    data = Frame.of(frame.iloc[: args.rows].assign(label=np.nan))
    print(f"rows {len(data):,}")
    seconds, features = timed(lambda: build_features(data), args.repeat)
    print(f"features: {seconds:.2f} s median of {args.repeat} ({len(data) / seconds:,.0f} rows/s)")
    seconds, detector = timed(lambda: Detector().fit(data, seed=0, features=features), args.repeat)
    print(f"training (features given): {seconds:.2f} s median; {detector.training_metrics}")
    _bulk(detector, features.X, args.repeat)
    _single(detector, data, "unsupervised models")
    started = time.perf_counter()
    detector.fit_supervised(features.X, labels, seed=0)  # as if every label were known: the heaviest ensemble
    iterations = detector.training_metrics["supervised_iterations"]
    print(f"supervised part trained in {time.perf_counter() - started:.1f} s ({iterations} trees)")
    _bulk(detector, features.X, args.repeat)
    _single(detector, data, "with the supervised part")
    print(f"load average at end: {os.getloadavg()}")


def _bulk(detector, X, repeat):
    for label, workers in (("2 threads", parallel.workers()), ("1 thread", 1)):
        parallel.workers = lambda workers=workers: workers
        seconds, _ = timed(lambda: detector.score_features(X, reasons=False), repeat)
        print(f"scoring precomputed features, {label}: {len(X) / seconds:,.0f} rows/s (no reasons)")
        seconds, _ = timed(lambda: detector.score_features(X), repeat)
        print(f"  with reasons found (worded when read): {len(X) / seconds:,.0f} rows/s")
        seconds, _ = timed(lambda: [list(r) for r in detector.score_features(X).reasons], repeat)
        print(f"  with every row's reasons worded: {len(X) / seconds:,.0f} rows/s")
    parallel.workers = WORKERS


def _single(detector, data, label):
    rng = np.random.default_rng(0)
    positions = rng.choice(np.arange(len(data) // 2, len(data)), 50, replace=False)
    latencies = single_calls(detector, data, positions)
    history = statistics.median(_history_sizes(data, positions))
    median, p99 = statistics.median(latencies) * 1e3, np.percentile(latencies, 99) * 1e3
    print(f"single transaction, {label} (features + scores + reasons, history median {history:.0f} rows): ", end="")
    print(f"median {median:.3f} ms, p99 {p99:.3f} ms")


def _history_sizes(data, positions):
    sizes = []
    for p in positions:
        t = data.ts[p]
        keep = ((data.account_id == data.account_id[p]) & (data.ts >= t - ACCOUNT_LOOKBACK_SECONDS)) | (
            (data.merchant_id == data.merchant_id[p]) & (data.ts >= t - MERCHANT_LOOKBACK_SECONDS)
        )
        sizes.append(int((keep & (data.ts <= t)).sum()))
    return sizes


if __name__ == "__main__":
    main()
