import numpy as np
import pytest

from detection.engine.detector import Detector
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from tests.engine.synthetic import FAST, history_for, transactions


def _unlabelled(frame):
    return frame.assign(label=np.nan, label_known_ts=np.nan)


@pytest.fixture(scope="module")
def frame():
    return transactions(days=30, seed=1)


@pytest.fixture(scope="module")
def detector(frame):
    return Detector(**FAST).fit(_unlabelled(frame), seed=7)


def test_same_seed_gives_identical_scores(frame, detector):
    again = Detector(**FAST).fit(_unlabelled(frame), seed=7)
    assert np.array_equal(again.score_frame(frame).score, detector.score_frame(frame).score)


def test_scores_lie_in_the_unit_interval_and_rank_injected_frauds_high(frame, detector):
    output = detector.score_frame(frame)
    assert output.score.min() >= 0 and output.score.max() <= 1
    assert set(output.components) >= {"isolation_forest", "autoencoder"}
    fraud = frame["label"].to_numpy() == 1
    assert np.median(output.score[fraud]) > 0.95 > np.median(output.score[~fraud])


def test_a_row_scores_the_same_alone_with_its_history_as_in_the_whole_batch(frame, detector):
    batch = detector.score_frame(frame).score
    for position in range(5, len(frame), 211):
        history = history_for(frame, position, ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)
        target = (history["row_id"] == frame["row_id"].iloc[position]).to_numpy()
        alone = detector.score_frame(history, target).score[0]
        assert alone == pytest.approx(batch[position], abs=1e-9)


def test_artifact_round_trip_scores_identically(frame, detector):
    restored = Detector.from_bytes(detector.to_bytes())
    assert restored.feature_names == detector.feature_names
    assert np.array_equal(restored.score_frame(frame).score, detector.score_frame(frame).score)


def test_reasons_explain_a_large_amount_in_words(frame, detector):
    output = detector.score_frame(frame)
    fraud = np.flatnonzero(frame["label"].to_numpy() == 1)
    top = fraud[np.argmax(output.score[fraud])]
    assert any("typical amount" in reason or "large amount" in reason for reason in output.reasons[top])
    assert output.reasons[int(np.argmin(output.score))] == []


def test_supervised_model_joins_when_enough_frauds_are_known():
    frame = transactions(days=30, fraud_share=0.05, seed=2)
    frame["label_known_ts"] = frame["ts"] + 3600
    detector = Detector(**FAST).fit(frame, seed=0)
    assert detector.algorithms == ["isolation_forest", "autoencoder", "tail", "supervised"]
    assert "supervised" in detector.score_frame(frame).components


def test_too_few_known_frauds_leave_the_unsupervised_models_alone():
    frame = transactions(days=10, fraud_share=0.01, seed=3)
    frame["label_known_ts"] = frame["ts"]
    assert Detector(**FAST).fit(frame, seed=0).algorithms == ["isolation_forest", "autoencoder", "tail"]
