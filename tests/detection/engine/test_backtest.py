import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

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
