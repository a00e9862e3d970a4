import pickle

import numpy as np
import pytest

from detection.engine import detector as detector_module
from detection.engine import parallel
from detection.engine.detector import ARTIFACT_FORMAT, UNSUPERVISED, ArtifactError, Detector
from detection.engine.explain import MIN_RARITY, _speaker
from detection.engine.features import (
    ACCOUNT_LOOKBACK_SECONDS,
    LABEL_FEATURES,
    MERCHANT_LOOKBACK_SECONDS,
    REPEAT_SPIKE_ORDINARY,
    REPEAT_SPIKE_WEIGHT,
    SUPERVISED_ONLY_FEATURES,
    build_features,
)
from detection.engine.frame import Frame
from tests.detection.engine.synthetic import FAST, history_for, transactions


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


def test_an_artifact_is_the_pickle_alone_which_earlier_releases_read_and_format_0_reads_as_now(frame, detector):
    blob = detector.to_bytes()
    assert pickle.loads(blob).feature_names == detector.feature_names  # noqa: S301 - as releases before formats do
    legacy = Detector.from_bytes(blob, 0)  # a version stored before formats were recorded
    assert np.array_equal(legacy.score_frame(frame).score, detector.score_frame(frame).score)


def test_an_artifact_this_release_cannot_read_is_refused_saying_why(detector):
    with pytest.raises(ArtifactError, match=f"format {ARTIFACT_FORMAT + 1} was written by a newer release"):
        Detector.from_bytes(detector.to_bytes(), ARTIFACT_FORMAT + 1)  # refused before it is unpickled
    with pytest.raises(ArtifactError, match=r"cannot be read: UnpicklingError"):
        Detector.from_bytes(b"not a pickle at all")
    with pytest.raises(ArtifactError, match="cannot be read"):
        Detector.from_bytes(detector.to_bytes()[:-100])  # cut short
    with pytest.raises(ArtifactError, match="it holds a dict"):
        Detector.from_bytes(pickle.dumps({"a": 1}))


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


def test_the_forest_and_the_autoencoder_do_not_read_the_supervised_only_features(frame, detector):
    names = [detector.feature_names[j] for j in detector.unsupervised_columns]
    assert not set(names) & set(SUPERVISED_ONLY_FEATURES)
    assert "m_known_fraud_share_9d" in detector.feature_names
    assert "a_peak_amount_7d_vs_typical" in detector.feature_names
    assert "a_peak_amount_7d_vs_typical" not in detector.spec.deviations  # nor does the tail model
    X = build_features(frame, spec=detector.spec).X[:5]
    assert detector._scaled(X).shape == (5, len(names))


def test_the_amount_after_a_spike_is_read_by_the_tail_model_only(frame, detector):
    names = [detector.feature_names[j] for j in detector.unsupervised_columns]
    assert "a_amount_vs_typical_after_spike" not in names
    tail = [detector.feature_names[j] for j in detector.tail.columns]
    assert "a_amount_vs_typical_after_spike" in tail
    assert [tail[k] for k in np.flatnonzero(detector.tail.floor)] == ["amount_log"]


def test_too_few_known_frauds_leave_the_unsupervised_models_alone():
    frame = transactions(days=10, fraud_share=0.01, seed=3)
    frame["label_known_ts"] = frame["ts"]
    assert Detector(**FAST).fit(frame, seed=0).algorithms == ["isolation_forest", "autoencoder", "tail"]


def test_a_batch_cut_into_blocks_scores_and_explains_as_one_block(frame, detector, monkeypatch):
    features = build_features(frame, spec=detector.spec).X
    whole = detector.score_features(features)
    monkeypatch.setattr(parallel, "BLOCK_ROWS", 97)
    blocks = detector.score_features(features)
    np.testing.assert_allclose(blocks.score, whole.score, rtol=0, atol=1e-12)  # float64 sums, any block size
    assert list(blocks.reasons) == list(whole.reasons)


@pytest.fixture(scope="module")
def labelled():
    frame = transactions(days=30, fraud_share=0.05, seed=2)
    frame["label_known_ts"] = frame["ts"] + 3600
    return frame, Detector(**FAST).fit(frame, seed=0)


def test_the_supervised_model_reads_the_amount_after_a_spike_only_through_the_tail_models_surprise(labelled):
    frame, detector = labelled
    read = [detector.feature_names[j] for j in detector.supervised_columns]
    assert "a_amount_vs_typical_after_spike" not in read and "a_peak_amount_7d_vs_typical" in read
    assert detector.supervised.n_features_in_ == len(read) + len(UNSUPERVISED)
    features = build_features(frame, spec=detector.spec).X
    stacked = detector._stacked(features)
    blocks = detector.score_features(features, reasons=False).components["supervised"]
    assert np.array_equal(blocks, detector.calibrators["supervised"](detector._predict(stacked)))


