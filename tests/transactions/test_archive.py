import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from core.partitions import month_partitions
from detection.models import Score, ShadowScore
from review.models import ReviewItem
from tests.detection.engine.synthetic import START, transactions
from tests.factories import ModelVersionFactory, ReviewItemFactory, ScoreFactory, default_organisation
from transactions.models import LabelEvent, Transaction, TransactionKey
from transactions.partitions import TABLE

JANUARY_2018 = int(datetime(2018, 1, 1, tzinfo=UTC).timestamp())
CANONICAL = ("transaction_id", "timestamp", "account_id", "merchant_id", "amount", "channel", "country")


@pytest.fixture
def january(tmp_path):
    """A labelled month, 2018-01, imported as a partner would send it, and one row of 2018-02."""
    default_organisation()
    frame = transactions(accounts=30, days=28, per_day=4.0, fraud_share=0.04, seed=3)
    frame = frame.assign(
        transaction_id=[f"T{n}" for n in frame["row_id"]],
        timestamp=pd.to_datetime(frame["ts"] - START + JANUARY_2018, unit="s", utc=True).dt.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        label=frame["label"].astype(int),
    )
    february = frame.iloc[:1].assign(transaction_id="FEB", timestamp="2018-02-03T10:00:00Z")
    path = tmp_path / "bank.csv"
    pd.concat([frame, february])[[*CANONICAL, "label"]].to_csv(path, index=False)
    call_command("import_transactions", str(path), "--map", *(f"{n}={n}" for n in CANONICAL), "--label", "label")
    return frame


def _archive(tmp_path, *extra):
    call_command("archive", "--before", "2018-02", "--directory", str(tmp_path / "archive"), *extra)


@pytest.mark.django_db(transaction=True)
def test_archiving_a_month_writes_files_equal_to_its_rows_then_drops_its_partition(tmp_path, january, analyst_client):
    stored = pd.DataFrame.from_records(
        Transaction.objects.filter(timestamp__lt=datetime(2018, 2, 1, tzinfo=UTC)).order_by("id").values()
    )
    item = ReviewItemFactory(score=ScoreFactory(transaction=Transaction.objects.get(transaction_id="T1")))
    events = LabelEvent.objects.filter(transaction__timestamp__lt=datetime(2018, 2, 1, tzinfo=UTC)).count()

    _archive(tmp_path)  # a dry run first: nothing written or dropped
    assert not (tmp_path / "archive").exists() and Transaction.objects.count() == len(january) + 1

    _archive(tmp_path, "--execute")
    archived = pd.read_parquet(tmp_path / "archive" / "transactions" / "2018-01.parquet")
    assert len(archived) == len(stored) == len(january)
    assert archived["transaction_id"].tolist() == stored["transaction_id"].tolist()
    assert archived["amount"].tolist() == [float(a) for a in stored["amount"]]
    assert archived["label"].tolist() == stored["label"].tolist()
    assert pd.to_datetime(archived["timestamp"]).tolist() == stored["timestamp"].tolist()
    assert len(pd.read_parquet(tmp_path / "archive" / "label_events" / "2018-01.parquet")) == events > 0
    with connection.cursor() as cursor:
        assert list(month_partitions(cursor, TABLE))[0].isoformat() == "2018-02-01"
    assert list(Transaction.objects.values_list("transaction_id", flat=True)) == ["FEB"]
    # Keys stay: the archived transaction is still a duplicate, and what points at it still does.
    assert TransactionKey.objects.count() == len(january) + 1
    assert ReviewItem.objects.filter(pk=item.pk, transaction_id=item.transaction_id).exists()
    # The queue leaves the archived row out and works; the transaction's page says it was archived, and when.
    assert analyst_client.get(reverse("review:queue")).status_code == 200
    page = analyst_client.get(reverse("review:transaction", args=[item.transaction_id]))
    assert page.status_code == 410
    key = TransactionKey.objects.get(pk=item.transaction_id)
    assert "Transaction archived" in page.text and "2018-01" in page.text and key.transaction_id in page.text


