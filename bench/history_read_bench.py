"""History read of a batch: from PostgreSQL against from the history cache, on the API benchmark's database.

For batches of stored transactions at a few offsets from the newest, builds the batch's frame with HISTORY_CACHE
off (SQL), then on (the first call may fill the cache), then on again (the cache kept up to date), checks the two
frames hold the same rows and values, and prints the seconds of each.

    .venv/bin/python bench/history_read_bench.py --batch 1000
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import bench_organisation, prepare, setup_django  # noqa: E402


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def same(a, b) -> bool:
    order_a, order_b = np.argsort(a[0]["row_id"]), np.argsort(b[0]["row_id"])
    frames = all(np.array_equal(a[0][k][order_a], b[0][k][order_b], equal_nan=a[0][k].dtype.kind == "f") for k in a[0])
    return frames and np.array_equal(a[1][order_a], b[1][order_b])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--offsets", default="5000,20000,100000", help="Rows back from the newest, one batch each.")
    args = parser.parse_args()
    prepare()
    setup_django()
    from django.conf import settings

    from detection.scoring import adapters
    from transactions.models import Transaction

    organisation = bench_organisation()
    stored = Transaction.objects.filter(source__organisation=organisation)
    for offset in (int(o) for o in args.offsets.split(",")):
        batch = list(stored.order_by("-timestamp")[offset : offset + args.batch])

        def read(batch=batch):
            return adapters.frame_for_transactions(batch, organisation_id=organisation.pk)

        settings.HISTORY_CACHE = False
        direct, sql_s = timed(read)
        settings.HISTORY_CACHE = True
        _, first_s = timed(read)
        cached, cache_s = timed(read)
        print(
            f"offset {offset}: {len(direct[0]['row_id']):,} rows, same {same(direct, cached)}, "
            f"sql {sql_s:.3f} s, cache first call {first_s:.3f} s, cache {cache_s:.3f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