def test_supervised_scores_equal_scikit_learn_bit_for_bit_in_any_batch(labelled):
    frame, detector = labelled
    stacked = detector._stacked(build_features(frame, spec=detector.spec).X)
    expected = detector.supervised.predict_proba(stacked)[:, 1]
    assert np.array_equal(detector._predict(stacked), expected)
    few = 100  # row by row and a few at once
    assert np.array_equal(detector._predict(stacked[:few]), expected[:few])
    assert np.array_equal(np.concatenate([detector._predict(stacked[i : i + 1]) for i in range(few)]), expected[:few])


def test_scoring_never_touches_thread_limits(labelled, monkeypatch):
    frame, detector = labelled
    expected = detector.score_frame(frame).score

    def refuse(*args, **kwargs):
        raise AssertionError("thread limits set while scoring")

    monkeypatch.setattr(detector_module, "_CONTROLLER", [])
    monkeypatch.setattr(detector_module, "ThreadpoolController", refuse)
    assert np.array_equal(detector.score_frame(frame).score, expected)


def test_second_pass_leaves_the_most_extreme_training_rows_out(frame):
    trimmed = Detector(**FAST, trim_share=0.05).fit(_unlabelled(frame), seed=7).training_metrics
    assert trimmed["ordinary_rows"] == pytest.approx(0.95 * trimmed["unsupervised_rows"], abs=1)
    untrimmed = Detector(**FAST, trim_share=0.0).fit(_unlabelled(frame), seed=7).training_metrics
    assert untrimmed["ordinary_rows"] == untrimmed["unsupervised_rows"]


def test_the_second_pass_trims_on_label_free_features_only():
    frame = transactions(days=30, fraud_share=0.05, seed=2)
    frame["label_known_ts"] = frame["ts"] + 3600
    detector = Detector(**FAST).fit(frame, seed=0)
    X = build_features(frame, spec=detector.spec).X
    sample = np.arange(len(X))
    label_aware = [j for j, name in enumerate(detector.feature_names) if name in LABEL_FEATURES]
    assert any(j in detector.tail.columns for j in label_aware)  # the tail model reads them, the trim does not
    near_known_frauds = X.copy()
    near_known_frauds[:100, label_aware] = X[:, label_aware].max(axis=0) + 10  # far beyond any training value
    assert np.array_equal(detector._ordinary(X, sample), detector._ordinary(near_known_frauds, sample))


def test_rows_without_a_rare_feature_have_no_reasons(frame, detector):
    output = detector.score_frame(frame)
    rare_rows = set(detector.profile.rare_entries(build_features(frame, spec=detector.spec).X, MIN_RARITY)[0])
    explained = {i for i in range(len(frame)) if output.reasons[i]}
    assert explained and explained <= rare_rows


def test_the_ensemble_score_keeps_its_meaning_as_a_share_of_the_training_traffic(frame, detector):
    score = detector.score_frame(frame).score
    assert np.mean(score >= 0.95) == pytest.approx(0.05, abs=0.015)
    assert np.mean(score >= 0.80) == pytest.approx(0.20, abs=0.03)


def test_the_amount_after_a_spike_is_said_in_words_with_the_spike():
    typical = float(np.log(2.0))
    spike = float(np.log(6.0))
    value = typical + REPEAT_SPIKE_WEIGHT * (spike - REPEAT_SPIKE_ORDINARY)
    topic, words = _speaker("a_amount_vs_typical_after_spike")
    assert topic == "amount"
    assert words(value, typical) == "amount 2.0x this account's typical amount, after one of 6.0x in the last 7 days"
    assert words(typical, typical) == "amount 2.0x this account's typical amount"


def test_a_recent_amount_peak_is_said_in_words():
    topic, words = _speaker("a_peak_amount_7d_vs_typical")
    assert topic == "amount_peak"
    assert words(float(np.log(5.0)), 0.0) == "a transaction of 5.0x this account's typical amount in the last 7 days"


def test_a_large_amount_is_quoted_as_the_transaction_has_it(frame, detector):
    # The feature holds the log-amount in fixed point (1/65536): worded from it, 9,999.00 read "9,999.02".
    frame = frame.copy()
    rows = [5, 305, 605, 905]
    frame.loc[frame.index[rows], "amount"] = [9_999.00, 123_456.78, 87_654.32, 1_000_000.00]
    output = detector.score_frame(frame)
    quoted = {i: words for i in rows for words in output.reasons[i] if words.startswith("large amount")}
    assert len(quoted) >= 2
    for i, words in quoted.items():
        assert words == f"large amount ({frame['amount'].iloc[i]:,.2f})"


def test_score_frame_takes_a_frame_as_well_as_columns(labelled):
    frame, detector = labelled
    as_columns = detector.score_frame(frame)
    as_frame = detector.score_frame(Frame.of(frame))
    assert np.array_equal(as_frame.score, as_columns.score)
    assert list(as_frame.reasons) == list(as_columns.reasons)
