"""Test on history: rows a minute of `rule_test_run` (target: at least 1,000,000), over the handbook's transactions
(1.75M over 183 days), each with a stored score, for three rules: one over the transaction's fields, one over
computed features (the account's 24-hour count, built from the history before the window), one over the score.

The first run imports the handbook into its own database (`anomaly_bench_rules`, or DATABASE_URL) and stores a
score per transaction; later runs reuse them. Each run times `rule_test_run` itself, as the worker runs it (read,
features, stored scores, evaluate, report), over the last --days of the data.

    .venv/bin/python bench/rule_test_bench.py --days 110 --runs 3
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/anomaly_bench_rules")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from import_bench import PRESETS, ensure_database  # noqa: E402

RULES = {
    "fields": 'amount > 200 and merchant_id != "" and hour < 6',
    "features": "count_24h_account >= 4 and amount > 100",
    "score": "score >= 0.9 or amount > 300",
}


def stored_store():
    """The benchmark's organisation, with the handbook imported and a score stored per transaction (once)."""
    from django.db import connection

    from accounts.models import Organisation
    from detection.engine.detector import Detector
    from detection.models import ModelVersion
    from transactions.models import Source, Transaction
    from transactions.services import source_get_or_create, transactions_import_file

    organisation, _ = Organisation.objects.get_or_create(name="bench-rules")
    if not Transaction.objects.filter(source__organisation=organisation).exists():
        source = source_get_or_create(organisation=organisation, name="handbook", kind=Source.Kind.IMPORT)
        started = time.perf_counter()
        summary = transactions_import_file(source=source, **PRESETS["handbook"], chunk_rows=100_000, workers=2)
        print(f"imported {summary.stored:,} rows in {time.perf_counter() - started:.1f} s")
    version, created = ModelVersion.objects.get_or_create(
        organisation=organisation,
        version=1,
        defaults={"status": ModelVersion.Status.READY, "artifact": Detector.__new__(Detector).to_bytes()},
    )
    if created:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO detection_score (transaction_id, model_version_id, score, risk_level, is_anomaly, "
                "components, reasons, decision, rules, created_at, transaction_time) "
                "SELECT t.id, %s, random(), 'low', false, '{}', '[]', '', '[]', now(), t.timestamp "
                "FROM transactions_transaction t "
                "JOIN transactions_source s ON s.id = t.source_id WHERE s.organisation_id = %s",
                [version.pk, organisation.pk],
            )
            print(f"stored {cursor.rowcount:,} scores")
            cursor.execute("ANALYZE transactions_transaction; ANALYZE detection_score")
    return organisation


def one_run(organisation, name: str, days: int) -> dict:
    from rules.models import Rule, RuleVersion
    from rules.testing.services import rule_test_run
    from transactions.models import Transaction

    newest = Transaction.objects.filter(source__organisation=organisation).order_by("-timestamp").first().timestamp
    rule, _ = Rule.objects.get_or_create(organisation=organisation, name=f"bench_{name}")
    version, _ = RuleVersion.objects.get_or_create(
        rule=rule, version=1, defaults={"expression": RULES[name], "action": "review"}
    )
    started = time.perf_counter()
    report = rule_test_run(version=version, days=days, until=newest + timedelta(seconds=1))
    seconds = time.perf_counter() - started
    return {
        "rows": report["rows"],
        "hits": report["hits"],
        "seconds": seconds,
        "per_minute": report["rows"] / seconds * 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=110)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rules", default=",".join(RULES), help="which of: " + ", ".join(RULES))
    args = parser.parse_args()
    ensure_database()
    organisation = stored_store()
    for name in args.rules.split(","):
        results = [one_run(organisation, name, args.days) for _ in range(args.runs)]
        for k, r in enumerate(results, 1):
            print(
                f"{name} run {k}: {r['rows']:,} rows, {r['hits']:,} hits in {r['seconds']:.1f} s = "
                f"{r['per_minute']:,.0f} rows a minute"
            )
        print(
            f"{name}: median {statistics.median(r['seconds'] for r in results):.1f} s, "
            f"{statistics.median(r['per_minute'] for r in results):,.0f} rows a minute ({RULES[name]!r}, "
            f"{args.days} days, load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
