import numpy as np
import pandas as pd
import pytest

from detection.engine.features import (
    ACCOUNT_LOOKBACK_SECONDS,
    AMOUNT_PEAK_FEATURES,
    MERCHANT_LOOKBACK_SECONDS,
    RECENT_SHARE_FEATURES,
    REPEAT_SPIKE_FEATURES,
    REPEAT_SPIKE_ORDINARY,
    REPEAT_SPIKE_WEIGHT,
    SUPERVISED_FEATURES,
    FeatureSpec,
    build_features,
    new_for_account,
)
from detection.engine.frame import Frame
from tests.detection.engine.synthetic import START, history_for, transactions


def _single(frame: pd.DataFrame, position: int) -> np.ndarray:
    history = history_for(frame, position, ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)
    target = (history["row_id"] == frame["row_id"].iloc[position]).to_numpy()
    return build_features(history, target_mask=target).X[0]


def test_single_transaction_with_its_history_gets_exactly_the_batch_features():
    frame = transactions(days=40)
    frame.loc[frame.index[::7], "label_known_ts"] = frame["ts"][::7] + 86400
    batch = build_features(frame).X
    for position in range(0, len(frame), 97):
        assert np.array_equal(_single(frame, position), batch[position])


def test_a_few_targets_of_a_large_frame_get_exactly_the_features_of_every_row_scored():
    frame = transactions(days=40)
    frame.loc[frame.index[::5], "label_known_ts"] = frame["ts"][::5] + 3 * 86400
    frame.loc[frame.index[::11], "merchant_id"] = ""
    spec = FeatureSpec.infer(Frame.of(frame))
    every = build_features(frame, spec=spec).X
    targets = np.zeros(len(frame), dtype=bool)
    targets[np.random.default_rng(5).choice(len(frame), 40, replace=False)] = True
    some = build_features(frame, target_mask=targets, spec=spec)
    assert np.array_equal(some.X, every[targets], equal_nan=True)


def test_text_given_as_categoricals_gets_the_features_of_text_given_as_strings():
    frame = transactions(days=30)
    frame.loc[frame.index[::9], "merchant_id"] = ""  # no merchant: still "" for the features
    coded = frame.copy()
    for name in ("account_id", "merchant_id", "channel", "country", "merchant_category"):
        if name in coded:
            coded[name] = pd.Categorical(coded[name].astype(object), categories=sorted(set(coded[name]))[::-1])
    assert isinstance(Frame.of(coded).merchant_id, pd.Categorical)
    targets = np.zeros(len(frame), dtype=bool)
    targets[::3] = True
    assert np.array_equal(build_features(coded, target_mask=targets).X, build_features(frame, target_mask=targets).X)


def test_missing_text_anywhere_in_a_column_is_no_value():
    frame = transactions(days=30)
    frame["merchant_id"] = frame["merchant_id"].astype(object)
    late = frame.index[100::7]  # past the first rows, where a look at the head alone would not find them
    given_empty = frame.copy()
    given_empty.loc[late, "merchant_id"] = ""
    for missing in (None, np.nan):
        given_missing = frame.copy()
        given_missing.loc[late, "merchant_id"] = missing
        assert list(Frame.of(given_missing).merchant_id[late]) == [""] * len(late)
        assert np.array_equal(build_features(given_missing).X, build_features(given_empty).X)
    categorical = frame.copy()
    categorical["merchant_id"] = pd.Categorical(given_empty["merchant_id"].replace("", None))
    assert np.array_equal(build_features(categorical).X, build_features(given_empty).X)


def test_future_rows_do_not_change_a_rows_features():
    frame = transactions(days=20)
    cut = len(frame) // 2
    past_only = build_features(frame.iloc[: cut + 1]).X[cut]
    assert np.array_equal(build_features(frame).X[cut], past_only)


def test_labels_not_yet_known_do_not_leak_into_features():
    frame = transactions(days=20, fraud_share=0.1)
    frame["label_known_ts"] = frame["ts"] + 10 * 86400  # every label arrives ten days late
    late = build_features(frame)
    frame["label_known_ts"] = np.nan
    unknown = build_features(frame)
    early_rows = (frame["ts"] < START + 10 * 86400).to_numpy()
    assert np.array_equal(late.X[early_rows], unknown.X[early_rows])
    assert late.column("m_known_frauds_30d")[~early_rows].max() > 0
    assert late.column("m_known_fraud_share_30d")[~early_rows].max() > 0
    assert late.column("m_known_labels_30d")[early_rows].max() == 0
    assert late.column("m_known_labels_9d")[early_rows].max() == 0


