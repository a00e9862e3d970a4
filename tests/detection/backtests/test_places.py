"""A backtest's file maps the card-not-present places (`--map billing_latitude=…`) into the engine's frame."""

import numpy as np
import pytest

from detection.backtests.files import load_frame, parse_mapping
from detection.engine.frame import Frame
from transactions.files import MappingError


def test_a_backtest_maps_place_columns_into_the_engine_frame(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "when,card,amount,bill_lat,bill_lon,ship_lat,ship_lon,ship_cc,ip_cc,fraud\n"
        "2026-01-05 10:00:00,c1,10,48.85,2.35,52.52,13.40,de,nl,1\n"
        "2026-01-05 11:00:00,c2,12,,,,,,,0\n"
    )
    pairs = ["timestamp=when", "account_id=card", "amount=amount", "billing_latitude=bill_lat"]
    pairs += ["billing_longitude=bill_lon", "shipping_latitude=ship_lat", "shipping_longitude=ship_lon"]
    pairs += ["shipping_country=ship_cc", "ip_country=ip_cc"]

    frame, _ = load_frame(path, mapping=parse_mapping(pairs), label="fraud")

    data = Frame.of(frame)
    assert data.place("shipping_latitude")[0] == 52.52 and np.isnan(data.place("shipping_latitude")[1])
    assert list(data.place("ip_country")) == ["NL", ""]
    assert list(data.place("billing_country")) == ["", ""]  # not mapped: none


def test_a_backtest_refuses_an_unknown_place_name():
    with pytest.raises(MappingError, match="billing_lat="):
        parse_mapping(["timestamp=t", "account_id=a", "amount=x", "billing_lat=y"])
