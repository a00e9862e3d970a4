"""The partner API's documented input (TransactionInputSerializer) and the ingest rules that validate it
(transactions.validation) agree field by field: names, required-ness, types, lengths, ranges and choices.

The serializer only documents; these tests keep it from drifting from the rules."""

from datetime import datetime
from decimal import Decimal

import pytest
from rest_framework import serializers

from detection.scoring.apis import TransactionInputSerializer
from transactions import validation
from transactions.validation import transaction_clean

FIELDS = TransactionInputSerializer().fields
CANONICAL = [name for name in FIELDS if name != "attributes"]
# A valid value of every canonical field: each test changes one.
VALID = {
    "transaction_id": "T1",
    "timestamp": "2026-01-05T10:00:00Z",
    "account_id": "A1",
    "amount": "12.50",
    "currency": "EUR",
    "merchant_id": "M1",
    "merchant_category": "grocery",
    "channel": "online",
    "latitude": 48.85,
    "longitude": 2.35,
    "location_distance_km": 3.5,
    "country": "FR",
    "device_id": "D1",
    "billing_latitude": 48.85,
    "billing_longitude": 2.35,
    "billing_postal_code": "75001",
    "billing_country": "FR",
    "shipping_latitude": 52.52,
    "shipping_longitude": 13.4,
    "shipping_postal_code": "10115",
    "shipping_country": "DE",
    "ip_country": "NL",
    "label": "0",
}
# The fields whose rules map spellings onto a closed set, and those spellings.
SPELLINGS = {"channel": validation.CHANNELS, "label": validation.LABELS}
# The type each kind of clean value is documented as; a timestamp is text, as it comes in two shapes.
DOCUMENTED_AS = {str: serializers.CharField, datetime: serializers.CharField, Decimal: serializers.DecimalField}
DOCUMENTED_AS |= {float: serializers.FloatField}


def verdict(name: str, value):
    """What the ingest rules make of one field's value, the others valid: (clean value, None) or (None, reason)."""
    cleaned = transaction_clean(VALID | {name: value})
    reasons = [error.reason for error in cleaned.errors if error.field == name]
    assert cleaned.ok or reasons, cleaned.errors  # no other field may fail
    return (None, reasons[0]) if reasons else (cleaned.data[name], None)


def accepts(name: str, value) -> bool:
    return verdict(name, value)[1] is None


def test_the_serializer_documents_every_canonical_field_and_only_those():
    assert set(CANONICAL) == set(validation.CANONICAL_FIELDS)
    assert set(VALID) == set(validation.CANONICAL_FIELDS)
    assert transaction_clean(VALID).ok


def test_required_fields_are_the_same():
    assert {name for name in CANONICAL if FIELDS[name].required} == set(validation.REQUIRED)
    for name in CANONICAL:
        assert accepts(name, None) is (name not in validation.REQUIRED), name


@pytest.mark.parametrize("name", CANONICAL)
def test_each_field_is_documented_as_the_type_its_rule_makes(name):
    field = FIELDS[name]

    if name in SPELLINGS:
        assert isinstance(field, serializers.ChoiceField)
    else:
        assert type(field) is DOCUMENTED_AS[type(verdict(name, VALID[name])[0])]


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_choices_are_the_spellings_the_rule_understands(name):
    field = FIELDS[name]

    assert set(field.choices) == set(SPELLINGS[name])
    assert all(accepts(name, choice) for choice in field.choices)
    assert not accepts(name, "none of these")


TEXT = [name for name in CANONICAL if name not in SPELLINGS and isinstance(verdict(name, VALID[name])[0], str)]


@pytest.mark.parametrize("name", TEXT)
def test_text_is_as_long_as_documented_and_no_longer(name):
    limit = FIELDS[name].max_length

    assert limit is not None
    assert limit == validation.TEXT_LIMITS.get(name, limit)
    assert accepts(name, "A" * limit)
    assert not accepts(name, "A" * (limit + 1))


def test_amounts_are_bounded_and_rounded_as_documented():
    field = FIELDS["amount"]
    largest = Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(10) ** -field.decimal_places
    cent = Decimal(10) ** -field.decimal_places

    assert largest == validation.MAX_AMOUNT
    assert accepts("amount", str(field.min_value)) and not accepts("amount", str(field.min_value - cent))
    assert accepts("amount", str(largest)) and not accepts("amount", str(largest + cent))
    assert verdict("amount", "1.005")[0].as_tuple().exponent == -field.decimal_places


@pytest.mark.parametrize("name", [name for name in CANONICAL if type(FIELDS[name]) is serializers.FloatField])
def test_numbers_have_the_documented_range(name):
    field = FIELDS[name]

    for bound, beyond in ((field.min_value, -1e-6), (field.max_value, 1e-6)):
        if bound is None:
            assert accepts(name, 1e300 if beyond > 0 else -1e300)
        else:
            assert accepts(name, bound) and not accepts(name, bound + beyond)
