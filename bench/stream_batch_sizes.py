"""Where a streamed message's latency goes: one consumer's micro-batch stored and scored in this process
(`messages_score`, what `manage.py consume` runs per batch) at several batch sizes, on a fresh copy of the prepared
benchmark database. Prints each size's median wall time per batch and per row: the fixed cost of a batch is what a
consumer that keeps up adds to every message's publish → decision time.

    .venv/bin/python bench/stream_batch_sizes.py --sizes 1,10,50,200,1000 --rounds 7
"""

import argparse
import json
import statistics
import time
import uuid

import orjson
from api_common import BENCH_DB, bench_organisation, fresh_copy, prepare, request_rows, setup_django

RUN_DB = BENCH_DB + "_sizes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,200,1000")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    prepare()
    fresh_copy(RUN_DB)
    setup_django(RUN_DB)
    from streaming.services import messages_score, stream_source

    source = stream_source(organisation=bench_organisation(), name="bench-sizes")
    need = (sum(sizes) + 1000) * args.rounds + 1000
    rows = iter(request_rows(28, need, uuid.uuid4().hex[:8]))
    bodies = lambda n: [orjson.dumps(next(rows)) for _ in range(n)]  # noqa: E731
    messages_score(source=source, bodies=bodies(1000))  # warm: the model loaded, caches filled
    took = {size: [] for size in sizes}
    for _ in range(args.rounds):
        for size in sizes:  # interleaved, so the machine's swings fall on every size alike
            batch = bodies(size)
            started = time.perf_counter()
            outcome = messages_score(source=source, bodies=batch)
            took[size].append(time.perf_counter() - started)
            assert len(outcome.decisions) == size, outcome.dead_letters
    for size in sizes:
        median = statistics.median(took[size])
        print(json.dumps({"size": size, "batch_ms": round(median * 1000, 2), "row_ms": round(median * 1000 / size, 3)}))


if __name__ == "__main__":
    main()
