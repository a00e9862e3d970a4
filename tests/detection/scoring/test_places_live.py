"""Card-not-present places in live scoring and in training from the store: one feature pipeline.

A model trained from stored rows with places has the place features; a reshipping order scored live (the single and
the batch endpoint) gets the features, the score and the reasons the backtest's file path computes on the same rows
with the same model; rows without places give the frame they gave before places existed.
"""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from detection.backtests.files import load_frame
from detection.engine.features import CARD_NOT_PRESENT_FEATURES, build_features
from detection.engine.frame import PLACE_COLUMNS, PLACE_FLOAT
from detection.models import Score
from detection.scoring import adapters, registry
from detection.scoring.adapters import StoredRows
from detection.training.services import model_version_activate, model_version_train
from tests.detection.conftest import history_source, store_history, store_transaction
from tests.factories import default_organisation
from transactions.generator import generate
from transactions.models import Transaction
from transactions.services import transactions_ingest_rows

START = datetime(2026, 3, 1, tzinfo=UTC)
FIELDS = ("transaction_id", "timestamp", "account_id", "amount", "currency", "merchant_id", "merchant_category")
FIELDS += ("channel", "latitude", "longitude", "location_distance_km", "country", "device_id", *PLACE_COLUMNS)
PLACE_WORDS = ("shipped", "shipping place", "IP address")


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    """Three weeks of an e-commerce share with reshipping frauds; its first reshipping card's first two orders."""
    return generate(accounts=60, days=21, seed=3, start=START, ecommerce_share=0.6)


def _targets(frame: pd.DataFrame) -> tuple[int, int]:
    reshipped = frame.index[frame["anomaly_type"] == "reshipping"]
    first_card = frame.loc[reshipped[-3:], "account_id"].iloc[0]
    orders = [i for i in reshipped[-3:] if frame.at[i, "account_id"] == first_card]
    return orders[0], orders[1]


def _payload(row: pd.Series) -> dict:
    """A row as a sender posts it: no label; a missing place left out."""
    out = {}
    for name in FIELDS:
        value = row[name]
        if name == "timestamp":
            value = value.isoformat()
        if isinstance(value, float) and np.isnan(value):
            continue
        out[name] = value.item() if hasattr(value, "item") else value
    return out


@pytest.fixture
def trained(db, generated):
    """The rows before the first reshipping target stored through the ingest, a model trained on them, active."""
    first, _ = _targets(generated)
    rows = [_payload(row) for _, row in generated.iloc[:first].iterrows()]
    results = transactions_ingest_rows(source=history_source(), rows=rows)
    assert not [r.errors for r in results if r.errors]
    registry.active_model_changed()
    version = model_version_train(organisation=default_organisation(), seed=0)
    model_version_activate(version=version)
    registry.active_model_changed()
    yield version
    registry.active_model_changed()


def test_a_model_trained_from_stored_rows_with_places_has_the_place_features(trained):
    assert set(CARD_NOT_PRESENT_FEATURES) <= set(trained.feature_names)
    assert registry.version_detector(trained).spec.card_not_present


def _backtest(generated: pd.DataFrame, rows: list[int], detector, tmp_path):
    """The backtest's path: the same rows written to a file, read back by its reader (places mapped), scored."""
    path = tmp_path / "rows.csv"
    table = generated.loc[rows, [*FIELDS, "label"]].assign(label=np.nan)
    table.to_csv(path, index=False)
    mapping = {name: name for name in FIELDS if name not in ("transaction_id", "currency", "device_id")}
    frame, _ = load_frame(path, mapping=mapping, label="label")
    return frame, detector.score_frame(frame)


