"""Small measurements behind choices on the scoring path (medians printed; synthetic or benchmark data).

    .venv/bin/python bench/micro_bench.py trees   # compiled node table vs scikit-learn's loop, by block size
    .venv/bin/python bench/micro_bench.py token   # partner token lookup: the ORM query vs the prebuilt SQL
    .venv/bin/python bench/micro_bench.py split   # a job's split: 1,000,000 handbook rows validated into chunk files
    .venv/bin/python bench/micro_bench.py reasons # wording 33,000 rows' reasons (synthetic rare entries)

`trees` fits a HistGradientBoosting of 159 trees (31 leaves, as the supervised part) on synthetic data and times
both evaluations of the same rows on one thread, checking that they agree bit for bit. `token` runs on a fresh copy
of the API benchmark's database (bench/api_common.py prepares it). `split` reads the job benchmark's file
(bench/job_bench.py makes it) in 50,000-row chunks through the same validation and Parquet writes as
`detection.jobs._split_chunks`, and prints wall and CPU seconds, the median of three runs.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_ms(fn, repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000


def trees() -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from detection.engine.boosting import CompiledBoosting

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 43)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=len(X)) * 0.5 > 2).astype(int)
    model = HistGradientBoostingClassifier(max_iter=159, max_leaf_nodes=31, early_stopping=False, l2_regularization=10)
    model.fit(X, y)
    compiled = CompiledBoosting(model)
    block = rng.normal(size=(32_768, 43)).astype(np.float32)
    print(f"159 trees, depth {compiled.depth}")
    for n in (1, 10, 100, 300, 1000, 32_768):
        rows = block[:n]
        assert np.array_equal(compiled.raw(rows), model._raw_predict(rows, n_threads=1)[:, 0])
        repeat = 5 if n > 1000 else 50
        node_table = median_ms(lambda rows=rows: compiled.raw(rows), repeat)
        sklearn = median_ms(lambda rows=rows: model._raw_predict(rows, n_threads=1), repeat)
        print(f"{n:>6} rows: node table {node_table:8.2f} ms, scikit-learn (1 thread) {sklearn:8.2f} ms")


def token() -> None:
    from api_common import BENCH_DB, drop_copy, fresh_copy, prepare, setup_django

    prepare()
    run_db = BENCH_DB + "_micro"
    setup_django(fresh_copy(run_db))
    try:
        from accounts.models import PartnerToken, hash_token
        from accounts.services import partner_token_authenticate, partner_token_create

        _, secret = partner_token_create(name="micro-bench", scopes=["score"])
        key = hash_token(secret)
        orm = median_ms(lambda: PartnerToken.objects.select_related("source").filter(key_hash=key).first(), 500)
        prebuilt = median_ms(lambda: partner_token_authenticate(secret), 500)
        print(
            f"token lookup: ORM select_related(...).first() {orm:.3f} ms, partner_token_authenticate {prebuilt:.3f} ms"
        )
    finally:
        drop_copy(run_db)


def split() -> None:
    import tempfile

    from api_common import MAPPING, setup_django
    from job_bench import job_file

    setup_django()
    from transactions.files import read_mapped_chunks

    path = job_file(1_000_000)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(3):
            started, cpu, rows = time.perf_counter(), time.process_time(), 0
            for index, mapped in enumerate(read_mapped_chunks(path, mapping=MAPPING, chunk_rows=50_000)):
                mapped.frame.to_parquet(Path(folder) / f"chunk-{index:05d}.parquet", index=True)
                rows += mapped.rows
            runs.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
    print(f"split of {rows:,} rows into 50,000-row chunk files: {wall:.2f} s wall, {cpu:.2f} s CPU (median of 3)")


def reasons() -> None:
    import numpy as np

    from detection.engine.explain import reasons_for
    from detection.engine.features import FeatureSpec

    names = FeatureSpec(attributes=["total_amount_24h"], supervised_features=True, recent_share=True).names
    rng = np.random.default_rng(2)
    X = rng.normal(size=(33_000, len(names))) * 3
    entries = rng.integers(0, len(X), 30_000), rng.integers(0, len(names), 30_000), rng.random(30_000) * 10
    worded = median_ms(lambda: [*reasons_for(X, entries, names)], 7)
    print(f"reasons of {len(X):,} rows ({len(set(entries[0].tolist())):,} with rare entries) worded: {worded:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["trees", "token", "split", "reasons"])
    {"trees": trees, "token": token, "split": split, "reasons": reasons}[parser.parse_args().what]()
