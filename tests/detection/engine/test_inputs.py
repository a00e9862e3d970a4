"""What the unsupervised detectors read, decided from the training rows alone (issue 25, point 9)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from detection.engine.calibration import surprise
from detection.engine.detector import WEIGHTS, Detector
from detection.engine.features import build_features
from detection.engine.inputs import component_weights, history_support
from detection.engine.metrics import average_precision, roc_auc
from detection.engine.profile import TailModel
from tests.detection.engine.synthetic import FAST, START, transactions


def _anonymised(*, rows: int = 3000, seed: int = 0, account=None) -> pd.DataFrame:
    """Rows whose only signal lies in six behavioural columns rotated into V1..V6 (as PCA-anonymised sets are):
    2% anomalies, each far out on one side of one behavioural column; the amount carries nothing."""
    rng = np.random.default_rng(seed)
    behaviour = rng.normal(size=(rows, 6))
    fraud = rng.random(rows) < 0.02
    behaviour[fraud, rng.integers(0, 6, fraud.sum())] += rng.choice([-1, 1], fraud.sum()) * rng.uniform(
        4, 6, fraud.sum()
    )
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = behaviour @ rotation
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype=np.int64),
            "ts": START + np.sort(rng.integers(0, 20 * 86400, rows)).astype(np.int64),
            "account_id": [f"t{k}" for k in range(rows)] if account is None else account,
            "amount": rng.lognormal(3.5, 0.8, rows).round(2),
            "label": fraud.astype(np.float64),
            "label_known_ts": np.nan,
        }
    )
    for k in range(6):
        frame[f"attr_V{k + 1}"] = rotated[:, k]
    return frame


def _unlabelled(frame):
    return frame.assign(label=np.nan, label_known_ts=np.nan)


@pytest.fixture(scope="module")
def anonymised():
    return _anonymised()


@pytest.fixture(scope="module")
def fitted(anonymised):
    train = np.arange(len(anonymised)) < 2000
    return Detector(**FAST).fit(_unlabelled(anonymised), seed=3, train_mask=train), train


def test_signed_attributes_are_read_as_they_are(fitted, anonymised):
    detector, _ = fitted
    features = build_features(anonymised.head(5), spec=detector.spec)
    assert detector.spec.linear_attributes == tuple(f"V{k}" for k in range(1, 7))
    np.testing.assert_allclose(features.column("attr_V1"), anonymised["attr_V1"].head(5), rtol=1e-6)


def test_non_negative_attributes_keep_the_log_scale():
    frame = transactions(accounts=10, days=10, seed=2)
    detector = Detector(**FAST).fit(_unlabelled(frame), seed=0)
    features = build_features(frame.head(5), spec=detector.spec)
    assert detector.spec.linear_attributes == ()
    np.testing.assert_allclose(
        features.column("attr_total_amount_24h"), np.log1p(frame["attr_total_amount_24h"].head(5)), rtol=1e-6
    )


def test_the_tail_model_reads_a_signed_undirected_attribute_far_out_on_either_side(fitted, anonymised):
    detector, _ = fitted
    rows = anonymised.iloc[[0, 1, 2]].copy()
    rows.loc[rows.index[1], "attr_V2"] = -8.0
    rows.loc[rows.index[2], "attr_V2"] = 8.0
    tail = detector.score_frame(_unlabelled(rows), reasons=False).components["tail"]
    assert tail[1] > 0.999 and tail[2] > 0.999
    assert tail[0] < tail[1] and tail[0] < tail[2]


def test_account_history_is_left_out_when_each_transaction_is_its_own_account(fitted):
    detector, _ = fitted
    read = np.asarray(detector.spec.names)[detector.unsupervised_columns]
    tail = np.asarray(detector.spec.names)[detector.tail.columns]
    assert detector.training_metrics["history_support"] == 0.0
    assert not [name for name in [*read, *tail] if name.startswith("a_")]
    assert {f"attr_V{k}" for k in range(1, 7)} <= set(read) & set(tail)


def test_one_account_holding_all_the_traffic_is_no_account_history():
    frame = _anonymised(rows=1500, account="everyone")
    detector = Detector(**FAST).fit(_unlabelled(frame), seed=0)
    read = np.asarray(detector.spec.names)[detector.unsupervised_columns]
    assert detector.training_metrics["history_support"] == 0.0
    assert not [name for name in read if name.startswith("a_")]


def test_accounts_with_history_keep_their_history_features_and_every_component_its_say():
    detector = Detector(**FAST).fit(_unlabelled(transactions(days=20, seed=4)), seed=0)
    read = np.asarray(detector.spec.names)[detector.unsupervised_columns]
    assert detector.training_metrics["history_support"] > 0.9
    assert "a_amount_vs_typical" in read
    assert detector.weights == WEIGHTS


def test_a_component_without_informative_input_loses_its_say():
    # One id for all the traffic, one amount, no merchant, place or attribute: the tail model has nothing to read.
    frame = _anonymised(rows=1500, account="everyone").drop(columns=[f"attr_V{k}" for k in range(1, 7)])
    frame["amount"] = 20.0
    detector = Detector(**FAST).fit(_unlabelled(frame), seed=0)
    output = detector.score_frame(_unlabelled(frame), reasons=False)
    mixed = 0.5 * surprise(output.components["isolation_forest"]) + 0.5 * surprise(output.components["autoencoder"])
    assert len(detector.tail.columns) == 0
    assert detector.weights == {"isolation_forest": 0.5, "autoencoder": 0.5, "tail": 0.0}
    np.testing.assert_allclose(output.components["unsupervised"], detector.calibrators["unsupervised"](mixed))


def test_the_say_of_the_others_keeps_its_total():
    weights = component_weights({"a": 0.25, "b": 0.25, "c": 0.5}, {"a": 3, "b": 0, "c": 1})
    assert weights == {"a": 0.25 / 0.75, "b": 0.0, "c": 0.5 / 0.75}


def test_history_support_counts_rows_with_earlier_rows_of_their_own_account():
    accounts = np.array(["a", "a", "b", "b", "c", "d"], dtype=object)
    earlier = np.array([0, 1, 0, 2, 0, 0])
    assert history_support(accounts, earlier) == pytest.approx(2 / 6)


def test_the_choice_of_inputs_reads_no_label(anonymised):
    train = np.arange(len(anonymised)) < 2000
    labelled = anonymised.assign(label_known_ts=float(START))
    blind = Detector(**FAST).fit(_unlabelled(anonymised), seed=3, train_mask=train)
    told = Detector(**FAST).fit(labelled, seed=3, train_mask=train)
    assert told.training_metrics["known_frauds"] > 0
    assert told.spec.linear_attributes == blind.spec.linear_attributes
    assert told.training_metrics["history_support"] == blind.training_metrics["history_support"]
    np.testing.assert_array_equal(told.informative, blind.informative)
    assert told.weights == blind.weights


def test_attributes_keep_their_signal_against_a_plain_isolation_forest(fitted, anonymised):
    detector, train = fitted
    test = anonymised[~train]
    score = detector.score_frame(_unlabelled(anonymised), ~train, reasons=False).score
    columns = [f"attr_V{k}" for k in range(1, 7)]
    plain = IsolationForest(n_estimators=100, random_state=0).fit(anonymised.loc[train, columns].to_numpy())
    plain_score = -plain.score_samples(test[columns].to_numpy())
    y = test["label"].to_numpy()
    assert average_precision(y, score) >= average_precision(y, plain_score)
    assert roc_auc(y, score) >= roc_auc(y, plain_score) - 0.01


def test_an_artifact_saved_before_these_decisions_scores_as_it_did():
    frame = transactions(accounts=12, days=12, seed=5)
    detector = Detector(**FAST).fit(_unlabelled(frame), seed=0)
    before = detector.score_frame(_unlabelled(frame), reasons=False).score
    state = detector.__dict__.copy()
    for name in ("weights", "informative", "history_support"):
        state.pop(name)
    old = Detector.__new__(Detector)
    old.__dict__.update(state)
    tail_state = detector.tail.__dict__.copy()
    tail_state.pop("centers")
    old.tail = TailModel.__new__(TailModel)
    old.tail.__setstate__(tail_state)
    np.testing.assert_array_equal(old.score_frame(_unlabelled(frame), reasons=False).score, before)
