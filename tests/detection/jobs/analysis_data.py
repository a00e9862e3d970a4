"""A finished upload job for the analysis tests: ordinary rows over the test history's accounts, and a few large
travel purchases online that the model flags."""

from datetime import timedelta

import pandas as pd

from detection.jobs import services as jobs
from detection.models import RiskPolicy, ScoringJob
from tests.detection.conftest import START
from tests.detection.jobs.jobs_data import csv_upload
from tests.detection.jobs.test_jobs import run_job

MAPPING = {
    "transaction_id": "transaction_id",
    "timestamp": "timestamp",
    "account_id": "user_id",
    "amount": "amount",
    "merchant_id": "merchant",
    "merchant_category": "category",
    "channel": "channel",
}
CATEGORIES = ("grocery", "fuel", "restaurants")


def analysis_frame(rows: int = 120, *, scale: float = 1.0, unusual: int = 6) -> pd.DataFrame:
    """`rows` rows over two days after the history; the last `unusual` are large online travel purchases. `scale`
    multiplies every amount (a file unlike the training data)."""
    frame = pd.DataFrame(
        {
            "transaction_id": [f"A{n:06d}" for n in range(rows)],
            "timestamp": [
                (START + timedelta(days=10, minutes=20 * n)).strftime("%Y-%m-%d %H:%M:%S") for n in range(rows)
            ],
            "user_id": [f"acct-{n % 20:03d}" for n in range(rows)],
            "amount": [round((30 + (n * 13) % 60) * scale, 2) for n in range(rows)],
            "merchant": [f"m-{(n % 20) * 7 % 60:03d}" for n in range(rows)],
            "category": [CATEGORIES[n % 3] for n in range(rows)],
            "channel": ["in_person"] * rows,
        }
    )
    last = frame.index[-unusual:]
    frame.loc[last, "amount"] = [9800 + 100 * k for k in range(unusual)]
    frame.loc[last, "category"] = "travel"
    frame.loc[last, "channel"] = "online"
    frame.loc[last, "merchant"] = "m-travelnow"
    return frame


def finished_job(organisation, user, frame: pd.DataFrame | None = None, name: str = "march.csv") -> ScoringJob:
    RiskPolicy.objects.create(organisation=organisation, review_threshold=0.9, comment="analysis tests")
    job = jobs.scoring_job_create(
        source=jobs.upload_source(organisation=organisation),
        upload=csv_upload(analysis_frame() if frame is None else frame, name),
        mapping=MAPPING,
        user=user,
    )
    return run_job(job.pk)
