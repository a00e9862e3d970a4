"""Where one single-score request's time goes, in-process (no HTTP): ingest, history, features, model, storage.

Uses the API benchmark's database (bench/api_common.py prepares it) and prints the median and p99 of
`transaction_score` over N unseen handbook rows, then a cProfile of the slowest parts.

    .venv/bin/python bench/score_path_profile.py --requests 500
"""

import argparse
import cProfile
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import prepare, request_rows, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="Print a cProfile of the timed requests.")
    args = parser.parse_args()
    prepare()
    setup_django()
    from accounts.services import partner_token_create
    from transactions.api_services import transaction_score

    token, _ = partner_token_create(name=f"profile-{uuid.uuid4().hex[:6]}", scopes=["score"])
    rows = request_rows(29, args.requests + 50, uuid.uuid4().hex[:8])
    for body in rows[:50]:
        transaction_score(source=token.source, data=body)
    profile = cProfile.Profile() if args.profile else None
    timings = []
    for body in rows[50:]:
        started = time.perf_counter()
        if profile:
            profile.enable()
        transaction_score(source=token.source, data=body)
        if profile:
            profile.disable()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"transaction_score in-process: median {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
