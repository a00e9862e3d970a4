"""Card-not-present features: distance from billing to shipping, a shipping place new for the account, shipping far
from the account's usual places, an IP country unlike the billing country; neutral where a field is missing, and
nothing changes for data that has none of them."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from detection.engine.explain import _speaker
from detection.engine.features import (
    ACCOUNT_LOOKBACK_SECONDS,
    CARD_NOT_PRESENT_FEATURES,
    MERCHANT_LOOKBACK_SECONDS,
    FeatureSpec,
    build_features,
)
from detection.engine.frame import PLACE_COLUMNS, Frame
from tests.detection.engine.synthetic import history_for, transactions

PARIS, BERLIN, LYON = (48.8566, 2.3522), (52.52, 13.405), (45.764, 4.8357)


def _shop(**last_row_places) -> pd.DataFrame:
    """One account's five online orders billed and shipped in Paris (75001, FR), then a sixth with the places given."""
    rows = 6
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows),
            "ts": 1_700_000_000 + np.arange(rows) * 86400,
            "account_id": "acct-1",
            "merchant_id": "shop",
            "amount": 40.0,
            "channel": "online",
            "billing_latitude": PARIS[0],
            "billing_longitude": PARIS[1],
            "billing_country": "FR",
            "shipping_latitude": PARIS[0],
            "shipping_longitude": PARIS[1],
            "shipping_postal_code": "75001",
            "shipping_country": "FR",
            "ip_country": "FR",
        }
    )
    for name, value in last_row_places.items():
        frame.loc[rows - 1, name] = value
    return frame


def _last(frame: pd.DataFrame) -> dict[str, float]:
    features = build_features(frame)
    return {name: float(features.column(name)[-1]) for name in CARD_NOT_PRESENT_FEATURES}


def _digest(frame) -> tuple[list[str], str]:
    features = build_features(frame)
    return features.names, hashlib.sha256(features.X.tobytes()).hexdigest()


def test_a_frame_without_places_has_no_card_not_present_features():
    frame = transactions(days=10)

    spec = FeatureSpec.infer(Frame.of(frame))

    assert not spec.card_not_present
    assert not set(CARD_NOT_PRESENT_FEATURES) & set(spec.names)


def test_features_of_data_without_places_are_bit_for_bit_those_of_the_same_data_with_empty_place_columns():
    frame = transactions(days=20)
    empty = frame.assign(
        **{name: (np.nan if "latitude" in name or "longitude" in name else "") for name in PLACE_COLUMNS}
    )

    assert _digest(empty) == _digest(frame)


def test_a_model_trained_without_places_computes_its_own_features_whatever_places_come():
    frame = transactions(days=20)
    spec = FeatureSpec.infer(Frame.of(frame))
    with_places = frame.assign(shipping_country="DE", ip_country="NL", billing_country="FR", shipping_latitude=52.5)

    before, after = build_features(frame, spec=spec), build_features(with_places, spec=spec)

    assert after.names == before.names
    assert np.array_equal(after.X, before.X)


def test_the_same_places_as_usual_give_nothing_to_say():
    assert _last(_shop()) == dict.fromkeys(CARD_NOT_PRESENT_FEATURES, 0.0)


def test_goods_shipped_to_berlin_for_a_paris_billing_are_about_880_km_away():
    values = _last(_shop(shipping_latitude=BERLIN[0], shipping_longitude=BERLIN[1]))

    assert np.expm1(values["billing_shipping_km_log"]) == pytest.approx(878, abs=5)
    assert np.expm1(values["a_shipping_far_km_log"]) == pytest.approx(878, abs=5)


def test_a_shipping_place_never_used_by_the_account_is_new():
    values = _last(_shop(shipping_postal_code="10115", shipping_country="DE"))

    assert values["a_new_shipping_place"] == 1.0


def test_a_shipping_place_without_postal_code_is_told_by_its_coordinates():
    frame = _shop(shipping_latitude=LYON[0], shipping_longitude=LYON[1])
    frame["shipping_postal_code"], frame["shipping_country"] = "", ""

    assert _last(frame)["a_new_shipping_place"] == 1.0


def test_an_ip_country_unlike_the_billing_country_is_flagged():
    assert _last(_shop(ip_country="NL"))["ip_country_mismatch"] == 1.0


@pytest.mark.parametrize(
    "missing",
    [
        {"shipping_latitude": np.nan, "shipping_longitude": np.nan, "shipping_postal_code": "", "shipping_country": ""},
        {"ip_country": ""},
        {"billing_country": "", "billing_latitude": np.nan, "billing_longitude": np.nan},
    ],
)
def test_missing_fields_leave_the_features_that_need_them_neutral(missing):
    values = _last(_shop(**({"ip_country": "NL"} | missing)))

    if "ip_country" in missing or "billing_country" in missing:
        assert values["ip_country_mismatch"] == 0.0
    if "shipping_latitude" in missing:
        assert values["billing_shipping_km_log"] == values["a_shipping_far_km_log"] == 0.0
        assert values["a_new_shipping_place"] == 0.0
    if "billing_latitude" in missing:
        assert values["billing_shipping_km_log"] == 0.0


def test_a_single_order_with_its_history_gets_exactly_the_batch_features():
    frame = _shop(shipping_postal_code="10115", shipping_country="DE", ip_country="NL")
    history = history_for(frame, len(frame) - 1, ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS)
    target = (history["row_id"] == frame["row_id"].iloc[-1]).to_numpy()

    single = build_features(history, target_mask=target, spec=FeatureSpec.infer(Frame.of(frame)))

    assert np.array_equal(single.X[0], build_features(frame).X[-1])


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("billing_shipping_km_log", np.log1p(878), "goods shipped 878 km from the billing address"),
        ("a_new_shipping_place", 1.0, "first order shipped to this place for this account in 30 days"),
        ("a_shipping_far_km_log", np.log1p(410), "shipping place 410 km from this account's usual places"),
        ("ip_country_mismatch", 1.0, "the customer's IP address is in another country than the billing address"),
    ],
)
def test_each_card_not_present_feature_has_its_reason_in_words(name, value, words):
    topic, speak = _speaker(name)

    assert speak(value, 0.0) == words
