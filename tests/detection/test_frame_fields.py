"""detection.frame_fields: the canonical fields the engine reads, derived from the one canonical list."""

from dataclasses import fields

from detection.backtests import files as backtest_files
from detection.engine.frame import Frame
from detection.frame_fields import ENGINE_FIELDS
from transactions.models import Transaction
from transactions.validation import CANONICAL_FIELDS


def test_engine_fields_are_the_canonical_fields_the_engine_frame_has():
    frame_columns = {field.name for field in fields(Frame)}

    assert set(ENGINE_FIELDS) <= set(CANONICAL_FIELDS)
    assert {"currency", "device_id"}.isdisjoint(ENGINE_FIELDS)  # stored, never read by the engine
    assert {name for name in ENGINE_FIELDS if name not in ("transaction_id", "timestamp")} <= frame_columns


def test_every_engine_field_is_a_stored_column():
    stored = {field.name for field in Transaction._meta.get_fields()}

    assert set(ENGINE_FIELDS) <= stored


def test_the_backtest_mapping_keeps_the_engine_frame_order_and_needs_no_ids():
    shown = ("transaction_id", "timestamp", "account_id", "merchant_id", "amount", "channel", "country")
    shown += ("merchant_category", "latitude", "longitude", "location_distance_km")
    shown += ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
    shown += ("billing_postal_code", "billing_country", "shipping_postal_code", "shipping_country", "ip_country")

    assert shown == backtest_files.CANONICAL
    assert backtest_files.REQUIRED == ("timestamp", "account_id", "amount")
