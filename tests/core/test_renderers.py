"""The API's JSON renderer writes what DRF's JSONRenderer writes (same JSON values), faster."""

import datetime as dt
import decimal
import json
import uuid

import numpy as np
import pytest
from django.db import models
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from core.renderers import FastJSONRenderer


class Level(models.TextChoices):
    HIGH = "high", "High"


WHEN = dt.datetime(2026, 11, 28, 10, 1, 2, 345678, tzinfo=dt.UTC)
ANSWERS = [
    {
        "results": [
            {
                "index": 0,
                "created": True,
                "transaction_id": "tx-é-1",
                "score": 0.973412,
                "risk_level": Level.HIGH,
                "is_anomaly": True,
                "reasons": ["large amount (9,999.00)", "nouveau commerçant"],
                "model_version": 3,
            }
        ],
        "errors": [{"index": 1, "transaction_id": None, "errors": [{"field": "amount", "reason": "Not a number."}]}],
        "counts": {"received": 2, "created": 1, "existing": 0, "invalid": 1},
    },
    {"small": 1e-05, "large": 1e16, "negative zero": -0.0, "tiny": 5e-324, "big": 2**63 - 1},
    {"when": WHEN, "naive": dt.datetime(2026, 1, 2, 3, 4, 5), "day": dt.date(2026, 1, 2), "gap": dt.timedelta(1)},
    {"money": decimal.Decimal("12.30"), "id": uuid.UUID(int=7), "lazy": gettext_lazy("Fraud")},
    {"numpy": [np.float64(0.25), np.int64(3), np.bool_(True), np.array([1, 2])]},
    {"separators": "a\u2028b\u2029c", "quote": 'say "hi"\n\t\\', "control": "\x01"},
    [],
    "text",
]


@pytest.mark.parametrize("data", ANSWERS)
def test_it_writes_the_json_values_drf_writes(data):
    fast, drf = FastJSONRenderer().render(data), JSONRenderer().render(data)
    assert json.loads(fast) == json.loads(drf)
    assert b"\xe2\x80\xa8" not in fast and b"\xe2\x80\xa9" not in fast  # escaped, as DRF does: valid JavaScript


def test_a_batch_answer_is_written_by_orjson_byte_for_byte_as_drf_writes_it():
    # Floats as the API gives them (rounded scores) and text: the same bytes, not only the same values.
    assert FastJSONRenderer().render(ANSWERS[0]) == JSONRenderer().render(ANSWERS[0])


@pytest.mark.parametrize("data", [{"huge": 2**70}, {1: "integer key"}], ids=["beyond 64 bits", "non-string key"])
def test_what_orjson_cannot_write_is_written_by_drf(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_a_lone_surrogate_drf_cannot_write_is_written_escaped():
    with pytest.raises(UnicodeEncodeError):
        JSONRenderer().render({"id": "\ud800"})

    assert FastJSONRenderer().render({"id": "\ud800", "n": 1}) == b'{"id":"\\ud800","n":1}'


def test_an_indented_answer_is_drfs():
    context = {"indent": 2}
    data = ANSWERS[0]
    assert FastJSONRenderer().render(data, "application/json", context) == JSONRenderer().render(
        data, "application/json", context
    )


def test_nothing_renders_as_nothing():
    assert FastJSONRenderer().render(None) == b""


def test_a_nan_is_written_null_where_drf_wrote_invalid_json():
    assert json.loads(FastJSONRenderer().render({"auc": float("nan")})) == {"auc": None}


def test_the_api_answers_with_it(settings):
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_RENDERER_CLASSES[0] is FastJSONRenderer


def test_an_ordinary_answer_does_not_go_through_drfs_renderer(monkeypatch):
    expected = JSONRenderer().render(ANSWERS[0])

    def refuse(*args, **kwargs):
        raise AssertionError("DRF's renderer was used")

    monkeypatch.setattr(JSONRenderer, "render", refuse)
    assert FastJSONRenderer().render(ANSWERS[0]) == expected