@pytest.mark.django_db(transaction=True)
def test_backtest_and_import_read_the_archive(tmp_path, january):
    _archive(tmp_path, "--execute")
    file = tmp_path / "archive" / "transactions" / "2018-01.parquet"
    out = tmp_path / "result.json"
    # The archive is in the canonical shape: neither command needs a --map to read it.
    call_command(
        "backtest",
        "--input",
        str(file),
        "--label",
        "label",
        "--train-days",
        "14",
        "--delay-days",
        "0",
        "--test-days",
        "7",
        "--param",
        "n_estimators=50",
        "ae_epochs=4",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["rows_scored"] > 0 and result["models"]["ensemble"]["roc_auc"] > 0.8

    call_command("import_transactions", str(file), "--source", "restored")  # its "label" column read as the label
    restored = Transaction.objects.filter(source__name="restored")
    assert restored.count() == len(january)
    assert restored.filter(label=1).count() == int(january["label"].sum())


@pytest.mark.django_db(transaction=True)
def test_archiving_a_month_writes_its_scores_and_shadow_scores_and_drops_their_partitions(tmp_path, january, capsys):
    rows = list(Transaction.objects.filter(timestamp__lt=datetime(2018, 2, 1, tzinfo=UTC)).order_by("id")[:3])
    scores = [ScoreFactory(transaction=row, rules=[{"id": 1, "name": "big", "action": "review"}]) for row in rows]
    kept = ScoreFactory(transaction=Transaction.objects.get(transaction_id="FEB"))
    challenger = ModelVersionFactory(organisation=default_organisation())
    ShadowScore.objects.create(
        transaction=rows[0],
        model_version=challenger,
        champion=scores[0].model_version,
        score=0.4,
        components={"iforest": 0.4},
        transaction_time=rows[0].timestamp,
    )
    stored = pd.DataFrame.from_records(Score.objects.filter(transaction__in=rows).order_by("id").values())
    folder = tmp_path / "archive"

    _archive(tmp_path)
    assert f"{folder / 'scores' / '2018-01.parquet'} and {folder / 'shadow_scores' / '2018-01.parquet'}" in (
        capsys.readouterr().out
    )
    _archive(tmp_path, "--execute")

    archived = pd.read_parquet(folder / "scores" / "2018-01.parquet")
    assert archived["id"].tolist() == stored["id"].tolist() == [s.pk for s in scores]
    assert archived["transaction_id"].tolist() == [row.pk for row in rows]
    assert archived["transaction_time"].tolist() == [row.timestamp for row in rows]
    assert archived["score"].tolist() == stored["score"].tolist()
    assert [json.loads(text) for text in archived["reasons"]] == [s.reasons for s in scores]
    assert [json.loads(text) for text in archived["rules"]] == [s.rules for s in scores]
    shadow = pd.read_parquet(folder / "shadow_scores" / "2018-01.parquet")
    assert shadow["transaction_id"].tolist() == [rows[0].pk] and json.loads(shadow["components"][0]) == {"iforest": 0.4}
    assert not (folder / "scores" / "2018-02.parquet").exists()
    with connection.cursor() as cursor:
        for table in ("detection_score", "detection_shadowscore"):
            assert min(month_partitions(cursor, table)).isoformat() == "2018-02-01"
    assert list(Score.objects.all()) == [kept] and not ShadowScore.objects.exists()


@pytest.mark.django_db
def test_archive_names_a_bad_month():
    with pytest.raises(CommandError, match="--before: '2018-13' is not a month"):
        call_command("archive", "--before", "2018-13")


@pytest.mark.django_db(transaction=True)
def test_another_organisations_archived_transaction_is_not_found(tmp_path, january, client, other_analyst):
    pk = Transaction.objects.filter(transaction_id="T0").values_list("pk", flat=True).get()
    _archive(tmp_path, "--execute")
    client.force_login(other_analyst)
    page = client.get(reverse("review:transaction", args=[pk]))
    assert page.status_code == 404
    assert "archived" not in page.text
