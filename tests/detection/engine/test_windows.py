import numpy as np
import pandas as pd
import pytest

from detection.engine.windows import Grouping, codes_of, combine_codes, factorized, stable_order, time_order


def _brute_force_max(codes, ts, values, width):
    out = []
    for i in range(len(ts)):
        earlier = (codes == codes[i]) & ((ts < ts[i]) | ((ts == ts[i]) & (np.arange(len(ts)) < i)))
        inside = earlier & (ts >= ts[i] - width)
        out.append(values[inside].max() if inside.any() else -1.0)
    return np.array(out)


def test_window_max_equals_the_maximum_over_each_rows_earlier_window():
    rng = np.random.default_rng(0)
    n = 400
    ts = np.sort(rng.integers(0, 50_000, n))  # row order is (ts, position), as the features' time order
    codes = codes_of(rng.choice(np.array(["a", "b", "c"], dtype=object), n))
    values = rng.normal(size=n)
    grouping = Grouping(codes, ts, np.arange(n), np.arange(n), span=200_000)
    for width in (0, 500, 5_000, 60_000):
        got = grouping.window_max(values, grouping.start(width), empty=-1.0)
        np.testing.assert_array_equal(got, _brute_force_max(codes, ts, values, width))


@pytest.mark.parametrize("top", [1, 70, 1 << 16, (1 << 16) + 1, 1 << 31, 1 << 45])
def test_stable_order_is_numpys_stable_argsort_for_codes_of_any_width(top):
    rng = np.random.default_rng(top)
    for n in (0, 1, 7, 20_000):
        codes = rng.integers(0, top, n)
        np.testing.assert_array_equal(stable_order(codes), np.argsort(codes, kind="stable"))


def test_stable_order_puts_negative_codes_first_as_numpy_does():
    rng = np.random.default_rng(7)
    for top in (70, 1 << 20):
        codes = rng.integers(-1, top, 5_000)  # -1: pandas' code for a missing value
        np.testing.assert_array_equal(stable_order(codes), np.argsort(codes, kind="stable"))


def test_a_grouping_with_a_missing_value_code_keeps_its_keys_sorted():
    ts = np.arange(6, dtype=np.int64)
    codes = np.array([0, -1, 1, -1, 0, 1], dtype=np.int64)
    grouping = Grouping(codes, ts, np.arange(6), np.arange(6), span=100)
    assert np.all(np.diff(grouping.key) >= 0)
    np.testing.assert_array_equal(grouping.count(grouping.start(10)), [0, 0, 0, 1, 1, 1])


def test_a_grouping_of_some_targets_gives_them_what_the_grouping_of_every_row_gives():
    rng = np.random.default_rng(3)
    n = 3_000
    ts = np.sort(rng.integers(0, 400_000, n))
    codes = rng.integers(-1, 40, n)  # -1 as pandas codes a missing value; most groups hold no target
    values = rng.integers(0, 1_000, n)
    targets = np.sort(rng.choice(n, 25, replace=False))
    span = 2_000_000  # above every time plus the widest window
    everyone = Grouping(codes, ts, np.arange(n), np.arange(n), span=span)
    some = Grouping(codes, ts, np.arange(n), targets, span=span)
    assert len(some.order) < n  # the other groups' rows were left out
    for width in (0, 3_600, 86_400, 10**6):
        start_all, start_some = everyone.start(width), some.start(width)
        np.testing.assert_array_equal(some.count(start_some), everyone.count(start_all)[targets])
        all_sums = everyone.window_sum(everyone.cumsum(values), start_all)[targets]
        np.testing.assert_array_equal(some.window_sum(some.cumsum(values), start_some), all_sums)
        all_max = everyone.window_max(values.astype(float), start_all)[targets]
        np.testing.assert_array_equal(some.window_max(values.astype(float), start_some), all_max)
        events, known = values % 3 == 0, ts + values
        all_known = everyone.known_events(start_all, events, known)[targets]
        np.testing.assert_array_equal(some.known_events(start_some, events, known), all_known)
    np.testing.assert_array_equal(some.previous_ts(), everyone.previous_ts()[targets])