def test_reshipping_orders_scored_live_get_the_backtests_features_score_and_reasons(
    trained, generated, scorer, tmp_path
):
    first, second = _targets(generated)
    single = scorer.post("/api/v1/transactions/score", _payload(generated.loc[first]), format="json")
    batch = scorer.post(
        "/api/v1/transactions/score/batch", {"transactions": [_payload(generated.loc[second])]}, format="json"
    )
    assert single.status_code in (200, 201), single.content
    assert batch.status_code == 200, batch.content
    answers = [single.json(), batch.json()["results"][0]]

    detector = registry.version_detector(trained)
    frame, output = _backtest(generated, [*range(first), first, second], detector, tmp_path)
    at = {name: len(frame) - 2 + k for k, name in enumerate(("first", "second"))}
    for k, tx_id in enumerate(generated.loc[[first, second], "transaction_id"]):
        row = at["first" if k == 0 else "second"]
        score = Score.objects.get(transaction__transaction_id=tx_id)
        assert score.score == pytest.approx(round(float(output.score[row]), 6), abs=1e-6)
        assert answers[k]["reasons"] == score.reasons == output.reasons[row]
        # The features the live path reads from the store: the backtest's, exactly.
        pk = Transaction.objects.get(transaction_id=tx_id).pk
        columns, targets = adapters.frame_for_stored(StoredRows(pks=[pk]), organisation_id=default_organisation().pk)
        live = build_features(columns, target_mask=targets, spec=detector.spec)
        np.testing.assert_array_equal(live.X[0], output.features.X[row])
    places = {name: output.features.column(name)[at["first"]] for name in CARD_NOT_PRESENT_FEATURES}
    assert places["a_new_shipping_place"] == 1 and places["ip_country_mismatch"] == 1
    assert places["billing_shipping_km_log"] > 0 and places["a_shipping_far_km_log"] > 0
    assert any(word in reason for reason in answers[0]["reasons"] for word in PLACE_WORDS), answers[0]["reasons"]


def test_the_try_page_frame_of_an_order_carries_its_places(trained, generated):
    first, _ = _targets(generated)
    row = generated.loc[first]
    trial = {name: row[name] for name in FIELDS if name in adapters._ALL_TEXT or name in adapters._LOCATION_COLUMNS}
    trial |= {"timestamp": row["timestamp"].to_pydatetime(), "amount": row["amount"]}
    trial = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in trial.items()}

    columns, targets = adapters.frame_with_unsaved(trial, organisation_id=default_organisation().pk)

    detector = registry.version_detector(trained)
    features = build_features(columns, target_mask=targets, spec=detector.spec)
    assert features.column("ip_country_mismatch")[0] == 1
    assert features.column("a_new_shipping_place")[0] == 1


def test_the_try_page_scores_an_order_with_its_places_as_the_single_endpoint_does(
    trained, generated, scorer, analyst_client
):
    first, _ = _targets(generated)
    payload = _payload(generated.loc[first])
    payload["timestamp"] = generated.loc[first, "timestamp"].floor("s").isoformat()  # the form takes seconds
    typed = {name: payload[name] for name in ("account_id", "merchant_id", "merchant_category", "channel", "country")}
    typed |= {name: payload[name] for name in (*PLACE_COLUMNS, "latitude", "longitude") if name in payload}
    typed |= {"amount": f"{payload['amount']:.2f}", "timestamp": payload["timestamp"][:19]}

    tried = analyst_client.post(reverse("detection:try"), typed)
    stored = scorer.post("/api/v1/transactions/score", payload | {"amount": typed["amount"]}, format="json")

    assert tried.status_code == 200, tried.content
    assert stored.status_code in (200, 201), stored.content
    score, answer = tried.context["results"][0].score, stored.json()
    assert score.score == pytest.approx(answer["score"], abs=1e-6)
    assert score.reasons == answer["reasons"]
    assert any(word in reason for reason in score.reasons for word in PLACE_WORDS), score.reasons


def test_a_frame_of_rows_without_places_has_no_place_column(db):
    stored = store_history(accounts=5, days=3)

    columns, _ = adapters.frame_for_transactions(stored, organisation_id=default_organisation().pk)
    window = adapters.frame_for_window(organisation_id=default_organisation().pk, since=None, until=None)

    assert set(PLACE_COLUMNS).isdisjoint(columns)
    assert set(PLACE_COLUMNS).isdisjoint(window.columns)


def test_a_frame_carries_only_the_places_its_rows_have(db):
    tx = store_transaction(account_id="acct-001", amount="20.00", at=START, ip_country="NL", shipping_latitude=52.5)

    columns, _ = adapters.frame_for_transactions([tx], organisation_id=default_organisation().pk)

    assert {name for name in PLACE_COLUMNS if name in columns} == {"ip_country", "shipping_latitude"}
    assert columns["ip_country"].tolist() == ["NL"] and columns["shipping_latitude"].tolist() == [52.5]
    assert set(PLACE_FLOAT) & set(columns) == {"shipping_latitude"}