def test_the_recent_fraud_share_counts_only_labels_known_inside_its_nine_days():
    frame = pd.DataFrame(
        {
            "row_id": range(4),
            "ts": [START, START + 86400, START + 9 * 86400 + 3600, START + 12 * 86400],
            "account_id": ["a", "b", "c", "d"],
            "merchant_id": ["m"] * 4,
            "amount": [10.0] * 4,
            "label": [1.0, 0.0, np.nan, np.nan],
            "label_known_ts": [START + 2 * 86400, START + 9 * 86400, np.nan, np.nan],
        }
    )
    features = build_features(frame)
    # Row 2: row 0 (a fraud) is older than 9 days, row 1 (legitimate) is inside and known. Row 3: neither inside.
    assert features.column("m_known_fraud_share_9d").tolist() == [0, 0, 0, 0]
    assert np.expm1(features.column("m_known_labels_9d")).round().tolist() == [0, 0, 1, 0]
    assert features.column("m_known_fraud_share_30d")[2] == 1 / 3


def test_a_spec_stored_before_the_supervised_features_keeps_its_feature_set():
    frame = transactions(days=10)
    old = _unpickled_spec(attributes=[])  # no supervised_features field
    assert not set(SUPERVISED_FEATURES) & set(old.names)
    assert set(SUPERVISED_FEATURES) <= set(FeatureSpec.infer(Frame.of(frame)).names)
    _assert_old_columns_unchanged(frame, old, build_features(frame))


def test_a_spec_stored_before_the_recent_fraud_share_keeps_its_feature_set():
    frame = transactions(days=10, fraud_share=0.1)
    frame["label_known_ts"] = frame["ts"] + 86400
    old = _unpickled_spec(attributes=["total_amount_24h"], supervised_features=True)  # no recent_share field
    assert not set(RECENT_SHARE_FEATURES) & set(old.names)
    new = build_features(frame)
    later = len(AMOUNT_PEAK_FEATURES) + len(REPEAT_SPIKE_FEATURES)
    assert new.names[-len(RECENT_SHARE_FEATURES) - later : -later] == list(RECENT_SHARE_FEATURES)
    _assert_old_columns_unchanged(frame, old, new)


def test_a_spec_stored_before_the_amount_peak_keeps_its_feature_set():
    frame = transactions(days=10, fraud_share=0.1)
    frame["label_known_ts"] = frame["ts"] + 86400
    fields = {"attributes": ["total_amount_24h"], "supervised_features": True, "recent_share": True}
    old = _unpickled_spec(**fields)  # no amount_peak field
    assert old.names == [*FeatureSpec(**fields).names]
    assert not set(AMOUNT_PEAK_FEATURES) & set(old.names)
    new = build_features(frame)
    later = len(REPEAT_SPIKE_FEATURES)
    assert new.names[-len(AMOUNT_PEAK_FEATURES) - later : -later] == list(AMOUNT_PEAK_FEATURES)
    _assert_old_columns_unchanged(frame, old, new)


def test_a_spec_stored_before_the_amount_after_a_spike_keeps_its_feature_set():
    frame = transactions(days=10, fraud_share=0.1)
    fields = {"attributes": ["total_amount_24h"], "supervised_features": True, "recent_share": True}
    old = _unpickled_spec(**fields, amount_peak=True)  # no repeat_spike field
    assert old.names == [*FeatureSpec(**fields, amount_peak=True).names]
    assert not set(REPEAT_SPIKE_FEATURES) & (set(old.names) | set(old.deviations))
    new = build_features(frame)
    assert new.names[-len(REPEAT_SPIKE_FEATURES) :] == list(REPEAT_SPIKE_FEATURES)
    _assert_old_columns_unchanged(frame, old, new)


def _unpickled_spec(**fields) -> FeatureSpec:
    """What unpickling a spec saved by an older version gives: only the fields it had, later ones at class defaults."""
    spec = FeatureSpec.__new__(FeatureSpec)
    spec.__dict__.update(fields)
    return spec


