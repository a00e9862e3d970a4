import pytest

from detection.engine.metrics import card_precision_daily, precision_at, recall_at, roc_auc, summary

# The figures of the JSON contract: every model's in a summary and in a backtest.
CONTRACT = {
    "roc_auc",
    "average_precision",
    "precision_at_1pct",
    "recall_at_1pct",
    "precision_at_5pct",
    "recall_at_5pct",
    "card_precision_at_100",
}


def test_card_precision_takes_each_cards_best_score_and_drops_detected_cards():
    days = [0, 0, 0, 0, 1, 1, 1]
    cards = ["a", "a", "b", "c", "a", "b", "c"]
    labels = [0, 1, 0, 0, 1, 0, 1]
    scores = [0.9, 0.1, 0.8, 0.2, 0.99, 0.5, 0.4]
    # day 0: a (max 0.9, label 1) and b (0.8, label 0) are the top 2 -> 1/2; a joins the detected set.
    # day 1: a is dropped; b (0.5, label 0) and c (0.4, label 1) -> 1/2.
    assert card_precision_daily(days, cards, labels, scores, k=2) == [0.5, 0.5]


def test_card_precision_counts_k_even_when_fewer_cards_exist():
    assert card_precision_daily([0, 0], ["a", "b"], [1, 0], [0.9, 0.1], k=4) == [0.25]


def test_precision_and_recall_at_top_share():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    score = [0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05]
    assert precision_at(y, score, 0.3) == pytest.approx(2 / 3)
    assert recall_at(y, score, 0.3) == pytest.approx(2 / 3)


def test_roc_auc_is_none_with_a_single_class_and_exact_otherwise():
    assert roc_auc([0, 0, 0], [0.1, 0.2, 0.3]) is None
    assert roc_auc([0, 1, 0, 1], [0.1, 0.4, 0.5, 0.8]) == 0.75


def test_summary_holds_every_contract_figure():
    figures = summary([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8], days=[0, 0, 0, 0], cards=["a", "b", "c", "d"])
    assert set(figures) == CONTRACT
    assert figures["card_precision_at_100"] == 0.02
