"""The canonical transaction schema's rules, for one raw dict (the API) and for a whole frame (files).

Both paths give the same verdict and the same error texts for the same input (tests/transactions/test_validation.py
checks it). Amounts are rounded to cents half away from zero on the decimal value written in the input
(`12.345` -> `12.35`); the file path leaves that rounding to PostgreSQL's `round(numeric, 2)`, which rounds the
same way.
"""

import functools
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

# Card-not-present signals, all optional: the billing and shipping places and the customer's IP country.
PLACE_FIELDS = (
    "billing_latitude",
    "billing_longitude",
    "billing_postal_code",
    "billing_country",
    "shipping_latitude",
    "shipping_longitude",
    "shipping_postal_code",
    "shipping_country",
    "ip_country",
)
CANONICAL_FIELDS = (
    "transaction_id",
    "timestamp",
    "account_id",
    "amount",
    "currency",
    "merchant_id",
    "merchant_category",
    "channel",
    "latitude",
    "longitude",
    "location_distance_km",
    "country",
    "device_id",
    *PLACE_FIELDS,
    "label",
)
ALIASES = {"user_id": "account_id", "is_online": "channel", "merchant": "merchant_id", "terminal_id": "merchant_id"}
REQUIRED = ("transaction_id", "timestamp", "account_id", "amount")
TEXT_LIMITS = {
    "transaction_id": 128,
    "account_id": 128,
    "merchant_id": 128,
    "merchant_category": 64,
    "device_id": 128,
    "billing_postal_code": 16,
    "shipping_postal_code": 16,
}
OPTIONAL_TEXT = ("merchant_id", "merchant_category", "device_id", "billing_postal_code", "shipping_postal_code")
MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")

CHANNELS = {
    "online": "online",
    "in_person": "in_person",
    "atm": "atm",
    "other": "other",
    "cnp": "online",
    "cp": "in_person",
    "1": "online",
    "0": "in_person",
    "true": "online",
    "false": "in_person",
}
LABELS = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "fraud": 1.0, "legit": 0.0}

TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
# A number written as text: ASCII digits, an optional sign, point and exponent (no `1_000`, no other scripts' digits,
# no `Infinity`), as pandas' reader of files takes it.
_PLAIN_NUMBER_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class Reason:
    REQUIRED = "required"
    NOT_A_DATE = "not a date (expected ISO 8601 or YYYY-MM-DD HH:MM:SS)"
    NOT_A_NUMBER = "not a number"
    NEGATIVE = "must not be negative"
    TOO_LARGE = f"too large (at most {MAX_AMOUNT})"
    CURRENCY = "not a 3-letter ISO 4217 currency code"
    CHANNEL = "unknown channel (expected online, in_person, atm or other; is_online 0/1; CP/CNP)"
    LATITUDE = "out of range [-90, 90]"
    LONGITUDE = "out of range [-180, 180]"
    COUNTRY = "not a 2-letter country code"
    LABEL = "unknown label (expected 0/1, true/false, fraud/legit)"
    ATTRIBUTES = "must be an object"
    NOT_AN_OBJECT = "must be an object (one transaction)"
    NUL = "contains a NUL character (\\u0000), which cannot be stored"
    SURROGATE = "contains a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
    TEXT = "must be text or a number"
    NOT_FINITE = "not a finite number"

    @staticmethod
    def too_long(limit: int) -> str:
        return f"longer than {limit} characters"

    @staticmethod
    def timestamp_range() -> str:
        earliest, ahead = timestamp_min(), timestamp_max_ahead()
        return f"out of range (from {earliest:%Y-%m-%d %H:%M:%S}Z to {_duration(ahead)} after now)"

    @staticmethod
    def too_deep() -> str:
        return f"nested deeper than {_bounds().attribute_depth} levels"

    @staticmethod
    def too_many_keys() -> str:
        return f"more than {_bounds().attribute_keys} keys"

    @staticmethod
    def too_big() -> str:
        return f"larger than {_bounds().attribute_bytes} bytes as JSON"


def timestamp_min() -> datetime:
    """The earliest timestamp accepted (TIMESTAMP_MIN, UTC when naive), and the earliest scored: never before 1900,
    since scoring subtracts its lookback windows from a transaction's time."""
    return _bounds().earliest


