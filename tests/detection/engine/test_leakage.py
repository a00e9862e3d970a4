"""The label-leak check: a column that predicts the label nearly perfectly is named; ordinary columns are not."""

import numpy as np
import pandas as pd

from detection.engine.leakage import label_leaks, labels_binary

RNG = np.random.default_rng(7)
N = 2_000
LABEL = (RNG.random(N) < 0.05).astype(int)


def test_a_relabelling_of_the_label_leaks():
    anomaly_type = np.where(LABEL == 1, RNG.integers(1, 5, N), 0)

    (leak,) = label_leaks({"anomaly_type": anomaly_type}, LABEL)

    assert (leak.column, leak.auc, leak.relabelling, leak.rows) == ("anomaly_type", 1.0, True, N)


def test_a_text_relabelling_of_the_label_leaks():
    outcome = np.where(LABEL == 1, "chargeback", "settled")

    assert [leak.column for leak in label_leaks({"outcome": outcome}, LABEL)] == ["outcome"]


def test_a_number_that_separates_the_classes_leaks():
    risk = np.where(LABEL == 1, RNG.uniform(0.9, 1.0, N), RNG.uniform(0.0, 0.8, N))

    (leak,) = label_leaks({"vendor_risk": risk}, LABEL)

    assert (leak.column, leak.relabelling) == ("vendor_risk", False)


def test_a_number_that_separates_the_classes_the_other_way_round_leaks_too():
    trust = np.where(LABEL == 1, RNG.uniform(0.0, 0.1, N), RNG.uniform(0.2, 1.0, N))

    assert [leak.column for leak in label_leaks({"trust": trust}, LABEL)] == ["trust"]


def test_a_random_split_column_does_not_leak():
    split = RNG.choice(["train", "val", "test"], N, p=[0.7, 0.15, 0.15])

    assert label_leaks({"split": split}, LABEL) == []


def test_an_informative_but_imperfect_column_does_not_leak():
    amount = np.where(LABEL == 1, RNG.lognormal(4.5, 1.0, N), RNG.lognormal(3.5, 1.0, N))

    assert label_leaks({"amount": amount}, LABEL) == []


def test_ids_of_many_distinct_values_are_not_judged():
    ids = [f"user-{n}" for n in range(N)]

    assert label_leaks({"user_id": ids}, LABEL) == []


def test_rows_without_a_label_are_left_out():
    label = pd.Series(LABEL, dtype="float").mask(np.arange(N) % 2 == 0)
    anomaly_type = np.where(LABEL == 1, 3, 0)

    (leak,) = label_leaks({"anomaly_type": anomaly_type}, label)

    assert leak.rows == N // 2


def test_too_few_frauds_to_judge_gives_no_leak():
    label = np.zeros(N, dtype=int)
    label[:3] = 1

    assert label_leaks({"flag": label.copy()}, label) == []


def test_labels_are_read_from_numbers_words_and_booleans():
    assert labels_binary(["1", "0", "true", "False", "fraud", "", "2"]).tolist()[:5] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert np.isnan(labels_binary(["", "2"])).all()
    assert labels_binary(np.array([True, False])).tolist() == [1.0, 0.0]


def test_the_refusal_names_the_column_and_the_label():
    (leak,) = label_leaks({"anomaly_type": np.where(LABEL == 1, 2, 0)}, LABEL)

    assert leak.describe("is_anomaly").startswith("Column 'anomaly_type' predicts the label 'is_anomaly' almost")
