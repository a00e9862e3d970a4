"""The catalogue's columns against a hand computation on a small frame with known history."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detection.engine.detector import ScoreOutput
from detection.engine.features import FeatureSpec, build_features
from detection.engine.frame import Frame
from rules.fields import FIELDS, completions, rule_columns, rule_schema, stored_rows
from rules.language import Type, compile_expression

DAY = 86400
T0 = 1_700_000_000  # Tuesday 2023-11-14 22:13:20 UTC
NAN = float("nan")
PARIS, PARIS_2, BERLIN = (48.85, 2.35), (48.86, 2.36), (52.52, 13.40)


def _frame() -> dict[str, np.ndarray]:
    rows = [
        # ts, account, merchant, amount, country, channel, (lat, lon), label, label known at
        (T0, "a", "m1", 10.0, "FR", "online", PARIS, 1.0, T0 + 100),
        (T0 + 600, "a", "m1", 20.0, "FR", "online", PARIS, NAN, NAN),
        (T0 + 7200, "a", "m2", 40.0, "FR", "in_person", PARIS_2, NAN, NAN),
        (T0 + 2 * DAY, "a", "m1", 100.0, "DE", "online", BERLIN, NAN, NAN),
        (T0 + 2 * DAY + 30, "b", "m1", 5.0, "", "atm", (NAN, NAN), NAN, NAN),
        (T0 + 2 * DAY + 60, "c", "", 7.0, "FR", "online", PARIS, NAN, NAN),
    ]
    columns = list(zip(*rows, strict=True))
    objects = lambda values: np.array(values, dtype=object)  # noqa: E731
    return {
        "row_id": np.arange(1, len(rows) + 1, dtype=np.int64),
        "ts": np.array(columns[0], dtype=np.int64),
        "account_id": objects(columns[1]),
        "merchant_id": objects(columns[2]),
        "amount": np.array(columns[3]),
        "country": objects(columns[4]),
        "channel": objects(columns[5]),
        "latitude": np.array([p[0] for p in columns[6]]),
        "longitude": np.array([p[1] for p in columns[6]]),
        "label": np.array(columns[7]),
        "label_known_ts": np.array(columns[8], dtype=np.float64),
        "attr_mcc": objects(["5411", None, 7, "x", None, "5999"]),
        "attr_card": objects([{"bin": "411111"}, None, {}, {"bin": "550000"}, {"bin": 4}, "no"]),
        "attr_device-type": objects([None, None, None, "phone", None, "tablet"]),
    }


TARGETS = np.array([3, 4, 5])  # rows 3 (a in Berlin), 4 (b, new to m1), 5 (c, no merchant)


def _output(frame, spec: FeatureSpec | None = None, *, with_features: bool = True) -> ScoreOutput:
    mask = np.zeros(len(frame["row_id"]), dtype=bool)
    mask[TARGETS] = True
    features = build_features(frame, target_mask=mask, spec=spec or FeatureSpec()) if with_features else None
    return ScoreOutput(
        score=np.array([0.2, 0.95, 0.5]),
        components={"tail": np.array([0.1, 0.9, 0.4]), "unsupervised": np.array([0.2, 0.95, 0.5])},
        rows=TARGETS,
        features=features,
    )


def _columns(names, frame=None, output=None):
    frame = _frame() if frame is None else frame
    output = _output(frame) if output is None else output
    return rule_columns(names, frame=frame, rows=TARGETS, output=output, risk_levels=["low", "critical", "medium"])


def _haversine_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def test_transaction_fields_with_missing_text_as_none():
    columns = _columns(["amount", "account_id", "merchant_id", "country", "channel", "latitude", "merchant_category"])
    assert columns["amount"].tolist() == [100.0, 5.0, 7.0]
    assert columns["account_id"].tolist() == ["a", "b", "c"]
    assert columns["merchant_id"].tolist() == ["m1", "m1", None]
    assert columns["country"].tolist() == ["DE", None, "FR"]
    assert columns["channel"].tolist() == ["online", "atm", "online"]
    assert np.isnan(columns["latitude"][1]) and columns["latitude"][0] == BERLIN[0]
    assert columns["merchant_category"].tolist() == [None, None, None]  # the frame has no such column


def test_hour_and_weekday_in_utc():
    columns = _columns(["hour", "weekday"])
    assert columns["hour"].tolist() == [22.0, 22.0, 22.0]
    assert columns["weekday"].tolist() == [4.0, 4.0, 4.0]  # Thursday 2023-11-16


def test_account_counts_and_sums_in_real_units():
    names = ["count_1h_account", "count_24h_account", "count_7d_account", "count_30d_account", "sum_7d_account"]
    columns = _columns(names)
    # Row 3: the account's three earlier transactions are 2 days minus 2 hours and more before it.
    assert [columns[n][0] for n in names] == [0.0, 0.0, 3.0, 3.0, 70.0]
    assert [columns[n][1] for n in names] == [0.0, 0.0, 0.0, 0.0, 0.0]  # account b has no history


def test_mean_amount_absent_from_the_models_spec_is_computed():
    columns = _columns(["mean_amount_7d_account", "mean_amount_24h_account"])
    assert columns["mean_amount_7d_account"][0] == pytest.approx(70 / 3, abs=0.01)
    assert columns["mean_amount_24h_account"][0] == 0.0


def test_amount_against_the_typical_amount_is_a_ratio():
    columns = _columns(["amount_vs_typical_account", "amount_share_24h_account"])
    typical = math.exp(np.mean(np.log1p([10.0, 20.0, 40.0])))
    assert columns["amount_vs_typical_account"][0] == pytest.approx((1 + 100.0) / typical, rel=1e-4)
    assert columns["amount_vs_typical_account"][1] == pytest.approx(1.0)  # no history
    assert columns["amount_share_24h_account"][0] == pytest.approx(1.0)  # nothing else in 24 hours


def test_seconds_since_previous_and_its_cap():
    columns = _columns(["seconds_since_previous_account"])
    assert columns["seconds_since_previous_account"].tolist() == [2 * DAY - 7200, 30 * DAY, 30 * DAY]


def test_distance_from_the_usual_place_in_km_and_missing_without_coordinates():
    usual = (np.mean([PARIS[0], PARIS[0], PARIS_2[0]]), np.mean([PARIS[1], PARIS[1], PARIS_2[1]]))
    distance = _columns(["distance_from_usual_km"])["distance_from_usual_km"]
    assert distance[0] == pytest.approx(_haversine_km(BERLIN, usual), rel=1e-4)
    assert np.isnan(distance[1])  # no coordinates
    assert distance[2] == 0.0  # located, but no located history


def test_first_merchant_country_channel_for_the_account():
    names = ["first_merchant_for_account", "first_country_for_account", "first_channel_for_account"]
    columns = _columns(names)
    assert [columns[n].tolist() for n in names] == [[False, False, False], [True, False, False], [False] * 3]
    assert all(columns[n].dtype == bool for n in names)


def test_known_frauds_count_labels_known_before_the_transaction():
    columns = _columns(["known_frauds_30d_account", "known_frauds_7d_merchant"])
    assert columns["known_frauds_30d_account"].tolist() == [1.0, 0.0, 0.0]
    assert columns["known_frauds_7d_merchant"][:2].tolist() == [1.0, 1.0]


def test_merchant_features_and_missing_without_a_merchant():
    names = ["count_24h_merchant", "count_7d_merchant", "new_accounts_7d_merchant"]
    columns = _columns(names)
    assert [columns[n][0] for n in names] == [0.0, 2.0, 1.0]
    # Row 4: m1's rows 0, 1 and 3 are before it; only row 0 was an account new to m1.
    assert [columns[n][1] for n in names] == [1.0, 3.0, 1.0]
    assert all(np.isnan(columns[n][2]) for n in names)


def test_model_score_risk_level_and_components():
    columns = _columns(["score", "risk_level", "score_tail", "score_supervised"])
    assert columns["score"].tolist() == [0.2, 0.95, 0.5]
    assert columns["risk_level"].tolist() == ["low", "critical", "medium"]
    assert columns["score_tail"].tolist() == [0.1, 0.9, 0.4]
    assert np.isnan(columns["score_supervised"]).all()  # no supervised model: missing


def test_scores_are_read_as_stored_to_six_decimals():
    frame = _frame()
    output = _output(frame)
    output.score = np.array([0.89999997, 0.1234564, 0.5], dtype=np.float32)
    assert _columns(["score"], frame, output)["score"].tolist() == [0.9, 0.123456, 0.5]


def test_attributes_keep_their_type_and_nested_keys_are_read():
    columns = _columns(["attributes.mcc", "attributes.card.bin", "attributes.absent", "attributes.device-type"])
    assert columns["attributes.mcc"].tolist() == ["x", None, "5999"]
    assert columns["attributes.device-type"].tolist() == ["phone", None, "tablet"]
    assert columns["attributes.card.bin"].tolist() == ["550000", 4, None]
    assert columns["attributes.absent"].tolist() == [None, None, None]


def test_the_models_features_and_computed_ones_agree():
    frame = _frame()
    names = [n for n, f in FIELDS.items() if f.group in ("account", "merchant")]
    given = _columns(names, frame, _output(frame, FeatureSpec.infer(Frame.of(frame))))
    computed = _columns(names, frame, _output(frame, with_features=False))
    for name in names:
        np.testing.assert_allclose(given[name].astype(float), computed[name].astype(float), rtol=1e-6, err_msg=name)


def test_every_catalogue_name_is_computable_with_its_type():
    columns = _columns(list(FIELDS))
    for name, field in FIELDS.items():
        values = columns[name]
        assert len(values) == len(TARGETS), name
        expected = {Type.NUMBER: "f", Type.STRING: "O", Type.BOOLEAN: "b"}[field.type]
        assert values.dtype.kind == expected, name


def test_a_frame_object_and_a_dataframe_give_the_same_columns():
    frame = _frame()
    names = ["amount", "country", "hour", "count_7d_account", "first_country_for_account", "attributes.mcc"]
    output = _output(frame)
    from_dict = _columns(names, frame, output)
    from_frame = _columns(names, Frame.of(frame), output)
    from_pandas = _columns(names, pd.DataFrame(frame), output)
    for name in names[:-1]:
        assert from_frame[name].tolist() == from_dict[name].tolist() == from_pandas[name].tolist(), name
    assert from_pandas["attributes.mcc"].tolist() == ["x", None, "5999"]
    # The engine's Frame keeps attributes as numbers only: text there is missing.
    mcc = from_frame["attributes.mcc"]
    assert np.isnan(mcc[:2]).all() and mcc[2] == 5999.0


def test_only_the_columns_asked_for_are_given():
    assert set(_columns(["amount", "attributes.mcc"])) == {"amount", "attributes.mcc"}


def test_an_unknown_name_is_refused():
    with pytest.raises(KeyError, match="not in the rules' catalogue"):
        _columns(["amout"])


def test_every_catalogue_name_compiles_against_the_schema():
    schema = rule_schema({"blocked_merchants": "merchant"})
    for name in FIELDS:
        assert compile_expression(f"{name} != null", schema).fields == {name}


def test_the_schema_checks_list_kinds_by_field():
    schema = rule_schema({"blocked_merchants": "merchant", "blocked_countries": "country"})
    assert schema.kinds["merchant_id"] == "merchant"
    assert compile_expression("country in lists.blocked_countries", schema).lists == {"blocked_countries"}


def test_a_rule_over_catalogue_columns():
    frame = _frame()
    schema = rule_schema({})
    compiled = compile_expression("amount > 50 and first_country_for_account and count_7d_account >= 3", schema)
    columns = _columns(compiled.fields, frame)
    assert compiled.evaluate(columns, {}).matched.tolist() == [True, False, False]


def test_completions_name_every_field_list_and_function():
    offered = {c["name"]: c for c in completions({"blocked_merchants": "merchant"})}
    assert set(FIELDS) <= set(offered)
    assert offered["lists.blocked_merchants"]["type"] == "list"
    assert offered["amount"] == {
        "name": "amount",
        "type": "number",
        "description": FIELDS["amount"].description,
        "group": "transaction",
    }
    assert {"attributes.", "lower(", "abs("} <= set(offered)


def test_the_user_guide_lists_every_name():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text()
    section = guide[guide.index("## Rule language") :]
    rows = {name: f"| `{name}` | {field.type} | {field.description}" for name, field in FIELDS.items()}
    assert [name for name, row in rows.items() if row not in section] == []


def test_no_scored_rows_give_empty_columns():
    output = ScoreOutput(score=np.zeros(0), components={}, rows=np.zeros(0, dtype=np.int64), features=None)
    columns = rule_columns(
        [*FIELDS, "attributes.card.bin"],
        frame=_frame(),
        rows=np.zeros(0, dtype=np.int64),
        output=output,
        risk_levels=[],
    )
    assert {len(values) for values in columns.values()} == {0}


def test_text_columns_given_as_categoricals_read_alike():
    frame = _frame()
    categorical = {**frame, **{name: pd.Categorical(frame[name]) for name in ("country", "merchant_id", "channel")}}
    output = _output(frame)
    text = ["country", "merchant_id", "channel"]
    assert [v.tolist() for v in _columns(text, categorical, output).values()] == [
        v.tolist() for v in _columns(text, frame, output).values()
    ]
    counts = _columns(["count_24h_merchant"], categorical, output)["count_24h_merchant"]
    np.testing.assert_array_equal(counts, [0.0, 1.0, np.nan])


def _stored(devices, currencies=None) -> dict[str, np.ndarray]:
    n = len(devices)
    return {
        "device_id": np.array(devices, dtype=object),
        "currency": np.array(currencies or ["EUR"] * n, dtype=object),
    }


def test_device_and_currency_are_read_from_the_stored_columns_with_no_device_missing():
    frame = _frame()
    stored = _stored(["d1", "d1", "d2", "d9", "", "d3"], ["EUR", "EUR", "EUR", "USD", "EUR", "GBP"])
    columns = rule_columns(
        ["device_id", "currency"],
        frame=frame,
        rows=TARGETS,
        output=_output(frame),
        risk_levels=["low"] * 3,
        stored=stored,
    )
    assert columns["device_id"].tolist() == ["d9", None, "d3"]
    assert columns["currency"].tolist() == ["USD", "EUR", "GBP"]


def test_first_device_is_true_only_for_a_device_the_accounts_history_never_used():
    frame = _frame()
    # Account a used d1 then d2 before row 3; b (row 4) has no history; c (row 5) has no history either.
    for devices, expected in (
        (["d1", "d1", "d2", "d9", "d4", "d3"], [True, False, False]),
        (["d1", "d1", "d2", "d2", "d4", "d3"], [False, False, False]),
        (["d1", "d1", "d2", "", "d4", "d3"], [False, False, False]),  # no device: never new
    ):
        columns = rule_columns(
            ["first_device_for_account"],
            frame=frame,
            rows=TARGETS,
            output=_output(frame),
            risk_levels=["low"] * 3,
            stored=_stored(devices),
        )
        assert columns["first_device_for_account"].tolist() == expected, devices


def test_first_device_reads_the_device_as_first_merchant_reads_the_merchant():
    frame = _frame()
    names = ["first_device_for_account", "first_merchant_for_account"]
    rows = np.array([1, 2, 3, 4, 5])
    output = ScoreOutput(score=np.zeros(5), components={}, rows=rows, features=None)
    columns = rule_columns(
        names, frame=frame, rows=rows, output=output, risk_levels=["low"] * 5, stored=_stored(frame["merchant_id"])
    )
    assert columns["first_device_for_account"].tolist() == columns["first_merchant_for_account"].tolist()
    assert columns["first_device_for_account"].any()


def test_first_device_follows_the_order_of_the_rows_given():
    frame = _frame()
    rows = np.array([5, 3, 4])
    output = ScoreOutput(score=np.zeros(3), components={}, rows=rows, features=None)
    stored = _stored(["d1", "d1", "d2", "d9", "d4", "d3"])
    columns = rule_columns(
        ["first_device_for_account"], frame=frame, rows=rows, output=output, risk_levels=["low"] * 3, stored=stored
    )
    assert columns["first_device_for_account"].tolist() == [False, True, False]


def test_stored_rows_are_none_unless_a_name_reads_a_stored_field():
    assert stored_rows(["amount", "first_merchant_for_account"], frame=_frame(), rows=TARGETS) is None


def test_stored_rows_are_the_scored_rows_for_the_device_and_currency():
    assert stored_rows(["currency", "device_id"], frame=_frame(), rows=TARGETS).tolist() == [3, 4, 5]


def test_stored_rows_add_the_accounts_last_30_days_for_first_device():
    frame = _frame()
    frame["ts"][0] = T0 - 40 * DAY  # a's first row falls out of the 30 days before the earliest target
    assert stored_rows(["first_device_for_account"], frame=frame, rows=np.array([3, 4])).tolist() == [1, 2, 3, 4]


def test_merchant_counts_and_sums_over_each_window_and_missing_without_a_merchant():
    names = [f"{what}_{w}_merchant" for w in ("1h", "24h", "7d", "30d") for what in ("count", "sum")]
    columns = _columns(names)
    # Row 3 (m1, two days after m1's first two rows); row 4 (m1, 30 s after row 3); row 5 names no merchant.
    assert [columns[n][0] for n in names] == [0.0, 0.0, 0.0, 0.0, 2.0, 30.0, 2.0, 30.0]
    assert [columns[n][1] for n in names] == [1.0, 100.0, 1.0, 100.0, 3.0, 130.0, 3.0, 130.0]
    assert all(np.isnan(columns[n][2]) for n in names)


def test_merchant_activity_leaves_the_models_features_as_they_were():
    frame = _frame()
    mask = np.zeros(len(frame["row_id"]), dtype=bool)
    mask[TARGETS] = True
    before = build_features(frame, target_mask=mask, spec=FeatureSpec())
    _columns(["sum_7d_merchant", "first_device_for_account"], frame=frame)
    after = build_features(frame, target_mask=mask, spec=FeatureSpec())
    assert before.names == after.names and np.array_equal(before.X, after.X)
