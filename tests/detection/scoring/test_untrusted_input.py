"""Untrusted input through the partner API (issue #22): whatever a body holds, a bad item is that item's 4xx error
naming its field, the good ones are stored and scored, and nothing answers 500."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from detection.models import Score
from tests.detection.conftest import prototype_body
from tests.detection.jobs.jobs_data import csv_upload, job_frame
from tests.detection.jobs.test_jobs import run_job, upload
from transactions.models import Transaction
from transactions.validation import Reason

SCORE = "/api/v1/transactions/score"
BATCH = "/api/v1/transactions/score/batch"


def post_raw(api, url: str, text: str):
    """A body as written, for what json.dumps would not write (lone surrogates escaped, numbers past float)."""
    return api.post(url, text, content_type="application/json")


def stored_ids(api) -> set[str]:
    return set(Transaction.objects.filter(source=api.token.source).values_list("transaction_id", flat=True))


def test_a_year_one_timestamp_is_a_400_naming_the_timestamp(scorer, active_model):
    response = scorer.post(SCORE, prototype_body(timestamp="0001-01-01 00:00:00"), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [{"field": "timestamp", "reason": Reason.timestamp_range(), "code": "invalid"}]
    assert stored_ids(scorer) == set()


def test_one_bad_item_of_each_kind_is_that_items_error_and_every_good_one_is_stored_and_scored(scorer, active_model):
    good = [json.dumps(prototype_body(n)) for n in (1, 3, 5, 7, 9, 11, 13)]
    bad = [
        "5",
        json.dumps(prototype_body(2, timestamp="0001-01-01T00:00:00")),
        json.dumps(prototype_body(4)).replace('"user_id": 1234', '"user_id": "\\ud800"'),
        json.dumps(prototype_body(6)).replace('"total_amount_24h": 300.0', '"total_amount_24h": 1e309'),
        json.dumps(prototype_body(8, user_id=["a"])),
        json.dumps(prototype_body(10, amount="1_000")),
        json.dumps(prototype_body(12, attributes={"deep": {"a": {"b": {"c": {"d": {"e": 1}}}}}})),
    ]
    items = [item for pair in zip(good, bad, strict=False) for item in pair] + good[len(bad) :]

    response = post_raw(scorer, BATCH, '{"transactions": [' + ", ".join(items) + "]}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(e["index"], [f["field"] for f in e["errors"]]) for e in body["errors"]] == [
        (1, [None]),
        (3, ["timestamp"]),
        (5, ["account_id"]),
        (7, ["total_amount_24h"]),
        (9, ["account_id"]),
        (11, ["amount"]),
        (13, ["deep"]),
    ]
    assert [r["index"] for r in body["results"]] == [0, 2, 4, 6, 8, 10, 12]
    assert body["counts"] == {"received": 14, "created": 7, "existing": 0, "invalid": 7}
    assert stored_ids(scorer) == {f"TXN_{n:08d}" for n in (1, 3, 5, 7, 9, 11, 13)}
    assert Score.objects.filter(transaction__source=scorer.token.source).count() == 7


def test_a_list_as_account_id_is_refused_not_stored_as_its_python_text(scorer, active_model):
    response = scorer.post(SCORE, prototype_body(user_id=["a"]), format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "account_id", "reason": Reason.TEXT, "code": "invalid"}
    assert not Transaction.objects.filter(account_id="['a']").exists()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            json.dumps(prototype_body()).replace('"total_amount_24h": 300.0', '"total_amount_24h": 1e309'),
            "total_amount_24h",
        ),
        (json.dumps(prototype_body(amount="1_000")), "amount"),
        (json.dumps(prototype_body(note="a\x00b")), "note"),
        (json.dumps(prototype_body()).replace('"user_id": 1234', '"user_id": "x\\udfff"'), "account_id"),
    ],
)
def test_a_single_score_of_a_bad_value_is_a_400_naming_its_field(scorer, active_model, text, field):
    response = post_raw(scorer, SCORE, text)

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_attributes_nested_500_deep_are_a_400_naming_the_attribute(scorer, active_model):
    text = json.dumps(prototype_body()).replace('"user_id": 1234', '"user_id": 1234, "deep": ' + "[" * 500 + "]" * 500)

    response = post_raw(scorer, SCORE, text)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [{"field": "deep", "reason": Reason.too_deep(), "code": "invalid"}]


def test_a_body_nested_deeper_than_the_json_parser_follows_is_a_400(scorer, active_model):
    response = post_raw(scorer, BATCH, '{"transactions": [' + "[" * 100_000 + "]" * 100_000 + "]}")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["reason"] == "JSON parse error - the body is nested too deeply."


@pytest.mark.parametrize("path", ["/api/v1/transactions/a%00b", "/api/v1/transactions/a%00b/label"])
def test_a_nul_in_the_path_is_a_400_naming_the_transaction_id(scorer, active_model, path):
    response = scorer.post(path, {"label": "fraud"}, format="json") if path.endswith("label") else scorer.get(path)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [{"field": "transaction_id", "reason": Reason.NUL, "code": "invalid"}]


# ---------------------------------------------------------------- rows stored by an older release


def stored_before_the_rules(api, transaction_id: str) -> Transaction:
    """A row as an older release stored it: year 1, which the ingest rules now refuse."""
    return Transaction.objects.create(
        source=api.token.source,
        transaction_id=transaction_id,
        timestamp=datetime(1, 1, 1, tzinfo=UTC),
        account_id="acct-001",
        amount=Decimal("10.00"),
    )


def test_a_year_one_row_stored_before_the_rules_is_refused_at_scoring_not_a_500(scorer, active_model):
    stored_before_the_rules(scorer, "OLD")

    response = scorer.post(SCORE, prototype_body(transaction_id="OLD"), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "timestamp"
    assert response.json()["errors"][0]["code"] == "unscorable"


def test_a_batch_resending_a_year_one_row_reports_it_and_scores_the_others(scorer, active_model):
    stored_before_the_rules(scorer, "OLD")
    items = [prototype_body(1), prototype_body(transaction_id="OLD"), prototype_body(3)]

    response = scorer.post(BATCH, {"transactions": items}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["index"] for r in body["results"]] == [0, 2]
    assert [(e["index"], e["transaction_id"], e["errors"][0]["code"]) for e in body["errors"]] == [
        (1, "OLD", "unscorable")
    ]
    assert body["counts"] == {"received": 3, "created": 2, "existing": 0, "invalid": 1}


def test_a_job_including_a_year_one_row_finishes_and_scores_every_other_row(scorer, active_model, settings):
    settings.JOB_CHUNK_ROWS = 10
    stored_before_the_rules(scorer, "OLD")
    frame = job_frame(12, bad=False)
    frame.loc[1, "transaction_id"] = "OLD"

    job = run_job(upload(scorer, csv_upload(frame)).json()["id"])

    assert (job.status, job.error) == ("done", "")
    scored = set(
        Score.objects.filter(transaction__source=scorer.token.source).values_list(
            "transaction__transaction_id", flat=True
        )
    )
    assert scored == set(frame["transaction_id"]) - {"OLD"}


def test_attributes_holding_lists_of_one_length_are_stored_and_scored(scorer, active_model):
    single = scorer.post(SCORE, prototype_body(100, tags=["a"]), format="json")
    batch = scorer.post(BATCH, {"transactions": [prototype_body(n, tags=[n, n]) for n in range(1, 80)]}, format="json")

    assert single.status_code == 201, single.content
    assert batch.status_code == 200, batch.content
    assert batch.json()["counts"]["created"] == 79
    assert Transaction.objects.get(source=scorer.token.source, transaction_id="TXN_00000001").attributes["tags"] == [
        1,
        1,
    ]


def test_an_item_whose_id_holds_a_lone_surrogate_is_reported_with_the_id_escaped(scorer, active_model):
    text = json.dumps({"transactions": [prototype_body(1), prototype_body(transaction_id="x")]})

    response = post_raw(scorer, BATCH, text.replace('"x"', '"\\ud800"'))

    assert response.status_code == 200, response.content
    assert json.loads(response.content)["errors"][0]["transaction_id"] == "\ud800"
    assert response.json()["counts"] == {"received": 2, "created": 1, "existing": 0, "invalid": 1}


def test_a_refusal_that_echoes_a_lone_surrogate_is_a_400_not_a_500(scorer, active_model):
    scorer.post(SCORE, prototype_body(1), format="json")

    response = post_raw(scorer, "/api/v1/transactions/TXN_00000001/label", '{"label": "\\ud800"}')

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "label"


def test_an_id_that_is_no_text_or_number_is_echoed_as_null(scorer, active_model):
    response = scorer.post("/api/v1/labels", {"labels": [{"transaction_id": {}, "label": "fraud"}]}, format="json")

    assert response.status_code == 200
    assert response.json()["errors"][0]["transaction_id"] is None
