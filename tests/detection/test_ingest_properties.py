"""Property-based garbage through every ingest path (issue #22): the batch endpoint, a file import and a job's chunks.

Whatever is mixed into valid transactions (values of any JSON shape in any field, nesting, NUL characters, lone
surrogates, numbers past float, items that are not objects), nothing escapes as a 500 or an exception, every valid
item is stored once and scored once, and every invalid one is reported by its index (or row). The one-dict rules
(`transaction_clean`, tested field by field elsewhere) are the oracle of which items are valid; what is checked
here is that every path keeps to them end to end. Each example runs in a savepoint rolled back afterwards.
"""

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction as db
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection.models import Score, ScoringJob
from tests.detection.jobs.test_jobs import run_job
from tests.factories import default_organisation
from transactions.models import Source, Transaction
from transactions.services import source_get_or_create, transactions_import_file
from transactions.validation import transaction_clean

BATCH = "/api/v1/transactions/score/batch"
START = datetime(2026, 3, 11, tzinfo=UTC)  # after the session model's history
EXAMPLES = {"batch": 200, "import": 150, "job": 50}
INFINITY = "<<1e309>>"  # written into the JSON text as a number no float holds: Python reads it as inf

FIELDS = ["transaction_id", "timestamp", "account_id", "user_id", "amount", "currency", "merchant_id", "channel"]
FIELDS += ["latitude", "longitude", "location_distance_km", "country", "device_id", "label", "attributes"]
EXTRA = ["transaction_count_1h", "total_amount_24h", "note", "tags"]
PROPERTY = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

text = st.text(max_size=12)  # any code point: NUL and lone surrogates included
file_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # a CSV file is UTF-8 text
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**15), max_value=10**15).map(str),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)


def deep(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"d": value}
    return value


garbage_values = st.one_of(
    json_values,
    st.integers(min_value=2, max_value=12).map(deep),
    st.sampled_from(
        ["0001-01-01 00:00:00", "9999-12-31T23:59:59Z", "1_000", "١٢", "\ud800", "a\x00b", ["a"], float("inf")]
    ),
)
moments = st.integers(min_value=0, max_value=9 * 86400).map(lambda s: (START + timedelta(seconds=s)).isoformat())
valid_items = st.fixed_dictionaries(
    {
        "timestamp": moments,
        # The history's accounts, and new ones without any (a frame of the items alone).
        "account_id": st.sampled_from(["new-1", "acct-000", "acct-007", "new-2"]),
        "amount": st.one_of(
            st.decimals(min_value=0, max_value=5000, places=2).map(str), st.floats(min_value=0, max_value=5000)
        ),
    },
    optional={
        "merchant_id": st.sampled_from(["new-m", "m-001", 17]),
        "channel": st.sampled_from(["online", "in_person", "CNP", 0, 1, True]),
        "latitude": st.floats(min_value=-90, max_value=90),
        "country": st.sampled_from(["FR", "de"]),
        "transaction_count_1h": st.integers(min_value=0, max_value=50),
        "note": file_text,
    },
)
mutated_items = st.builds(
    lambda item, key, value: item | {key: value}, valid_items, st.sampled_from(FIELDS + EXTRA), garbage_values
)
not_objects = st.one_of(st.integers(), text, st.lists(st.integers(), max_size=2), st.none())
# Objects, most of them spoiled, and now and then something that is no object, anywhere in the list; often every
# object also carries one extra field of the same shape (a partner's own field, say a list in each).
shared = st.one_of(st.none(), st.tuples(st.sampled_from(EXTRA), st.lists(scalars, max_size=2) | json_values))
objects = st.builds(
    lambda listed, extra: [item | dict([extra]) for item in listed] if extra else listed,
    st.lists(st.one_of(valid_items, mutated_items, mutated_items), min_size=1, max_size=10),
    shared,
)
items = objects.flatmap(
    lambda listed: st.lists(not_objects, max_size=2).flatmap(lambda others: st.permutations(listed + others))
)


def with_ids(raw: list) -> list:
    """Each object its own id (by position) unless the example chose one, so valid items never collide."""
    return [
        item if not isinstance(item, dict) or "transaction_id" in item else {**item, "transaction_id": f"p{i}"}
        for i, item in enumerate(raw)
    ]


def json_text(value) -> str:
    """JSON as a client may send it: lone surrogates escaped, infinities written as 1e309 (no float holds it)."""

    def encode(item):
        if isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            return None if item != item else (INFINITY if item > 0 else "-" + INFINITY)
        if isinstance(item, dict):
            return {key: encode(value) for key, value in item.items()}
        if isinstance(item, list):
            return [encode(value) for value in item]
        return item

    return json.dumps(encode(value)).replace(f'"{INFINITY}"', "1e309").replace(f'"-{INFINITY}"', "-1e309")


def as_parsed(raw: list) -> list:
    """What the server reads from json_text (NaN is sent as null)."""
    return json.loads(json_text(raw))


def valid_positions(parsed: list) -> set[int]:
    return {index for index, item in enumerate(parsed) if transaction_clean(item).ok}


