"""Alerts figures: the cost scoring pays to hand scores to alerting, rule evaluation and delivery rates.

Run (uses its own database `bench_alerts`, created and migrated on first run; nothing is kept: the rows are
rolled back):

    .venv/bin/python bench/alerts_bench.py [--scores 5000] [--deliveries 300]
"""

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_common import bench_organisation, setup_own_database  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_enqueue(calls: int) -> None:
    from alerts.services import alerts_evaluate_for_scores
    from anomaly_site.celery import app

    organisation_id = bench_organisation().pk
    timings = []
    for i in range(calls):
        started = time.perf_counter()
        alerts_evaluate_for_scores(organisation_id=organisation_id, score_ids=[i + 1])
        timings.append((time.perf_counter() - started) * 1000)
    app.control.purge()
    print(
        f"alerts_evaluate_for_scores (one score, autocommit, Redis broker): median {statistics.median(timings):.3f} ms,"
        f" p99 {percentile(timings, 0.99):.3f} ms over {calls} calls"
    )


def make_scores(n: int):
    from detection.models import ModelVersion, Score
    from transactions.models import Source, Transaction

    organisation = bench_organisation()
    source = Source.objects.create(organisation=organisation, name="bench-alerts")
    version = ModelVersion.objects.create(organisation=organisation, version=990001, status="ready")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    txs = Transaction.objects.bulk_create(
        Transaction(
            source=source,
            transaction_id=f"b{i}",
            timestamp=t0 + timedelta(seconds=30 * i),
            account_id=f"a{i % 500}",
            amount=Decimal(10 + i % 900),
            merchant_id=f"m{i % 40}",
            merchant_category=("electronics", "grocery", "travel")[i % 3],
            channel=("online", "atm")[i % 2],
        )
        for i in range(n)
    )
    levels = ["low"] * 90 + ["medium"] * 6 + ["high"] * 3 + ["critical"]
    scores = Score.objects.bulk_create(
        Score(
            transaction=tx, transaction_time=tx.timestamp, model_version=version, score=0.5, risk_level=levels[i % 100]
        )
        for i, tx in enumerate(txs)
    )
    return [s.pk for s in scores]


def make_rules(destination: str):
    from alerts.models import AlertRule

    common = {"channel": "webhook", "destination": destination, "organisation": bench_organisation()}
    AlertRule.objects.create(name="high", min_risk_level="high", **common)
    AlertRule.objects.create(
        name="critical online", min_risk_level="critical", transaction_channels=["online"], **common
    )
    AlertRule.objects.create(
        name="big electronics",
        min_risk_level="medium",
        amount_min=Decimal(500),
        merchant_categories=["electronics"],
        **common,
    )
    AlertRule.objects.create(
        name="merchant burst", min_risk_level="medium", rate_count=3, rate_window_minutes=60, **common
    )
    AlertRule.objects.create(name="grouped", min_risk_level="high", quiet_period_minutes=10, **common)


class Ok(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def bench_evaluate_and_deliver(n_scores: int, n_deliveries: int) -> None:
    from django.db import transaction

    from alerts.delivery import alert_delivery_attempt
    from alerts.models import AlertDelivery
    from alerts.services import alerts_evaluate

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with transaction.atomic():
        score_ids = make_scores(n_scores)
        make_rules(f"http://127.0.0.1:{server.server_address[1]}/hook")
        started = time.perf_counter()
        alerts = alerts_evaluate(score_ids=score_ids, organisation_id=bench_organisation().pk)
        elapsed = time.perf_counter() - started
        print(
            f"alerts_evaluate: {n_scores} scores x 5 rules in {elapsed * 1000:.0f} ms = {n_scores / elapsed:,.0f}"
            f" scores/s ({len(alerts)} alerts, {AlertDelivery.objects.count()} deliveries)"
        )
        ids = list(AlertDelivery.objects.filter(scheduled_for__lte=datetime.now(UTC)).values_list("id", flat=True))
        ids = ids[:n_deliveries]
        timings = []
        for delivery_id in ids:
            started = time.perf_counter()
            assert alert_delivery_attempt(delivery_id=delivery_id).status == "sent"
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"signed webhook delivery to a local receiver (claim, build, sign, POST, record): median"
            f" {statistics.median(timings):.2f} ms, p99 {percentile(timings, 0.99):.2f} ms over {len(ids)}"
        )
        transaction.set_rollback(True)
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scores", type=int, default=5000)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--enqueue-calls", type=int, default=2000)
    args = parser.parse_args()
    setup_own_database("bench_alerts", REDIS_URL="redis://127.0.0.1:6379/5", CELERY_QUEUE="bench-alerts")
    bench_enqueue(args.enqueue_calls)
    bench_evaluate_and_deliver(args.scores, args.deliveries)


if __name__ == "__main__":
    main()