def _assert_old_columns_unchanged(frame, old: FeatureSpec, new) -> None:
    kept = [new.names.index(name) for name in old.names]
    assert np.array_equal(build_features(frame, spec=old).X, new.X[:, kept])


def test_the_amount_peak_compares_the_largest_amount_of_seven_days_with_the_typical_amount():
    day = 86400
    frame = pd.DataFrame(
        {
            "row_id": range(6),
            "ts": START + np.array([0, 1, 2, 3, 5, 13]) * day,
            "account_id": ["a"] * 6,
            "merchant_id": ["m"] * 6,
            "amount": [10.0, 10.0, 50.0, 10.0, 10.0, 10.0],
        }
    )
    peak = build_features(frame).column("a_peak_amount_7d_vs_typical")
    typical = np.log1p([10.0, 10.0, 50.0, 10.0]).mean()  # row 4's 30 days: rows 0-3
    assert peak[0] == 0  # no earlier row
    assert peak[1] == pytest.approx(0.0, abs=1e-4)
    assert peak[4] == pytest.approx(np.log1p(50.0) - typical, abs=1e-4)
    assert peak[5] == 0  # nothing in its last 7 days (row 4 is 8 days earlier)


@pytest.mark.parametrize(
    ("name", "below"),
    [("a_peak_amount_7d_vs_typical", None), ("a_amount_vs_typical_after_spike", "a_amount_vs_typical")],
)
def test_the_amount_peak_and_the_amount_after_it_read_neither_later_rows_nor_labels(name, below):
    frame = transactions(days=20, fraud_share=0.1)
    cut = len(frame) // 2
    before = build_features(frame.iloc[: cut + 1]).column(name)[cut]
    frame.loc[frame.index[cut + 1 :], "amount"] *= 100.0  # later rows become huge spikes
    frame["label_known_ts"] = frame["ts"]
    features = build_features(frame)
    after = features.column(name)
    assert after[cut] == before
    floor = np.zeros(len(frame)) if below is None else features.column(below)
    assert np.any(after[cut + 1 :] > floor[cut + 1 :])  # the later spikes do show in the later rows
    frame["label"], frame["label_known_ts"] = np.nan, np.nan
    assert np.array_equal(build_features(frame).column(name), after)


def test_the_amount_after_a_spike_raises_the_ratio_by_the_spike_beyond_ordinary_variation():
    day = 86400
    frame = pd.DataFrame(
        {
            "row_id": range(7),
            "ts": START + np.array([0, 1, 2, 3, 4, 5, 14]) * day,
            "account_id": ["a"] * 7,
            "merchant_id": ["m"] * 7,
            "amount": [10.0, 10.0, 10.0, 60.0, 10.0, 20.0, 20.0],
        }
    )
    features = build_features(frame)
    after = features.column("a_amount_vs_typical_after_spike")
    ratio = features.column("a_amount_vs_typical")
    log = np.log1p(frame["amount"].to_numpy())
    # Row 5: its 7 days hold the spike of 60 (row 3); its typical amount is the geometric mean of rows 0-4.
    peak = log[3] - log[:5].mean()
    assert peak > REPEAT_SPIKE_ORDINARY
    assert after[5] == pytest.approx(ratio[5] + REPEAT_SPIKE_WEIGHT * (peak - REPEAT_SPIKE_ORDINARY), abs=1e-4)
    # Rows 0-3 saw no spike beyond ordinary variation; row 6's 7 days hold no row at all.
    assert np.array_equal(after[[0, 1, 2, 3, 6]], ratio[[0, 1, 2, 3, 6]])


def test_account_windows_count_only_earlier_rows_in_the_window():
    frame = pd.DataFrame(
        {
            "row_id": [1, 2, 3, 4],
            "ts": [START, START + 600, START + 7200, START + 7200],
            "account_id": ["a"] * 4,
            "merchant_id": ["m1", "m1", "m2", "m1"],
            "amount": [10.0, 20.0, 30.0, 40.0],
        }
    )
    features = build_features(frame)
    assert np.expm1(features.column("a_count_1h")).round().tolist() == [0, 1, 0, 1]
    assert np.expm1(features.column("a_count_24h")).round().tolist() == [0, 1, 2, 3]
    assert np.expm1(features.column("a_amount_24h")).round(2).tolist() == [0, 10, 30, 60]
    assert features.column("a_new_merchant").tolist() == [0, 0, 1, 0]


