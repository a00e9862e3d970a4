import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from detection.engine import backtest, offering
from detection.engine.backtest import BacktestConfig, run_backtest
from tests.detection.engine.synthetic import FAST, START, transactions
from tests.detection.engine.test_metrics import CONTRACT


@pytest.fixture(scope="module")
def frame():
    return transactions(accounts=60, days=35, fraud_share=0.03, seed=5)


def test_cold_start_backtest_finds_injected_frauds(frame):
    result = run_backtest(
        frame, BacktestConfig(start=START, train_days=14, delay_days=7, test_days=7, detector_params=FAST)
    )
    assert set(result["models"]) >= {"isolation_forest", "autoencoder", "supervised", "ensemble"}
    assert set(result["models"]["ensemble"]) == CONTRACT
    assert result["models"]["ensemble"]["roc_auc"] > 0.9
    assert result["models"]["supervised"]["roc_auc"] is None
    assert len(result["per_day"]) == 7


def test_a_backtest_carries_roc_and_pr_curves_for_its_report(frame):
    result = run_backtest(
        frame, BacktestConfig(start=START, train_days=14, delay_days=7, test_days=7, detector_params=FAST)
    )

    roc, pr = result["curves"]["ensemble"]["roc"], result["curves"]["ensemble"]["pr"]
    assert 2 < len(roc) <= 200 and 2 < len(pr) <= 200
    assert roc[0] == [0.0, 0.0] and roc[-1] == [1.0, 1.0]
    assert result["curves"]["supervised"] == {"roc": [], "pr": []}


def test_reported_labels_train_the_supervised_part_and_leave_known_cards_out(frame):
    config = BacktestConfig(
        start=START,
        train_days=14,
        delay_days=3,
        test_days=3,
        feedback="reported",
        label_delay_days=2,
        detector_params=FAST,
    )
    result = run_backtest(frame, config)
    assert result["models"]["supervised"]["roc_auc"] > 0.9
    assert result["rows_scored"] > sum(day["rows"] for day in result["per_day"])


