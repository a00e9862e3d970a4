"""Small measurements behind choices on the scoring path (medians printed; synthetic or benchmark data).

    .venv/bin/python bench/micro_bench.py trees   # the compiled supervised trees vs scikit-learn's loop, by block size
    .venv/bin/python bench/micro_bench.py token   # partner token lookup: the ORM query vs the prebuilt SQL
    .venv/bin/python bench/micro_bench.py split   # a job's split: 1,000,000 handbook rows validated into chunk files
    .venv/bin/python bench/micro_bench.py reasons # wording 33,000 rows' reasons (synthetic rare entries)
    .venv/bin/python bench/micro_bench.py json    # a 1,000-row answer and score rows' JSON: json/DRF vs orjson
    .venv/bin/python bench/micro_bench.py rows    # a batch's per-row records and the history cache's id lookup
    .venv/bin/python bench/micro_bench.py features  # build_features of eight 1,000-target batch frames
    .venv/bin/python bench/micro_bench.py arrays  # small inserts' column arrays: psycopg's lists vs our literals
    .venv/bin/python bench/micro_bench.py forest  # the compiled forest descent vs numpy's level-by-level one

`forest` runs on the API benchmark's database (bench/api_common.py prepares it; read only): the active model's
forest on 1,000 stored rows' features and on one row, against the numpy descent the compiled loop replaced (kept here
for the comparison), alternating call by call, with the results checked equal. `trees` fits a HistGradientBoosting
of 159 trees (31 leaves, as the supervised part) on synthetic data and times
both evaluations of the same rows on one thread, checking that they agree bit for bit. `token` runs on a fresh copy
of the API benchmark's database (bench/api_common.py prepares it). `split` reads the job benchmark's file
(bench/job_bench.py makes it) in 50,000-row chunks through the same validation and Parquet writes as
`detection.jobs.services._split_chunks`, and prints wall and CPU seconds, the median of three runs.
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
    from api_common import BENCH_DB, bench_organisation, drop_copy, fresh_copy, prepare, setup_django

    prepare()
    run_db = BENCH_DB + "_micro"
    setup_django(fresh_copy(run_db))
    try:
        from accounts.models import PartnerToken, hash_token
        from accounts.services import partner_token_authenticate, partner_token_create

        _, secret = partner_token_create(name="micro-bench", scopes=["score"], organisation=bench_organisation())
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


def _django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
    django.setup()


def json_writers() -> None:
    """The batch answer by DRF's renderer and by ours; the score rows' components and reasons as JSON text."""
    import json

    import numpy as np
    import orjson

    _django()
    from rest_framework.renderers import JSONRenderer

    from core.renderers import FastJSONRenderer

    rng = np.random.default_rng(0)
    reasons = ["amount 3.2x the account's typical (42.10)", "new merchant for this account"]
    items = [
        {
            "index": i,
            "created": True,
            "transaction_id": f"tx-{i:08d}",
            "score": round(float(rng.random()), 6),
            "risk_level": "low",
            "is_anomaly": False,
            "reasons": reasons,
            "model_version": 3,
        }
        for i in range(1000)
    ]
    answer = {"results": items, "errors": [], "counts": {"received": 1000, "created": 1000, "existing": 0}}
    drf, ours = (
        median_ms(lambda: JSONRenderer().render(answer), 50),
        median_ms(lambda: FastJSONRenderer().render(answer), 50),
    )
    print(f"1,000-row batch answer: DRF's renderer {drf:.2f} ms, orjson's {ours:.2f} ms")
    names = ["forest", "autoencoder", "tail", "unsupervised", "supervised"]
    values = np.round(rng.random((1000, len(names))), 6).tolist()
    template = "{" + ", ".join(f'"{name}": %r' for name in names) + "}"
    by_format = median_ms(lambda: [template % tuple(row) for row in values], 50)
    by_orjson = median_ms(lambda: [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in values], 50)
    print(f"1,000 rows' components: a format per row {by_format:.2f} ms, orjson {by_orjson:.2f} ms")
    whys = [reasons if i % 3 == 0 else [] for i in range(1000)]
    by_json = median_ms(lambda: [json.dumps(why) if why else "[]" for why in whys], 50)
    by_orjson = median_ms(lambda: [orjson.dumps(why).decode() if why else "[]" for why in whys], 50)
    print(f"1,000 rows' reasons: json.dumps {by_json:.2f} ms, orjson {by_orjson:.2f} ms")


def rows() -> None:
    """A batch's 1,000 ingest records (a frozen dataclass against the named tuple in use), and the history cache's
    lookup of a batch's ids among 270,000 cached ones."""
    import dataclasses

    import numpy as np

    _django()
    from detection.scoring.history import _isin_ids
    from transactions.services import IngestedRow

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        pk: int | None
        transaction_id: str | None
        created: bool = False
        errors: list = dataclasses.field(default_factory=list)
        stored: dict | None = None

    stored = {"amount": 1}
    for kind in (Frozen, IngestedRow):
        made = median_ms(
            lambda kind=kind: [kind(pk=i, transaction_id="t", created=True, stored=stored) for i in range(1000)], 30
        )
        print(f"1,000 {kind.__name__}: {made:.2f} ms")
    cached = np.arange(270_000, dtype=np.int64) + 1_000_000
    ids = np.arange(1_268_500, 1_270_500, 2, dtype=np.int64)  # a batch's ids, interleaved with another worker's
    assert np.array_equal(np.isin(cached, ids), _isin_ids(cached, ids))
    plain, recent = median_ms(lambda: np.isin(cached, ids), 20), median_ms(lambda: _isin_ids(cached, ids), 20)
    print(f"1,000 ids among 270,000: np.isin {plain:.2f} ms, from the smallest id up {recent:.2f} ms")


