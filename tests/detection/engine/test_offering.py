import numpy as np
import pytest

from detection.engine.offering import (
    EXPLORE,
    HIGH_RISK,
    INVESTIGATE_CARD,
    INVESTIGATE_MERCHANT,
    REASONS,
    investigations,
    novelty,
    offer,
)

SCORE = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.05])
CARDS = np.array(["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c2"])
MERCHANTS = np.array(["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"])


def offer_items(**options):
    """The policy over the eight items above: each test names only the budget and the shares it varies."""
    return offer(score=SCORE, cards=CARDS, merchants=MERCHANTS, **options)


def test_without_investigations_or_exploration_the_highest_scores_are_offered_in_order():
    offered = offer_items(budget=3, explore_share=0)

    assert offered.index.tolist() == [0, 2, 4]
    assert offered.reason.tolist() == [HIGH_RISK] * 3


def test_a_confirmed_card_brings_its_other_items_forward_first():
    offered = offer_items(
        budget=4,
        explore_share=0,
        investigate_share=0.5,
        confirmed_cards=["c2"],
    )

    assert offered.index.tolist() == [1, 7, 0, 2]
    assert offered.reason.tolist() == [INVESTIGATE_CARD, INVESTIGATE_CARD, HIGH_RISK, HIGH_RISK]


def test_a_confirmed_merchant_brings_its_items_forward_with_their_own_reason():
    offered = offer_items(budget=2, explore_share=0, confirmed_merchants=["m6"])

    assert offered.index.tolist() == [5, 0]
    assert offered.reason.tolist() == [INVESTIGATE_MERCHANT, HIGH_RISK]


def test_a_confirmed_fraud_gets_at_least_one_review_of_a_small_budget_left():
    offered = offer_items(budget=2, explore_share=0, confirmed_merchants=["m6"])

    assert offered.reason.tolist() == [INVESTIGATE_MERCHANT, HIGH_RISK]


def test_investigations_take_at_most_their_share_of_the_budget():
    offered = offer_items(
        budget=4,
        explore_share=0,
        investigate_share=0.25,
        confirmed_cards=["c2"],
    )

    assert offered.reason.tolist().count(INVESTIGATE_CARD) == 1
    assert offered.index.tolist() == [1, 0, 2, 4]


def test_the_exploration_share_goes_to_the_most_uncertain_items():
    uncertain = np.array([0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0])

    offered = offer(score=SCORE, novelty=uncertain, cards=CARDS, merchants=MERCHANTS, budget=4, explore_share=0.25)

    assert offered.index.tolist() == [0, 2, 4, 3]
    assert offered.reason.tolist() == [HIGH_RISK, HIGH_RISK, HIGH_RISK, EXPLORE]


def test_nothing_is_offered_twice_and_the_budget_holds_whatever_the_shares():
    rng = np.random.default_rng(0)
    score, uncertain = rng.random(200), rng.random(200)
    cards, merchants = rng.integers(0, 20, 200).astype(str), rng.integers(0, 10, 200).astype(str)

    offered = offer(
        score=score,
        novelty=uncertain,
        cards=cards,
        merchants=merchants,
        budget=50,
        explore_share=0.3,
        investigate_share=0.9,
        confirmed_cards=["1", "2"],
        confirmed_merchants=["3"],
    )

    assert len(offered) == 50
    assert len(set(offered.index.tolist())) == 50


def test_a_budget_larger_than_the_candidates_offers_each_once():
    offered = offer_items(budget=100, confirmed_cards=["c1"])

    assert sorted(offered.index.tolist()) == list(range(len(SCORE)))


def test_an_empty_merchant_never_counts_as_the_confirmed_one():
    merchants = np.array(["", "", "m3", "", "", "", "", ""])

    offered = offer(score=SCORE, cards=CARDS, merchants=merchants, budget=1, explore_share=0, confirmed_merchants=[""])

    assert offered.reason.tolist() == [HIGH_RISK]


def test_every_offered_item_says_why_in_words():
    offered = offer_items(budget=2, explore_share=0, confirmed_cards=["c2"])

    assert offered.words() == [REASONS[INVESTIGATE_CARD], REASONS[HIGH_RISK]]


def test_novelty_is_the_supervised_and_unsupervised_gap_when_both_exist():
    components = {"unsupervised": np.array([0.9, 0.2]), "supervised": np.array([0.1, 0.3])}

    assert np.allclose(novelty(components), [0.8, 0.1])


def test_novelty_without_labels_is_the_unsupervised_components_spread():
    components = {
        "isolation_forest": np.array([0.9, 0.5]),
        "autoencoder": np.array([0.1, 0.5]),
        "tail": np.array([0.5, 0.6]),
        "unsupervised": np.array([0.6, 0.5]),
    }

    assert np.allclose(novelty(components), [0.8, 0.1])


def test_a_confirmed_merchants_investigation_fills_the_share_before_the_cards():
    offered = offer_items(
        budget=2,
        explore_share=0,
        investigate_share=0.5,
        confirmed_cards=["c2"],
        confirmed_merchants=["m6"],
    )

    assert offered.index.tolist() == [5, 0]
    assert offered.reason.tolist() == [INVESTIGATE_MERCHANT, HIGH_RISK]


def test_the_investigations_named_are_the_only_ones_opened_in_their_order():
    common = {"score": SCORE, "cards": CARDS, "merchants": MERCHANTS, "budget": 4, "explore_share": 0}
    common |= {"investigate_share": 0.5}
    confirmed = {"confirmed_cards": ["c2"], "confirmed_merchants": ["m6"]}

    cards_first = offer(**common, **confirmed, investigate=("card", "merchant"))
    cards_only = offer(**common, **confirmed, investigate=("card",))
    none = offer(**common, **confirmed, investigate=())

    assert cards_first.reason.tolist() == [INVESTIGATE_CARD, INVESTIGATE_CARD, HIGH_RISK, HIGH_RISK]
    assert INVESTIGATE_MERCHANT not in cards_only.reason.tolist()
    assert none.reason.tolist() == [HIGH_RISK] * 4


def test_investigations_are_read_from_a_comma_separated_setting_and_an_unknown_one_is_refused():
    assert investigations("merchant, card") == ("merchant", "card")
    assert investigations("") == ()
    with pytest.raises(ValueError, match="terminal not among merchant, card"):
        investigations("terminal,card")
    with pytest.raises(ValueError, match="'terminal'"):
        offer_items(budget=2, investigate=("terminal",))
