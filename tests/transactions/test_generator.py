"""The synthetic generator: deterministic, realistic enough, with labelled anomalies of every kind."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from transactions.generator import ANOMALY_TYPES, generate
from transactions.validation import CANONICAL_FIELDS, PLACE_FIELDS, frame_clean

PLACES = list(PLACE_FIELDS)


@pytest.fixture(scope="module")
def frame():
    return generate(accounts=200, days=30, seed=7)


def test_the_same_seed_gives_an_identical_frame(frame):
    pd.testing.assert_frame_equal(generate(accounts=200, days=30, seed=7), frame)


def test_another_seed_gives_another_frame(frame):
    other = generate(accounts=200, days=30, seed=8)

    assert not (len(other) == len(frame) and other["amount"].equals(frame["amount"]))


def test_every_anomaly_kind_is_injected_and_labelled(frame):
    anomalies = frame[frame["label"] == 1]

    assert set(anomalies["anomaly_type"]) == set(ANOMALY_TYPES)
    assert (frame.loc[frame["label"] == 0, "anomaly_type"] == "").all()


def test_about_one_to_two_percent_are_anomalies(frame):
    assert 0.01 <= frame["label"].mean() <= 0.025


def test_rows_pass_the_schema_rules_and_ids_are_unique(frame, settings):
    clean, errors = frame_clean(frame[list(CANONICAL_FIELDS)])

    assert errors == []
    assert len(clean) == len(frame)
    assert frame["transaction_id"].is_unique


def test_timestamps_are_sorted_within_the_window(frame):
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert frame["timestamp"].max() < pd.Timestamp("2026-01-31", tz="UTC")


def test_stolen_cards_are_used_far_from_home(frame):
    distance = frame.groupby("anomaly_type")["location_distance_km"].median()

    assert distance["stolen_card_far_away"] > 1000 > 50 > distance[""]


def test_amount_spikes_dwarf_the_accounts_usual_amounts(frame):
    usual = frame[frame["label"] == 0].groupby("account_id")["amount"].median()
    spikes = frame[frame["anomaly_type"] == "amount_spike"]

    assert (spikes["amount"].to_numpy() >= 7.9 * usual.loc[spikes["account_id"]].to_numpy()).all()


def test_card_testing_uses_small_amounts_at_distinct_merchants(frame):
    testing = frame[frame["anomaly_type"] == "card_testing"]

    assert testing["amount"].max() <= 3.0
    assert testing.groupby("device_id")["merchant_id"].agg(lambda m: m.is_unique).all()


def test_a_compromised_merchant_hits_many_accounts(frame):
    hits = frame[frame["anomaly_type"] == "compromised_merchant"].groupby("merchant_id")["account_id"].nunique()

    assert hits.max() >= 3


@pytest.mark.parametrize("days", [1, 3, 9])
def test_a_short_world_keeps_every_row_within_its_days(days):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for seed in range(3):
        times = generate(accounts=120, days=days, seed=seed, start=start)["timestamp"]
        assert times.min() >= start and times.max() < start + timedelta(days=days)


@pytest.mark.parametrize(
    ("accounts", "days", "seed", "rows", "total"), [(60, 12, 4, 1_353, 88_520.79), (400, 45, 7, 36_169, 2_487_473.34)]
)
def test_a_world_of_eleven_days_or_more_is_what_it_was(accounts, days, seed, rows, total):
    """A breach's window is only ever shortened in worlds of 10 days or fewer: the same draws, the same rows as before
    it was (figures from the generator before; the second is the demo's world)."""
    frame = generate(accounts=accounts, days=days, seed=seed)
    assert len(frame) == rows
    assert round(float(frame["amount"].sum()), 2) == total


def test_without_an_ecommerce_share_no_row_has_a_place():
    frame = generate(accounts=60, days=10, seed=3)

    assert frame[["billing_latitude", "shipping_latitude"]].isna().all().all()
    assert (frame[["billing_country", "shipping_country", "ip_country", "shipping_postal_code"]] == "").all().all()
    assert "reshipping" not in set(frame["anomaly_type"])


def test_an_ecommerce_share_leaves_the_other_rows_as_they_were():
    plain = generate(accounts=60, days=10, seed=3)
    shop = generate(accounts=60, days=10, seed=3, ecommerce_share=0.5)

    kept = shop[shop["anomaly_type"] != "reshipping"].drop(columns=["transaction_id", *PLACES])
    assert kept.reset_index(drop=True).equals(plain.drop(columns=["transaction_id", *PLACES]))


def test_ecommerce_orders_carry_places_and_reshipping_frauds_ship_elsewhere():
    frame = generate(accounts=200, days=20, seed=1, ecommerce_share=0.5)

    placed = frame[frame["billing_country"] != ""]
    assert len(placed) and (placed["channel"] == "online").all()
    assert (placed["shipping_country"] != "").all() and (placed["ip_country"] != "").all()
    reshipped = frame[frame["anomaly_type"] == "reshipping"]
    assert len(reshipped) >= 3 and (reshipped["label"] == 1).all()
    assert (reshipped["shipping_postal_code"].str.startswith("D")).all()  # a reshipper's drop address
    assert (reshipped["shipping_postal_code"] != reshipped["billing_postal_code"]).all()
    clean, errors = frame_clean(frame[list(CANONICAL_FIELDS)])
    assert not errors