def features() -> None:
    """build_features of eight batches' frames (1,000 stored handbook transactions each, with their histories, from
    the API benchmark's database), process CPU per batch, the median of five passes."""
    from api_common import BENCH_DB, bench_organisation, prepare, setup_django

    prepare()
    setup_django(BENCH_DB)  # read only
    from detection.engine.features import build_features
    from detection.scoring import adapters
    from transactions.models import Transaction

    organisation_id = bench_organisation().pk
    newest = list(Transaction.objects.order_by("-timestamp").values_list("pk", flat=True)[:8000])
    frames = [
        adapters.frame_for_transactions(
            list(Transaction.objects.filter(pk__in=newest[k : k + 1000])), organisation_id=organisation_id
        )
        for k in range(0, 8000, 1000)
    ]
    passes = []
    for _ in range(6):  # the first warms up
        started = time.process_time()
        for frame, targets in frames:
            build_features(frame, target_mask=targets)
        passes.append((time.process_time() - started) / len(frames) * 1000)
    rows, median = len(frames[0][0]["row_id"]), statistics.median(passes[1:])
    print(f"build_features of a 1,000-target batch ({rows:,} rows): {median:.2f} ms")


def arrays() -> None:
    """The statement of a batch's review items (72 rows, six column arrays) and of a single transaction (one row,
    19 arrays), sent with each column as a list (psycopg spells it) and as `array_literal`'s text: the whole
    execute through Django's cursor, SELECTing nothing so that nothing is written, the median of 200."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from api_common import BENCH_DB, prepare, setup_django

    prepare()
    setup_django(BENCH_DB)  # read only
    from django.db import connection

    from core.bulk_insert import array_literal
    from transactions.bulk import _ROW_TYPES

    now = datetime.now(UTC)
    review = (
        [("bigint", "bigint", "text", "float8", "timestamptz", "text")],
        [(300_000 + i, 30_000 + i, "open", 97.5 + i / 7, now, "") for i in range(72)],
    )
    single = (
        [(kind for _, kind in _ROW_TYPES)],
        [
            ("tx-1", now, "acct-1", Decimal("12.34"), "EUR", "m-1", "grocery", "online", 48.85, 2.35, 1.5)
            + ("FR", "dev-1", '{"k": 1}', None, "", None, 1)
        ],
    )
    with connection.cursor() as cursor:
        for name, (kinds, rows) in (("72 review items", review), ("one transaction", single)):
            kinds = list(kinds[0])
            sql = f"SELECT 1 FROM unnest({', '.join(f'%s::{kind}[]' for kind in kinds)}) LIMIT 0"  # noqa: S608
            columns = list(zip(*rows, strict=True))
            lists = median_ms(lambda sql=sql, c=columns: cursor.execute(sql, [list(v) for v in c]), 200)
            texts = median_ms(lambda sql=sql, c=columns: cursor.execute(sql, [array_literal(v) for v in c]), 200)
            print(f"{name}: as lists {lists:.3f} ms, as literals {texts:.3f} ms (execute, round trip included)")


def _numpy_forest(forest, X):
    """The forest's descent as numpy did it before the compiled loop: every row and tree a level per step."""
    import numpy as np

    trees = len(forest.value) >> forest.depth
    base = np.arange(trees, dtype=np.int64) * forest.inner
    node = np.broadcast_to(base, (len(X), trees)).copy()
    offsets = (np.arange(len(X)) * X.shape[1])[:, None]
    flat = X.ravel()
    for _ in range(forest.depth):
        right = flat[forest.feature[node] + offsets] > forest.threshold[node]
        node = 2 * node + 1 - base + right
    leaves = node + ((np.arange(trees) << forest.depth) - base - forest.inner)
    return 2.0 ** (-forest.value[leaves].sum(axis=1) / forest.denominator)


