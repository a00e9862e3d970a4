"""The analysis page's warning holds its tongue for a file of the same traffic the active model was trained on."""

from datetime import timedelta

import pandas as pd
from django.urls import reverse

from detection.models import ModelVersion
from detection.scoring import registry
from detection.training.services import model_version_train
from tests.detection.conftest import START, history_source, store_history
from tests.detection.jobs.analysis_data import MAPPING, finished_job
from transactions.models import Transaction

CUT = START + timedelta(days=40)


def like_traffic(organisation, elsewhere) -> pd.DataFrame:
    """40 days of the history generator's traffic stored and trained on (the last 10 days, with their lookback) as
    the active version; the next 4 days of the same traffic returned as a file."""
    generated = store_history(accounts=20, days=44, seed=0, organisation=elsewhere)
    source = history_source(organisation)
    fields = ("timestamp", "account_id", "amount", "merchant_id", "merchant_category", "channel", "latitude")
    fields += ("longitude", "country")
    Transaction.objects.bulk_create(
        Transaction(source=source, transaction_id=t.transaction_id, **{f: getattr(t, f) for f in fields})
        for t in generated
        if t.timestamp < CUT
    )
    version = model_version_train(organisation=organisation, since=CUT - timedelta(days=10), until=CUT, seed=0)
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.ACTIVE)
    registry.active_model_changed()
    later = [t for t in generated if t.timestamp >= CUT]
    return pd.DataFrame(
        {
            "transaction_id": [f"L{k}" for k in range(len(later))],
            "timestamp": [f"{t.timestamp:%Y-%m-%d %H:%M:%S}" for t in later],
            "user_id": [t.account_id for t in later],
            "amount": [str(t.amount) for t in later],
            "merchant": [t.merchant_id for t in later],
            "category": [t.merchant_category for t in later],
            "channel": [t.channel for t in later],
            "latitude": [t.latitude for t in later],
            "longitude": [t.longitude for t in later],
            "country": [t.country for t in later],
        }
    )


def test_a_file_of_the_same_traffic_as_the_training_data_raises_no_warning(
    analyst_client, organisation, other_organisation, analyst, no_active_model
):
    frame = like_traffic(organisation, other_organisation)
    mapping = MAPPING | {"latitude": "latitude", "longitude": "longitude", "country": "country"}
    job = finished_job(organisation, analyst, frame, mapping=mapping)

    response = analyst_client.get(reverse("detection:upload_job_analysis", kwargs={"pk": job.pk}))

    drift = response.context["drift"]
    assert drift is not None and not drift.warns, drift.shifted
    assert max(drift.psi.values()) < 1.0
    assert 'id="drift-warning"' not in response.content.decode()