def test_a_merchants_new_accounts_are_counted_as_defined_row_by_row():
    """m_new_accounts_7d: the merchant's rows of the 7 days before the target (earlier in (ts, row_id) order) whose
    account had no row at that merchant in the 7 days before that row; brute force over every pair of rows."""
    rng = np.random.default_rng(11)
    n, week = 400, 7 * 86400
    ts = START + np.sort(rng.integers(0, 5 * week, n))
    ts[100:110] = ts[100]  # ties in time, broken by row id
    frame = pd.DataFrame(
        {
            "row_id": rng.permutation(n) + 1,
            "ts": ts,
            "account_id": rng.choice([f"a{i}" for i in range(12)], n),
            "merchant_id": rng.choice(["m1", "m2", "m3", ""], n, p=[0.4, 0.3, 0.2, 0.1]),
            "amount": rng.uniform(1, 100, n).round(2),
        }
    )
    got = np.expm1(build_features(frame).column("m_new_accounts_7d")).round()
    order = list(zip(frame["ts"], frame["row_id"], strict=True))
    merchant, account = frame["merchant_id"].to_numpy(), frame["account_id"].to_numpy()

    def before(x, y, width):  # x earlier than y in (ts, row_id) order, and at most `width` seconds earlier
        return order[x] < order[y] and order[x][0] >= order[y][0] - width

    def is_new(x):
        return not any(merchant[y] == merchant[x] and account[y] == account[x] and before(y, x, week) for y in range(n))

    new = [is_new(x) for x in range(n)]
    expected = [
        0 if merchant[t] == "" else sum(merchant[x] == merchant[t] and new[x] and before(x, t, week) for x in range(n))
        for t in range(n)
    ]
    assert got.tolist() == expected
    assert max(expected) > 3 and min(e for e, m in zip(expected, merchant, strict=True) if m) == 0


def test_amount_is_compared_with_the_accounts_typical_amount():
    frame = pd.DataFrame(
        {
            "row_id": range(5),
            "ts": START + np.arange(5) * 3600,
            "account_id": ["a"] * 5,
            "merchant_id": [""] * 5,
            "amount": [10.0, 10.0, 10.0, 10.0, 80.0],
        }
    )
    ratio = np.exp(build_features(frame).column("a_amount_vs_typical"))
    assert ratio[0] == 1.0
    assert 7.0 < ratio[4] < 8.0


def test_location_shift_is_measured_only_for_targets_with_coordinates():
    frame = transactions(days=30)
    assert frame["latitude"].notna().any()
    spec = FeatureSpec.infer(Frame.of(frame))
    every = build_features(frame, spec=spec)
    shift = every.column("a_location_shift_km_log")
    assert (shift > 0).any()
    no_coordinates = frame["latitude"].isna().to_numpy().copy()
    no_coordinates[::4] = True
    frame.loc[no_coordinates, ["latitude", "longitude"]] = np.nan
    # Targets without coordinates, from an account history that has some: none has a shift, as when scored with
    # targets that do have coordinates.
    some = build_features(frame, target_mask=no_coordinates, spec=spec).column("a_location_shift_km_log")
    assert not some.any()
    mixed = no_coordinates.copy()
    mixed[np.flatnonzero(~no_coordinates)[:50]] = True
    both = build_features(frame, target_mask=mixed, spec=spec)
    assert not both.column("a_location_shift_km_log")[no_coordinates[mixed]].any()
    assert np.array_equal(both.X, build_features(frame, spec=spec).X[mixed])


def test_new_for_account_over_a_column_is_the_new_merchant_feature_of_that_column():
    frame = transactions(days=40)
    frame.loc[frame.index[::11], "merchant_id"] = ""
    mask = np.zeros(len(frame), dtype=bool)
    mask[::3] = True
    features = build_features(frame, target_mask=mask)

    found = new_for_account(frame, frame["merchant_id"].to_numpy(dtype=object), target_mask=mask)

    assert found.dtype == bool and found.any()
    assert np.array_equal(found, features.column("a_new_merchant") == 1.0)