def _alternating(first, second, repeat: int) -> tuple[float, float]:
    """Medians (ms) of two calls timed alternately, so a noisy machine's drift falls on both."""
    a, b = [], []
    for _ in range(repeat):
        for fn, into in ((first, a), (second, b)):
            started = time.perf_counter()
            fn()
            into.append(time.perf_counter() - started)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def forest() -> None:
    import numpy as np
    from api_common import BENCH_DB, bench_organisation, prepare, setup_django

    prepare()
    setup_django(BENCH_DB)  # read only
    from detection.engine.features import build_features
    from detection.scoring import adapters
    from detection.scoring.registry import active_model
    from transactions.models import Transaction

    organisation_id = bench_organisation().pk
    detector = active_model(organisation_id=organisation_id).detector
    newest = Transaction.objects.order_by("-timestamp").values_list("pk", flat=True)[:1000]
    stored = list(Transaction.objects.filter(pk__in=list(newest)))
    frame, targets = adapters.frame_for_transactions(stored, organisation_id=organisation_id)
    Z = np.ascontiguousarray(detector._scaled(build_features(frame, target_mask=targets, spec=detector.spec).X))
    compiled = detector.forest
    for rows, repeat in ((1, 2000), (len(Z), 200)):
        X = Z[:rows]
        assert np.allclose(compiled.anomaly(X), _numpy_forest(compiled, X), rtol=0, atol=1e-12)
        numpy_ms, compiled_ms = _alternating(
            lambda X=X: _numpy_forest(compiled, X), lambda X=X: compiled.anomaly(X), repeat
        )
        trees = len(compiled.value) >> compiled.depth
        print(
            f"forest ({trees} trees, depth {compiled.depth}), {rows:,} rows:"
            f" numpy {numpy_ms:.3f} ms, compiled {compiled_ms:.3f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    commands = {"trees": trees, "token": token, "split": split, "reasons": reasons, "json": json_writers, "rows": rows}
    commands |= {"features": features, "arrays": arrays, "forest": forest}
    parser.add_argument("what", choices=list(commands))
    commands[parser.parse_args().what]()
