from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from transactions.generator import DEFAULT_START, generate
from transactions.management.organisation_option import add_organisation_argument, organisation_from_option
from transactions.models import LabelSource, Source
from transactions.services import SourceKindMismatch, source_get_or_create, transactions_store_frame

STORE_CHUNK_ROWS = 100_000


class Command(BaseCommand):
    help = (
        "Generate synthetic transactions with labelled injected anomalies (deterministic for a seed), "
        "into a CSV file (--output) or straight into the store (--store, source 'demo', labels withheld)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=500)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--ecommerce-share",
            type=float,
            default=0.0,
            help="Share of the accounts (0 to 1) that shop online with billing and shipping places and an IP country, "
            "with reshipping frauds injected on them (anomaly_type 'reshipping'). Default 0: none.",
        )
        parser.add_argument(
            "--start",
            default=DEFAULT_START.date().isoformat(),
            help="First day (YYYY-MM-DD), or 'recent' for the last --days days up to now. Default: 2026-01-01.",
        )
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--output", type=Path, help="Write a CSV file (with label and anomaly_type columns).")
        target.add_argument("--store", action="store_true", help="Store the rows in the database.")
        parser.add_argument("--source", default="demo", help="Source name for --store (default: demo).")
        add_organisation_argument(parser)
        parser.add_argument(
            "--with-labels",
            action="store_true",
            help="With --store, also store labels (source 'import') and each anomaly's type in its attributes.",
        )

    def handle(self, *args, accounts, days, seed, start, output, store, source, with_labels, **options):
        if accounts < 1 or days < 1:
            raise CommandError("--accounts and --days must be at least 1")
        share = options["ecommerce_share"]
        if not 0 <= share <= 1:
            raise CommandError(f"--ecommerce-share must lie between 0 and 1, got {share}")
        organisation = organisation_from_option(options["organisation"]) if store else None
        frame = generate(accounts=accounts, days=days, seed=seed, start=self._start(start, days), ecommerce_share=share)
        if start == "recent":  # up to now: the rest of today has not happened yet
            frame = frame[frame["timestamp"] <= pd.Timestamp.now(tz=UTC)].reset_index(drop=True)
        anomalies = int(frame["label"].sum())
        self.stdout.write(
            f"Generated {len(frame):,} transactions of {accounts:,} accounts over {days} days, "
            f"{anomalies:,} injected anomalies ({anomalies / max(len(frame), 1):.2%})."
        )
        if output:
            self._write_csv(frame, output)
        else:
            self._store(frame, organisation, source, with_labels)

    def _start(self, value: str, days: int) -> datetime:
        if value == "recent":
            return datetime.combine(datetime.now(UTC).date() - timedelta(days=days - 1), time(), tzinfo=UTC)
        try:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        except ValueError:
            raise CommandError(f"--start takes YYYY-MM-DD or 'recent', got {value!r}")

    def _write_csv(self, frame, output: Path) -> None:
        frame.rename(columns={"attr_terminal_id": "terminal_id"}).to_csv(output, index=False)
        self.stdout.write(self.style.SUCCESS(f"Wrote {output}."))

    def _store(self, frame, organisation, source_name: str, with_labels: bool) -> None:
        try:
            source = source_get_or_create(organisation=organisation, name=source_name, kind=Source.Kind.DEMO)
        except SourceKindMismatch as exc:
            raise CommandError(f"--source: {exc}") from exc
        attributes = ["terminal_id"]
        if with_labels:
            frame["attr_anomaly_type"] = frame["anomaly_type"].where(frame["anomaly_type"] != "")
            attributes.append("anomaly_type")
        else:
            frame["label"] = np.nan
        stored = 0
        for start in range(0, len(frame), STORE_CHUNK_ROWS):
            chunk = frame.iloc[start : start + STORE_CHUNK_ROWS]
            stored += transactions_store_frame(
                source=source, frame=chunk, attributes=attributes, label_source=LabelSource.IMPORT
            )
        labels = "with labels" if with_labels else "without labels"
        self.stdout.write(
            self.style.SUCCESS(
                f"Stored {stored:,} new transactions under source '{source.name}' of {organisation} ({labels}); "
                f"{len(frame) - stored:,} were already there."
            )
        )