def test_a_categoricals_codes_are_equal_exactly_where_its_values_are():
    values = np.array(["b", "a", "", "b", "c", "a"], dtype=object)
    coded = pd.Categorical(values, categories=["z", "c", "b", "a", ""])  # "z" unused: codes need not be dense
    codes = factorized(coded)
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes[:, None] == codes[None, :], values[:, None] == values[None, :])


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, 1, 7, 3, 0, 7, 7, 2], dtype=np.int64),  # few values: their own codes
        np.array([-5, 2, -5, 1], dtype=np.int32),  # below zero: shifted
        np.array([10**12, 3, 10**12, -(10**12)], dtype=np.int64),  # a span beyond the rows: factorized
        np.array([4], dtype=np.uint8),
    ],
)
def test_integers_codes_are_equal_exactly_where_they_are_and_small(values):
    codes = factorized(values)
    assert codes.dtype == np.int64 and codes.min() >= 0 and codes.max() < max(len(values), 1)
    np.testing.assert_array_equal(codes[:, None] == codes[None, :], values[:, None] == values[None, :])


@pytest.mark.parametrize("id_range", [50, 1 << 20, 1 << 45])  # the last cannot be packed beside the times
def test_time_order_is_lexsorts_order_by_time_then_id(id_range):
    rng = np.random.default_rng(id_range)
    for n in (0, 1, 40):
        ts = rng.integers(1_500_000_000, 1_500_000_000 + 30 * 86_400, n)
        ts[: n // 2] = ts[0] if n else ts[: n // 2]  # many ties in time, broken by id
        row_id = rng.choice(id_range, n, replace=False) if id_range < 1 << 30 else rng.integers(0, id_range, n)
        np.testing.assert_array_equal(time_order(ts, row_id), np.lexsort((row_id, ts)))


def test_a_grouping_sorted_from_a_coarser_groupings_order_equals_one_sorted_from_time_order():
    rng = np.random.default_rng(11)
    n = 4_000
    ts = rng.integers(0, 400_000, n)
    row_id = rng.permutation(n)
    order = time_order(ts, row_id)
    accounts, merchants = rng.integers(0, 60, n), rng.integers(-1, 30, n)
    targets = np.sort(rng.choice(n, 40, replace=False))
    pairs = combine_codes([accounts, merchants])
    span = 2_000_000
    account = Grouping(accounts, ts, order, targets, span)
    direct = Grouping(pairs, ts, order, targets, span, [accounts, merchants])
    within = Grouping(pairs, ts, account.order, targets, span, [merchants])
    np.testing.assert_array_equal(within.order, direct.order)
    np.testing.assert_array_equal(within.tpos, direct.tpos)
    for width in (0, 3_600, 86_400):
        np.testing.assert_array_equal(within.count(within.start(width)), direct.count(direct.start(width)))


def test_combined_codes_tell_a_missing_value_from_the_previous_groups_last_value():
    accounts, merchants = np.array([1, 0]), np.array([-1, 2])  # (1, missing) against (0, the top merchant)
    combined = combine_codes([accounts, merchants])
    assert combined[0] != combined[1]


def test_known_events_count_what_a_row_by_row_reading_counts():
    rng = np.random.default_rng(8)
    n = 2_000
    ts = np.sort(rng.integers(0, 200_000, n))
    codes = rng.integers(0, 15, n)
    is_event = rng.random(n) < 0.3
    known = np.where(is_event, ts + rng.integers(0, 50_000, n), np.inf)  # known some time after, or never
    targets = np.sort(rng.choice(n, 200, replace=False))
    grouping = Grouping(codes, ts, np.arange(n), targets, span=10**7)
    for width in (0, 3_600, 86_400, 10**6):
        counted = grouping.known_events(grouping.start(width), is_event, known)
        expected = [
            sum(
                1
                for j in range(i)  # rows before the target in (ts, row) order: the rows are sorted by time
                if codes[j] == codes[i] and ts[j] >= ts[i] - width and is_event[j] and known[j] <= ts[i]
            )
            for i in targets
        ]
        np.testing.assert_array_equal(counted, expected)


def test_matches_count_what_a_grouping_by_both_columns_counts():
    rng = np.random.default_rng(9)
    n = 3_000
    ts = np.sort(rng.integers(0, 400_000, n))
    accounts, merchants = rng.integers(0, 30, n), rng.integers(0, 12, n)
    targets = np.sort(rng.choice(n, 300, replace=False))
    span = 2_000_000
    by_account = Grouping(accounts, ts, np.arange(n), targets, span=span)
    by_pair = Grouping(combine_codes([accounts, merchants]), ts, np.arange(n), targets, span=span)
    for width in (0, 3_600, 86_400, 10**6):
        expected = by_pair.count(by_pair.start(width))
        np.testing.assert_array_equal(by_account.matches(by_account.start(width), merchants), expected)