def test_backtest_command_reads_a_mapped_csv_and_writes_the_json_contract(tmp_path, frame):
    file = tmp_path / "tx.csv"
    out = tmp_path / "result.json"
    frame.assign(
        when=np.datetime_as_string(frame["ts"].to_numpy().astype("datetime64[s]")),
        secret=frame["label"],
        split=np.where(np.arange(len(frame)) % 5 == 0, "test", "train"),
    ).to_csv(file, index=False)
    call_command(
        "backtest",
        "--input",
        str(file),
        "--map",
        "timestamp=when",
        "account_id=account_id",
        "merchant_id=merchant_id",
        "amount=amount",
        "channel=channel",
        "--attributes",
        "attr_total_amount_24h",
        "--label",
        "label",
        "--exclude",
        "secret",
        "--split-column",
        "split",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["models"]["ensemble"]["roc_auc"] > 0.9
    assert result["rows_scored"] == int((np.arange(len(frame)) % 5 == 0).sum())


def test_backtest_command_refuses_an_attribute_that_gives_the_label_away(tmp_path, frame):
    file = tmp_path / "tx.csv"
    frame.assign(
        when=np.datetime_as_string(frame["ts"].to_numpy().astype("datetime64[s]")), secret=frame["label"]
    ).to_csv(file, index=False)
    mapping = ["timestamp=when", "account_id=account_id", "amount=amount"]
    arguments = ["--input", str(file), "--map", *mapping, "--attributes", "secret", "--label", "label"]

    with pytest.raises(CommandError, match="Column 'secret' predicts the label 'label' almost perfectly"):
        call_command("backtest", *arguments, "--json", str(tmp_path / "out.json"))


@pytest.fixture(scope="module")
def small_frame():
    return transactions(accounts=30, days=20, fraud_share=0.05, seed=5)


REVIEWS = {"start": START, "train_days": 14, "delay_days": 2, "test_days": 3, "feedback": "reviews"}
LEARNS_SOON = FAST | {"min_frauds": 5, "trust_folds": 2}


def _reviews_config(**overrides) -> BacktestConfig:
    return BacktestConfig(**REVIEWS | {"reviews_per_day": 12, "detector_params": LEARNS_SOON} | overrides)


class _PolicySpy:
    """Stands in for the policy: records each call's arguments and answer, and answers as the product's policy."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        answer = offering.offer(**kwargs)
        self.calls.append((kwargs, answer))
        return answer


def test_the_backtest_reviews_what_the_products_own_policy_offers(small_frame, monkeypatch):
    assert backtest.offer is offering.offer  # the function the review queue calls (tests/review/test_offering.py)
    spy = _PolicySpy()
    monkeypatch.setattr(backtest, "offer", spy)

    result = run_backtest(small_frame, _reviews_config())

    assert len(spy.calls) == len(result["reviews"]) == 5  # each day from the end of training
    for (kwargs, answer), day in zip(spy.calls, result["reviews"], strict=True):
        assert kwargs["budget"] == 12
        assert kwargs["investigate"] == ("merchant", "card")  # the product's REVIEW_INVESTIGATE by default
        assert day["reviewed"] == len(answer)
        codes, counts = np.unique(answer.reason, return_counts=True)
        assert day["by_reason"] == dict(zip(codes.tolist(), counts.tolist(), strict=True))


def test_the_backtest_reviews_stay_within_the_daily_budget_widened_investigations_included(small_frame):
    result = run_backtest(small_frame, _reviews_config(investigate_share=0.9))

    assert all(day["reviewed"] <= 12 for day in result["reviews"])
    widened = ("investigate_merchant", "investigate_card")
    assert sum(day["by_reason"].get(code, 0) for day in result["reviews"] for code in widened) > 0
    assert len({row for day in result["reviews"] for row in day["row_ids"]}) == sum(
        day["reviewed"] for day in result["reviews"]
    )


def test_the_backtest_never_reads_the_truth_of_a_row_nobody_reviewed(small_frame, monkeypatch):
    first, second = _PolicySpy(), _PolicySpy()
    monkeypatch.setattr(backtest, "offer", first)
    result = run_backtest(small_frame, _reviews_config())
    reviewed = {row for day in result["reviews"] for row in day["row_ids"]}
    flipped = small_frame.assign(
        label=np.where(small_frame["row_id"].isin(reviewed), small_frame["label"], 1.0 - small_frame["label"])
    )

    monkeypatch.setattr(backtest, "offer", second)
    again = run_backtest(flipped, _reviews_config())

    assert [d["row_ids"] for d in again["reviews"]] == [d["row_ids"] for d in result["reviews"]]
    for (kwargs, _), (kwargs_again, _) in zip(first.calls, second.calls, strict=True):
        assert np.array_equal(kwargs["score"], kwargs_again["score"])
        assert np.array_equal(kwargs["confirmed_cards"], kwargs_again["confirmed_cards"])


def test_backtest_command_refuses_an_unknown_investigation_before_reading_the_file(tmp_path):
    arguments = ["--input", str(tmp_path / "absent.csv"), "--map", "timestamp=when", "--label", "label"]

    with pytest.raises(CommandError, match="--investigate: terminal not among merchant, card"):
        call_command("backtest", *arguments, "--investigate", "terminal", "--json", str(tmp_path / "out.json"))


def test_a_review_is_known_from_the_next_morning_not_the_same_day(small_frame, monkeypatch):
    spy = _PolicySpy()
    monkeypatch.setattr(backtest, "offer", spy)

    result = run_backtest(small_frame, _reviews_config())

    first_fraud_day = next(i for i, day in enumerate(result["reviews"]) if day["frauds_found"])
    assert len(spy.calls[first_fraud_day][0]["confirmed_cards"]) == 0
    assert len(spy.calls[first_fraud_day + 1][0]["confirmed_cards"]) > 0