def scored_once(source: Source) -> dict[str, int]:
    """The source's stored transaction ids, each with its count of scores."""
    stored = Transaction.objects.filter(source=source)
    return {tx.transaction_id: Score.objects.filter(transaction=tx).count() for tx in stored}


@pytest.fixture
def rollback_each():
    """Each example in its own savepoint, rolled back: the same clean database for every one."""

    class Rollback:
        def __enter__(self):
            self.atomic = db.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc):
            db.set_rollback(True)
            self.atomic.__exit__(*exc)

    return Rollback


# ---------------------------------------------------------------- the batch endpoint


@hypothesis_settings(PROPERTY, max_examples=EXAMPLES["batch"])
@given(raw=items)
def test_the_batch_endpoint_reports_every_bad_item_and_stores_and_scores_every_good_one_once(
    scorer, active_model, rollback_each, raw
):
    raw = with_ids(raw)
    parsed = as_parsed(raw)
    with rollback_each():
        response = scorer.post(BATCH, '{"transactions": ' + json_text(raw) + "}", content_type="application/json")

        assert response.status_code == 200, response.content
        body = response.json()
        good = valid_positions(parsed)
        assert {r["index"] for r in body["results"]} == good
        assert {e["index"] for e in body["errors"]} == set(range(len(parsed))) - good
        assert all(
            e["errors"] and all({"field", "reason", "code"} <= set(f) for f in e["errors"]) for e in body["errors"]
        )
        expected = {transaction_clean(parsed[i]).data["transaction_id"] for i in good}
        assert scored_once(scorer.token.source) == dict.fromkeys(expected, 1)


# ---------------------------------------------------------------- files: an import and a job


COLUMNS = ["transaction_id", "timestamp", "account_id", "amount", "channel", "note", "transaction_count_1h"]
file_cells = st.one_of(file_text, st.sampled_from(["0001-01-01 00:00:00", "1_000", "-5", "Infinity", "1e400", ""]))
file_rows = st.lists(
    st.builds(
        lambda item, key, value: {**item, key: value} if key else item,
        valid_items,
        st.sampled_from([None, None, *COLUMNS[1:]]),
        file_cells,
    ),
    min_size=1,
    max_size=12,
)


def write_csv(path, rows: list[dict]) -> list[dict]:
    """The rows as CSV text cells (what the file path reads), each with its own id; returns them as written."""
    cells = [
        {name: "" if row.get(name) is None else str(row[name]) for name in COLUMNS} | {"transaction_id": f"f{n}"}
        for n, row in enumerate(rows, start=1)
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(cells)
    return cells


def file_oracle(cells: list[dict]) -> tuple[set[str], set[int]]:
    """(ids of the valid rows, numbers of the invalid ones) by the one-dict rules, empty cells being missing."""
    verdicts = {n: transaction_clean({k: v for k, v in row.items() if v != ""}) for n, row in enumerate(cells, 1)}
    return {cells[n - 1]["transaction_id"] for n, v in verdicts.items() if v.ok}, {
        n for n, v in verdicts.items() if not v.ok
    }


MAPPING = {"transaction_id": "transaction_id", "timestamp": "timestamp", "account_id": "account_id", "amount": "amount"}


@hypothesis_settings(PROPERTY, max_examples=EXAMPLES["import"])
@given(rows=file_rows)
def test_an_import_reports_every_bad_row_and_stores_every_good_one_once(db, tmp_path, rollback_each, rows):
    cells = write_csv(tmp_path / "rows.csv", rows)
    good, bad = file_oracle(cells)
    with rollback_each():
        source = source_get_or_create(organisation=default_organisation(), name="property-import")
        summary = transactions_import_file(
            source=source,
            path=tmp_path / "rows.csv",
            mapping=MAPPING | {"channel": "channel"},
            attributes=["note", "transaction_count_1h"],
            workers=1,
        )

        assert {error.row for error in summary.errors} == bad
        assert (summary.rows, summary.stored, summary.rejected) == (len(cells), len(good), len(bad))
        assert set(Transaction.objects.filter(source=source).values_list("transaction_id", flat=True)) == good


@hypothesis_settings(PROPERTY, max_examples=EXAMPLES["job"])
@given(rows=file_rows)
def test_a_job_reports_every_bad_row_and_stores_and_scores_every_good_one_once(
    scorer, active_model, tmp_path, rollback_each, settings, rows
):
    settings.JOB_CHUNK_ROWS = 5
    cells = write_csv(tmp_path / "rows.csv", rows)
    good, bad = file_oracle(cells)
    with rollback_each():
        job = ScoringJob.objects.create(
            source=scorer.token.source,
            token=scorer.token,
            file_path=str(tmp_path / "rows.csv"),
            file_format="csv",
            mapping=MAPPING | {"channel": "channel"},
            attributes=["note", "transaction_count_1h"],
        )

        job = run_job(job.pk)  # the split, then every chunk's ingest and scoring, called directly

        assert (job.status, job.error) == ("done", "")
        assert (job.total_rows, job.error_rows, job.created_rows) == (len(cells), len(bad), len(good))
        errors = [error for chunk in job.chunks.order_by("index") for error in chunk.errors]
        assert {error["row"] for error in errors} == bad
        assert scored_once(scorer.token.source) == dict.fromkeys(good, 1)