def timestamp_max_ahead() -> timedelta:
    """How far past now a timestamp may be (TIMESTAMP_MAX_AHEAD seconds): clocks differ a little, never by years."""
    return _bounds().ahead


_EARLIEST_EVER = datetime(1900, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Bounds:
    earliest: datetime
    earliest_epoch: float
    ahead: timedelta
    ahead_seconds: float
    attribute_depth: int
    attribute_keys: int
    attribute_bytes: int


@functools.cache
def _bounds() -> _Bounds:
    """The ingest bounds' settings, read once (every row is checked against them) and again when one changes."""
    earliest = settings.TIMESTAMP_MIN
    if isinstance(earliest, str):
        earliest = datetime.fromisoformat(earliest)
    earliest = earliest.replace(tzinfo=UTC) if earliest.tzinfo is None else earliest.astimezone(UTC)
    earliest = max(earliest, _EARLIEST_EVER)
    return _Bounds(
        earliest=earliest,
        earliest_epoch=earliest.timestamp(),
        ahead=timedelta(seconds=settings.TIMESTAMP_MAX_AHEAD),
        ahead_seconds=float(settings.TIMESTAMP_MAX_AHEAD),
        attribute_depth=settings.ATTRIBUTES_MAX_DEPTH,
        attribute_keys=settings.ATTRIBUTES_MAX_KEYS,
        attribute_bytes=settings.ATTRIBUTES_MAX_BYTES,
    )


_BOUND_SETTINGS = {"TIMESTAMP_MIN", "TIMESTAMP_MAX_AHEAD", *(f"ATTRIBUTES_MAX_{n}" for n in ("DEPTH", "KEYS", "BYTES"))}


@receiver(setting_changed)
def _bounds_changed(*, setting: str, **kwargs) -> None:
    if setting in _BOUND_SETTINGS:
        _bounds.cache_clear()


def timestamp_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The accepted timestamps, both ends included. Outside it a time is a typo or garbage (year 1 broke scoring:
    its history window starts before the first representable date)."""
    return timestamp_min(), (now or timezone.now()) + timestamp_max_ahead()


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@dataclass(frozen=True)
class FieldError:
    field: str | None  # None: the whole item (not an object)
    reason: str


@dataclass
class Cleaned:
    """The outcome of cleaning one raw transaction: canonical `data`, or the `errors` that stopped it."""

    data: dict[str, Any] | None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Unusual(Exception):
    """A value the usual-shapes path leaves to the field rules (which also word any error)."""


# ---------------------------------------------------------------- one dict


def transaction_clean(raw: dict[str, Any]) -> Cleaned:
    """Clean one raw transaction dict: canonical fields, aliases resolved, any other key kept in `attributes`.

    Anything else (a list, a number, a string: one bad item of a batch) is refused as a whole."""
    if not isinstance(raw, dict):
        return Cleaned(data=None, errors=[FieldError(None, Reason.NOT_AN_OBJECT)])
    values, attributes, errors = _split_raw(raw)
    if attributes:
        errors.extend(attribute_errors(attributes))
    if not errors:
        try:
            return Cleaned(data=_clean_usual(values, attributes))
        except _Unusual:
            pass
    return _clean_by_rules(values, attributes, errors)


def _clean_by_rules(values: dict[str, Any], attributes: dict[str, Any], errors: list[FieldError]) -> Cleaned:
    """Every field through its rule: values of any shape, and the wording of every error."""
    data: dict[str, Any] = {"attributes": attributes}
    for name in CANONICAL_FIELDS:
        try:
            data[name] = _clean_scalar(name, values.get(name))
        except _Invalid as invalid:
            errors.append(FieldError(name, invalid.reason))
    return Cleaned(data=None, errors=errors) if errors else Cleaned(data=data)


_FIELD_OF = {name: name for name in CANONICAL_FIELDS} | ALIASES


def _split_raw(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    values: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    errors: list[FieldError] = []
    given = raw.get("attributes")
    if isinstance(given, dict):
        attributes.update(given)
    elif given is not None:
        errors.append(FieldError("attributes", Reason.ATTRIBUTES))
    for key, value in raw.items():
        name = _FIELD_OF.get(key)
        if name is not None:
            if key == name or name not in values or _is_missing(values[name]):
                values[name] = value
        elif key != "attributes":
            attributes[key] = value
    return values, attributes, errors


def attribute_errors(attributes: dict[str, Any]) -> list[FieldError]:
    """What PostgreSQL's JSON would refuse, or what has no business in a transaction, named by top-level key: NUL
    characters and lone surrogates in text, numbers that are not finite, objects nested past ATTRIBUTES_MAX_DEPTH;
    then, for `attributes` as a whole, more than ATTRIBUTES_MAX_KEYS keys or ATTRIBUTES_MAX_BYTES of JSON."""
    bounds, errors, keys, size = _bounds(), [], len(attributes), 2
    for key, value in attributes.items():
        name = key if type(key) is str else str(key)
        problem, kind = text_problem(name), type(value)
        size += 6 * len(name) + 4  # an upper bound: \u escapes take 6 bytes a character at most
        if problem is not None:
            pass
        elif kind is str:  # the usual flat values inline: a call per value costs as much as the checks
            problem, size = text_problem(value), size + 6 * len(value) + 2
        elif kind is float:
            problem, size = (None if value - value == 0 else Reason.NOT_FINITE), size + 24
        elif kind is bool or value is None:
            size += 5
        elif kind is int:
            size += value.bit_length() // 3 + 2
        else:
            problem, count, length = _attribute_walk(value, bounds.attribute_depth - 1)
            keys, size = keys + count, size + length
        if problem is not None:
            errors.append(FieldError(_printable(name), problem))
    if errors:
        return errors
    if keys > bounds.attribute_keys:
        return [FieldError("attributes", Reason.too_many_keys())]
    if size > bounds.attribute_bytes and _json_size(attributes) > bounds.attribute_bytes:
        return [FieldError("attributes", Reason.too_big())]
    return []


def _attribute_walk(value: Any, depth: int) -> tuple[str | None, int, int]:
    """(the first problem, nested keys, an upper bound of the JSON's size in bytes) of one attribute's value,
    looked at no deeper than `depth` more levels (a body nested 500 deep never reaches Python's recursion limit)."""
    kind = type(value)
    if kind is str:
        return text_problem(value), 0, 6 * len(value) + 2  # \u escapes are 6 bytes a character at most
    if kind is bool or value is None:
        return None, 0, 5
    if kind is int:
        return None, 0, value.bit_length() // 3 + 2  # at least its digits
    if kind is float:
        return (None if math.isfinite(value) else Reason.NOT_FINITE), 0, 24
    if isinstance(value, dict | list | tuple):
        if depth <= 0:
            return Reason.too_deep(), 0, 0
        keys, size = 0, 2
        items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        for key, item in items:
            if key is not None:
                problem = text_problem(key if isinstance(key, str) else str(key))
                if problem is not None:
                    return problem, keys, size
                keys, size = keys + 1, size + 6 * len(str(key)) + 3
            problem, count, length = _attribute_walk(item, depth - 1)
            if problem is not None:
                return problem, keys, size
            keys, size = keys + count, size + length + 1
        return None, keys, size
    if isinstance(value, Decimal | int | float):
        return (None if math.isfinite(value) else Reason.NOT_FINITE), 0, len(str(value))
    return None, 0, 6 * len(str(value)) + 2  # dates and the like: DjangoJSONEncoder writes them as text


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return Reason.NUL
    if not text.isascii() and _SURROGATE_RE.search(text):
        return Reason.SURROGATE
    return None


def _printable(name: str) -> str:
    """A key fit to name in an answer: NUL and lone surrogates written as escapes (the answer is JSON text)."""
    if text_problem(name) is None:
        return name
    return name.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _json_size(attributes: dict[str, Any]) -> int:
    return len(json.dumps(attributes, cls=DjangoJSONEncoder, ensure_ascii=False).encode())


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _clean_scalar(name: str, value: Any) -> Any:
    if _is_missing(value):
        if name in REQUIRED:
            raise _Invalid(Reason.REQUIRED)
        return _DEFAULTS[name]()
    return _SCALAR_RULES[name](name, value)


def _text(name: str, value: Any) -> str:
    """Text, or a number spelled as text (the prototype sent `user_id: 1234`); never the text of a list or object."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal | np.number):
        raise _Invalid(Reason.TEXT)
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        raise _Invalid(Reason.TEXT)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    limit = TEXT_LIMITS[name]
    if len(text) > limit:
        raise _Invalid(Reason.too_long(limit))
    problem = text_problem(text)
    if problem is not None:
        raise _Invalid(problem)
    return text


def _timestamp(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _TIMESTAMP_RE.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(Reason.NOT_A_DATE)
    else:
        raise _Invalid(Reason.NOT_A_DATE)
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable time
        raise _Invalid(Reason.timestamp_range())
    earliest, latest = timestamp_window()
    if not earliest <= moment <= latest:
        raise _Invalid(Reason.timestamp_range())
    return moment


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal | np.number):
        raise _Invalid(Reason.NOT_A_NUMBER)
    text = str(value).strip()
    if isinstance(value, str) and not _PLAIN_NUMBER_RE.fullmatch(text):
        raise _Invalid(Reason.NOT_A_NUMBER)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Invalid(Reason.NOT_A_NUMBER)
    if not number.is_finite():
        raise _Invalid(Reason.NOT_A_NUMBER)
    return number


def _amount(name: str, value: Any) -> Decimal:
    number = _decimal(value)
    if number < 0:
        raise _Invalid(Reason.NEGATIVE)
    if number >= _TOO_LARGE_FROM:  # before rounding: quantize fails on numbers past its precision (1e26 and up)
        raise _Invalid(Reason.TOO_LARGE)
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


_TOO_LARGE_FROM = MAX_AMOUNT + CENT / 2  # rounds (half up) past MAX_AMOUNT


def _float_in(low: float, high: float, reason: str):
    def rule(name: str, value: Any) -> float:
        number = float(_decimal(value))
        if not low <= number <= high:
            raise _Invalid(reason)
        return number

    return rule


def _code(pattern: re.Pattern, reason: str):
    def rule(name: str, value: Any) -> str:
        text = str(value).strip().upper()
        if not pattern.match(text):
            raise _Invalid(reason)
        return text

    return rule


def _choice_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _channel(name: str, value: Any) -> str:
    try:
        return CHANNELS[_choice_key(value)]
    except KeyError:
        raise _Invalid(Reason.CHANNEL)


def _label(name: str, value: Any) -> int:
    try:
        return int(LABELS[_choice_key(value)])
    except KeyError:
        raise _Invalid(Reason.LABEL)


_DEFAULTS = {
    "currency": lambda: settings.DEFAULT_CURRENCY,
    "merchant_id": str,
    "merchant_category": str,
    "channel": lambda: "other",
    "latitude": lambda: None,
    "longitude": lambda: None,
    "location_distance_km": lambda: None,
    "country": str,
    "device_id": str,
    **{f"{place}_{part}": (lambda: None) for place in ("billing", "shipping") for part in ("latitude", "longitude")},
    **dict.fromkeys(("billing_postal_code", "billing_country", "shipping_postal_code", "shipping_country"), str),
    "ip_country": str,
    "label": lambda: None,
}


# ---------------------------------------------------------------- one dict, the usual shapes
#
# What an API batch sends: strings, ints and floats already within the rules. This path checks them by type and
# range, without the rules' call and regular expression per field (bench/ingest_bench.py compares the two), and hands
# anything else (missing required fields, floats as ids, bools, NaN, values out of range or unknown) to the rules,
# which give the verdict and the error texts.
# tests/transactions/test_validation_usual_shapes.py compares both paths value by value, types included.

_NO_DEFAULT = object()  # a required text field's: missing is an error, left to the rules
_FLOAT_MAX = 1.7976931348623157e308  # a finite upper bound: an infinite float is not a number to the rules
_USUAL_AMOUNT_BELOW = 10**11  # far enough under MAX_AMOUNT that rounding to cents cannot cross it
# Timestamps the full pattern accepts, in ASCII digits: naive with a time, and with Z or an offset.
_NAIVE_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?")
_AWARE_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)"
)


class _Remembered(dict):
    """A field's clean value by the string given, for fields that see few spellings (currency, channel, ...): the
    rule runs once per spelling. Holds at most 256 short spellings; missing and invalid values are never kept."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __missing__(self, value: str) -> Any:
        if _is_missing(value):
            raise _Unusual
        try:
            clean = _SCALAR_RULES[self.name](self.name, value)
        except _Invalid:
            raise _Unusual from None
        if len(self) < 256 and len(value) <= 32:
            self[value] = clean
        return clean


_CURRENCIES, _COUNTRIES = _Remembered("currency"), _Remembered("country")
_CHANNEL_WORDS, _LABEL_WORDS = _Remembered("channel"), _Remembered("label")
_CHANNEL_NUMBERS, _LABEL_NUMBERS = {0: "in_person", 1: "online"}, {0: 0, 1: 1}  # also False and True


def _clean_usual(values: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """transaction_clean's data for values of the usual shapes; raises _Unusual for anything else."""
    get = values.get
    return {
        "attributes": attributes,
        "transaction_id": _usual_text(get("transaction_id"), 128, _NO_DEFAULT),
        "timestamp": _usual_timestamp(get("timestamp")),
        "account_id": _usual_text(get("account_id"), 128, _NO_DEFAULT),
        "amount": _usual_amount(get("amount")),
        # A currency is never empty: None means the default, read only then (a setting is not free to read).
        "currency": _usual_word(get("currency"), _CURRENCIES, {}, None) or settings.DEFAULT_CURRENCY,
        "merchant_id": _usual_text(get("merchant_id"), 128, ""),
        "merchant_category": _usual_text(get("merchant_category"), 64, ""),
        "channel": _usual_word(get("channel"), _CHANNEL_WORDS, _CHANNEL_NUMBERS, "other"),
        "latitude": _usual_float(get("latitude"), -90.0, 90.0),
        "longitude": _usual_float(get("longitude"), -180.0, 180.0),
        "location_distance_km": _usual_float(get("location_distance_km"), 0.0, _FLOAT_MAX),
        "country": _usual_word(get("country"), _COUNTRIES, {}, ""),
        "device_id": _usual_text(get("device_id"), 128, ""),
        "billing_latitude": _usual_float(get("billing_latitude"), -90.0, 90.0),
        "billing_longitude": _usual_float(get("billing_longitude"), -180.0, 180.0),
        "billing_postal_code": _usual_text(get("billing_postal_code"), 16, ""),
        "billing_country": _usual_word(get("billing_country"), _COUNTRIES, {}, ""),
        "shipping_latitude": _usual_float(get("shipping_latitude"), -90.0, 90.0),
        "shipping_longitude": _usual_float(get("shipping_longitude"), -180.0, 180.0),
        "shipping_postal_code": _usual_text(get("shipping_postal_code"), 16, ""),
        "shipping_country": _usual_word(get("shipping_country"), _COUNTRIES, {}, ""),
        "ip_country": _usual_word(get("ip_country"), _COUNTRIES, {}, ""),
        "label": _usual_word(get("label"), _LABEL_WORDS, _LABEL_NUMBERS, None),
    }


def _usual_text(value: Any, limit: int, default: Any) -> str:
    kind = type(value)
    if kind is str:
        text = value.strip()
        if text and len(text) <= limit and "\x00" not in text and (text.isascii() or not _SURROGATE_RE.search(text)):
            return text
        if not text and default is not _NO_DEFAULT:
            return default
    elif kind is int:
        text = str(value)
        if len(text) <= limit:
            return text
    elif value is None and default is not _NO_DEFAULT:
        return default
    raise _Unusual


def _usual_timestamp(value: Any) -> datetime:
    if type(value) is str:
        try:
            if _NAIVE_TIMESTAMP.fullmatch(value):
                # One parse with the offset written in, cheaper than a parse and then `replace(tzinfo=UTC)`.
                moment = datetime.fromisoformat(value + "+00:00")
            elif _AWARE_TIMESTAMP.fullmatch(value):
                moment = datetime.fromisoformat(value).astimezone(UTC)
            else:
                raise _Unusual
        except (ValueError, OverflowError):  # e.g. 30 February: the rules say so
            raise _Unusual from None
        bounds = _bounds()
        if bounds.earliest_epoch <= moment.timestamp() <= time.time() + bounds.ahead_seconds:
            return moment
    raise _Unusual


def _usual_amount(value: Any) -> Decimal:
    kind = type(value)
    if kind is float and 0.0 <= value < _USUAL_AMOUNT_BELOW:
        return Decimal(repr(value)).quantize(CENT, ROUND_HALF_UP)
    if kind is int and 0 <= value < _USUAL_AMOUNT_BELOW:
        return Decimal(value).quantize(CENT, ROUND_HALF_UP)
    if kind is str:
        text = value.strip()
        if not _PLAIN_NUMBER_RE.fullmatch(text):
            raise _Unusual
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _Unusual from None
        if number.is_finite() and 0 <= number < _USUAL_AMOUNT_BELOW:
            return number.quantize(CENT, ROUND_HALF_UP)
    raise _Unusual


def _usual_word(value: Any, words: _Remembered, numbers: dict[int, Any], default: Any) -> Any:
    if value is None:
        return default
    kind = type(value)
    if kind is str:
        return words[value]
    if (kind is int or kind is bool) and value in numbers:
        return numbers[value]
    raise _Unusual


def _usual_float(value: Any, low: float, high: float) -> float | None:
    if value is None:
        return None
    kind = type(value)
    if (kind is float or kind is int) and low <= value <= high:  # NaN and infinities fail one side
        return float(value)
    raise _Unusual


def parse_label(value: Any) -> int:
    """A label value as 1 (fraud) or 0 (legitimate); ValueError if it is none of the accepted spellings."""
    try:
        return _label("label", value)
    except _Invalid as invalid:
        raise ValueError(invalid.reason)


# ---------------------------------------------------------------- a whole frame


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str


def frame_clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
    """Clean a frame of raw canonical columns (index = 1-based row numbers): the valid rows, and every row's errors.

    The same rules as `transaction_clean`, column by column. Missing columns count as empty.
    """
    clean = pd.DataFrame(index=raw.index)
    problems: list[tuple[str, str, pd.Series]] = []
    for name in CANONICAL_FIELDS:
        column = raw[name] if name in raw.columns else pd.Series(np.nan, index=raw.index, dtype="float64")
        clean[name], column_problems = _FRAME_RULES[name](name, column)
        problems.extend((name, reason, mask) for reason, mask in column_problems)
    errors = _row_errors(problems)
    bad = np.zeros(len(raw), dtype=bool)
    for _, _, mask in problems:
        bad |= mask.to_numpy()
    return clean[~bad], errors


def _row_errors(problems: list[tuple[str, str, pd.Series]]) -> list[RowError]:
    order = {name: position for position, name in enumerate(CANONICAL_FIELDS)}
    errors = [
        RowError(int(row), name, reason) for name, reason, mask in problems for row in mask.index[mask.to_numpy()]
    ]
    errors.sort(key=lambda error: (error.row, order[error.field]))
    return errors


def _as_text(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(stripped text, missing mask) for a column of any dtype, spelling numbers as the one-dict path does."""
    if not column.notna().any():  # a column the file does not have (or an empty one): nothing to spell
        return pd.Series("", index=column.index, dtype="str"), pd.Series(True, index=column.index)
    if pd.api.types.is_bool_dtype(column):
        text = column.map({True: "True", False: "False"})
    elif pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        integral = pd.Series(present, index=column.index)
        integral[present] = np.fmod(values[present], 1) == 0  # NaN arithmetic is slow: present values only
        text = column.astype(str).where(~integral, column.where(integral).astype("Int64").astype(str))
    elif pd.api.types.is_numeric_dtype(column):
        text = column.astype(str)
    else:
        text = column.astype("str").str.strip()
    missing = column.isna() | text.isna() | (text == "")
    return text.where(~missing, ""), missing


def _v_required(name: str, missing: pd.Series) -> list[tuple[str, pd.Series]]:
    return [(Reason.REQUIRED, missing)] if name in REQUIRED else []


def _v_text(name: str, column: pd.Series):
    not_text = _not_text(column)
    text, missing = _as_text(column.where(~not_text, "") if not_text.any() else column)
    limit = TEXT_LIMITS[name]
    too_long = text.str.len() > limit
    nul = ~too_long & text.str.contains("\x00", regex=False)
    problems = [(Reason.TEXT, not_text), (Reason.too_long(limit), too_long), (Reason.NUL, nul)]
    return text, _v_required(name, missing & ~not_text) + problems


def _not_text(column: pd.Series) -> pd.Series:
    """Values a text field refuses, as the one-dict path does: booleans, infinities, lists and objects (Parquet's
    nested columns); text and finite numbers are text."""
    if pd.api.types.is_bool_dtype(column):
        return column.notna()
    if pd.api.types.is_float_dtype(column):
        return pd.Series(np.isinf(column.to_numpy(dtype=np.float64)), index=column.index)
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return pd.Series(False, index=column.index)
    scalar = (str, int, float, Decimal, np.number)
    return column.map(
        lambda value: (
            value is not None
            and (isinstance(value, bool | np.bool_) or not isinstance(value, scalar) or _is_infinite(value))
        )
    ).astype(bool)


def _is_infinite(value) -> bool:
    return isinstance(value, float | np.floating) and math.isinf(value)


def nul_rows(column: pd.Series) -> pd.Series:
    """Which values of a file's column hold a NUL character (text only; numbers never do)."""
    if not (pd.api.types.is_string_dtype(column) or column.dtype == object):
        return pd.Series(False, index=column.index)
    return column.astype("str").str.contains("\x00", regex=False) & column.notna()


def attribute_column_problems(column: pd.Series) -> list[tuple[str, pd.Series]]:
    """(reason, rows) of a file's column kept as an attribute, as `attribute_errors` says them for one dict: text
    with a NUL, numbers that are not finite, values that are neither text, numbers nor booleans (Parquet's lists
    and structs, which the one-dict path would check for depth)."""
    if pd.api.types.is_float_dtype(column):
        return [(Reason.NOT_FINITE, pd.Series(np.isinf(column.to_numpy(dtype=np.float64)), index=column.index))]
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return [(Reason.NUL, nul_rows(column))]
    scalar = (str, int, float, Decimal, np.number, np.bool_)
    nested = column.map(lambda value: value is not None and not isinstance(value, scalar)).astype(bool)
    infinite = column.map(_is_infinite).astype(bool)
    return [(Reason.NUL, nul_rows(column.where(~nested))), (Reason.NOT_FINITE, infinite), (Reason.TEXT, nested)]


def row_sizes_over(columns: pd.DataFrame) -> pd.Series:
    """Rows whose attributes would take more than ATTRIBUTES_MAX_BYTES of JSON: each text value's UTF-8 bytes,
    with its key and quotes, and 24 bytes for any other value (a number's longest spelling)."""
    limit = settings.ATTRIBUTES_MAX_BYTES
    sizes = np.full(len(columns), 2, dtype=np.int64)
    for name in columns.columns:
        column = columns[name]
        sizes += len(str(name).encode()) + 6
        if pd.api.types.is_string_dtype(column) or column.dtype == object:
            is_text = (
                column.map(lambda value: isinstance(value, str)).astype(bool) if _mixed(column) else column.notna()
            )
            text = column.where(is_text, "")
            lengths = text.str.len().fillna(0).to_numpy(dtype=np.int64)
            if (lengths * 4 > limit // 2).any():  # may be over: count the bytes, not the characters
                lengths = text.str.encode("utf-8", "surrogatepass").str.len().fillna(0).to_numpy(dtype=np.int64)
            sizes += np.where(is_text.to_numpy(), lengths + 2, 24)
        else:
            sizes += 24
    return pd.Series(sizes > limit, index=columns.index)


def _mixed(column: pd.Series) -> bool:
    """Whether a text-like column holds anything but text (Parquet's object columns may)."""
    return pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty")


def _v_timestamp(name: str, column: pd.Series):
    if pd.api.types.is_datetime64_any_dtype(column):
        moments = column.dt.tz_localize(UTC) if column.dt.tz is None else column.dt.tz_convert(UTC)
        moments = moments.astype("datetime64[us, UTC]")
        return moments, _v_required(name, column.isna()) + [(Reason.timestamp_range(), _outside_window(moments))]
    text, missing = _as_text(column)
    shaped = text.str.match(TIMESTAMP_PATTERN)
    moments = pd.to_datetime(text.where(shaped), format="ISO8601", utc=True, errors="coerce")
    moments = moments.astype("datetime64[us, UTC]")
    not_a_date = ~missing & moments.isna()
    problems = [(Reason.NOT_A_DATE, not_a_date), (Reason.timestamp_range(), _outside_window(moments))]
    return moments, _v_required(name, missing) + problems


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _outside_window(moments: pd.Series) -> pd.Series:
    """Times outside timestamp_window(), compared as microseconds (pandas keeps years Python's datetime cannot)."""
    earliest, latest = timestamp_window()
    micros = moments.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(np.int64)
    low, high = ((end - _EPOCH) // timedelta(microseconds=1) for end in (earliest, latest))
    return pd.Series(moments.notna().to_numpy() & ((micros < low) | (micros > high)), index=moments.index)


def _v_number(name: str, column: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(float values, missing mask, not-a-number mask)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype("float64")
        missing = column.isna()
    else:
        text, missing = _as_text(column)
        values = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
    return values, missing, ~missing & ~np.isfinite(values)


def _v_amount(name: str, column: pd.Series):
    values, missing, nan = _v_number(name, column)
    negative = ~nan & (values < 0)
    too_large = ~nan & (values >= float(MAX_AMOUNT) + 0.005)
    problems = [(Reason.NOT_A_NUMBER, nan), (Reason.NEGATIVE, negative), (Reason.TOO_LARGE, too_large)]
    return values, _v_required(name, missing) + problems


def _v_float_in(low: float, high: float, reason: str):
    def rule(name: str, column: pd.Series):
        values, _, nan = _v_number(name, column)
        outside = ~nan & values.notna() & ((values < low) | (values > high))
        return values.where(~nan), [(Reason.NOT_A_NUMBER, nan), (reason, outside)]

    return rule


def _v_code(pattern: str, reason: str, default=None):
    def rule(name: str, column: pd.Series):
        text, missing = _as_text(column)
        text = text.str.upper()
        wrong = ~missing & ~text.str.fullmatch(pattern)
        fill = default() if default else ""
        return text.where(~missing, fill), [(reason, wrong)]

    return rule


def _choice_keys(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(column):
        return column.map({True: "true", False: "false"}), column.isna()
    text, missing = _as_text(column)
    return text.str.lower(), missing


def _v_channel(name: str, column: pd.Series):
    keys, missing = _choice_keys(column)
    channels = keys.map(CHANNELS)
    unknown = ~missing & channels.isna()
    return channels.where(~missing, "other").astype("str"), [(Reason.CHANNEL, unknown)]


def _v_label(name: str, column: pd.Series):
    keys, missing = _choice_keys(column)
    labels = keys.map(LABELS).astype("float64")
    return labels, [(Reason.LABEL, ~missing & labels.isna())]


# ---------------------------------------------------------------- every field's two rules

# Each canonical field's rule for one value (the API) and for a whole column (files), side by side so that neither
# path misses a field; both give the same verdicts and error texts (tests/transactions/test_validation.py).
_RULES = {
    "transaction_id": (_text, _v_text),
    "timestamp": (_timestamp, _v_timestamp),
    "account_id": (_text, _v_text),
    "amount": (_amount, _v_amount),
    "currency": (
        _code(_CURRENCY_RE, Reason.CURRENCY),
        _v_code(r"[A-Z]{3}", Reason.CURRENCY, default=lambda: settings.DEFAULT_CURRENCY),
    ),
    "merchant_id": (_text, _v_text),
    "merchant_category": (_text, _v_text),
    "channel": (_channel, _v_channel),
    "latitude": (_float_in(-90, 90, Reason.LATITUDE), _v_float_in(-90, 90, Reason.LATITUDE)),
    "longitude": (_float_in(-180, 180, Reason.LONGITUDE), _v_float_in(-180, 180, Reason.LONGITUDE)),
    "location_distance_km": (_float_in(0, math.inf, Reason.NEGATIVE), _v_float_in(0, math.inf, Reason.NEGATIVE)),
    "country": (_code(_COUNTRY_RE, Reason.COUNTRY), _v_code(r"[A-Z]{2}", Reason.COUNTRY)),
    "device_id": (_text, _v_text),
    **{
        f"{place}_latitude": (_float_in(-90, 90, Reason.LATITUDE), _v_float_in(-90, 90, Reason.LATITUDE))
        for place in ("billing", "shipping")
    },
    **{
        f"{place}_longitude": (_float_in(-180, 180, Reason.LONGITUDE), _v_float_in(-180, 180, Reason.LONGITUDE))
        for place in ("billing", "shipping")
    },
    "billing_postal_code": (_text, _v_text),
    "shipping_postal_code": (_text, _v_text),
    **{
        name: (_code(_COUNTRY_RE, Reason.COUNTRY), _v_code(r"[A-Z]{2}", Reason.COUNTRY))
        for name in ("billing_country", "shipping_country", "ip_country")
    },
    "label": (_label, _v_label),
}
_SCALAR_RULES = {name: rules[0] for name, rules in _RULES.items()}
_FRAME_RULES = {name: rules[1] for name, rules in _RULES.items()}
