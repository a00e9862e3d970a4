"""The benchmarks' floor (detection/scoring/floor.py): the least a scoring request does, routed only for benchmarks."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from detection.models import Score
from tests.detection.conftest import START
from transactions.models import Transaction

URL = "/api/v1/bench/floor/score"
BATCH_URL = "/api/v1/bench/floor/score/batch"


def body(n: int, *, account: str = "acct-001", days: int = 10) -> dict:
    moment = START + timedelta(days=days, hours=n)
    return {"transaction_id": f"floor-{n}", "timestamp": moment.isoformat(), "account_id": account, "amount": "12.50"}


def test_the_floor_is_not_routed_by_default():
    with pytest.raises(NoReverseMatch):
        reverse("api-bench-floor")


@pytest.mark.urls("tests.detection.scoring.floor_urls")
def test_a_floor_request_stores_one_row_and_one_score_and_reads_the_accounts_30_days(scorer, active_model):
    earlier = Transaction.objects.filter(
        account_id="acct-001", timestamp__gte=START + timedelta(days=-20), timestamp__lt=START + timedelta(days=10)
    )

    response = scorer.post(URL, body(1), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["count_30d"] == earlier.count() > 0
    stored = Transaction.objects.get(transaction_id="floor-1", source=scorer.token.source)
    assert Score.objects.get(transaction=stored).model_version == active_model


@pytest.mark.urls("tests.detection.scoring.floor_urls")
def test_a_floor_batch_stores_every_row_once(scorer, active_model):
    items = [body(n, account=f"acct-{n % 3:03d}") for n in range(20)]

    first = scorer.post(BATCH_URL, {"transactions": items}, format="json")
    again = scorer.post(BATCH_URL, {"transactions": items}, format="json")

    assert first.status_code == again.status_code == 200
    assert len(first.json()["results"]) == 20
    assert again.json()["results"] == []
    assert Score.objects.filter(transaction__transaction_id__startswith="floor-").count() == 20


@pytest.mark.urls("tests.detection.scoring.floor_urls")
def test_a_bad_item_is_a_400_naming_its_index_and_field(scorer, active_model):
    response = scorer.post(BATCH_URL, {"transactions": [body(1), {**body(2), "amount": -3}]}, format="json")

    assert response.status_code == 400
    assert "transactions[1].amount" in response.content.decode()
    assert not Transaction.objects.filter(transaction_id__startswith="floor-").exists()


@pytest.mark.urls("tests.detection.scoring.floor_urls")
def test_the_floor_needs_the_score_scope(make_partner, active_model):
    response = make_partner("read").post(URL, body(1), format="json")

    assert response.status_code == 403


def test_check_deploy_warns_while_the_floor_is_on(settings, capsys):
    settings.BENCH_ENDPOINTS = True

    call_command("check", "--deploy", "--tag", "security")

    assert "detection.W001" in capsys.readouterr().err
