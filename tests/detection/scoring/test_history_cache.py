"""The history cache gives batch scoring exactly the rows an SQL read would, whatever other connections do.

Each test compares the cached frame with the SQL frame (`HISTORY_CACHE` off) for the same batch, after the kind of
write that could make a cache drift: rows committed by another connection, a label given later, a delete, a
transaction that commits after the cache looked, the caller's own uncommitted rows, a truncate.
"""

import threading
from datetime import timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from detection.engine.features import FeatureSpec, build_features
from detection.engine.frame import PLACE_COLUMNS
from detection.scoring import adapters, registry
from detection.scoring import history as cache_module
from detection.scoring.adapters import StoredRows
from detection.scoring.api_services import transactions_score_batch
from detection.scoring.services import score_transactions
from detection.training.services import model_version_activate, model_version_train
from tests.detection.conftest import START, store_history
from tests.factories import default_organisation
from transactions.models import Channel, LabelSource, Source, Transaction
from transactions.services import transaction_label, transactions_ingest_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.HISTORY_CACHE = True
    cache_module._CACHES.clear()
    yield
    cache_module._CACHES.clear()


def _org() -> int:
    return default_organisation().pk


def frames(batch, settings, *, from_cache: bool = True):
    """The batch's frame through the cache and through SQL."""
    settings.HISTORY_CACHE = True
    cached = adapters.frame_for_transactions(batch, organisation_id=_org())
    (cache,) = cache_module._CACHES.values()
    assert (cache.floor is not None) == from_cache  # the cache answered (or, when told, could not)
    settings.HISTORY_CACHE = False
    direct = adapters.frame_for_transactions(batch, organisation_id=_org())
    settings.HISTORY_CACHE = True
    return cached, direct


def assert_same(cached, direct):
    """The same rows with the same values and targets; the order of a frame's rows carries no meaning."""
    (frame_a, mask_a), (frame_b, mask_b) = cached, direct
    assert frame_a.keys() == frame_b.keys()
    order_a, order_b = np.argsort(frame_a["row_id"]), np.argsort(frame_b["row_id"])
    for name in frame_a:
        floats = frame_a[name].dtype.kind == "f"
        assert np.array_equal(frame_a[name][order_a], frame_b[name][order_b], equal_nan=floats), name
    assert np.array_equal(mask_a[order_a], mask_b[order_b])


def latest_batch(size: int = 80) -> list[Transaction]:
    return list(Transaction.objects.order_by("-timestamp", "-id")[:size])


def row(source, tx_id: str, account: str, merchant: str, *, days: float, amount: str = "25.00") -> Transaction:
    return Transaction(
        source=source,
        transaction_id=tx_id,
        timestamp=START + timedelta(days=days),
        account_id=account,
        amount=Decimal(amount),
        merchant_id=merchant,
        channel=Channel.ONLINE,
        country="FR",
    )


def in_other_connection(work):
    """Run `work` in a thread, on that thread's own database connection, and wait for it."""
    errors = []

    def run():
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not errors, errors


def cache_rows() -> int:
    (cache,) = cache_module._CACHES.values()
    return int(cache.rows.view("alive").sum())


@pytest.mark.parametrize("all_keys_up_to", [0, cache_module.ALL_KEYS_UP_TO])  # categories: the used keys, or all
def test_a_batch_reads_the_same_history_from_the_cache_as_from_sql(settings, monkeypatch, all_keys_up_to):
    monkeypatch.setattr(cache_module, "ALL_KEYS_UP_TO", all_keys_up_to)
    store_history(accounts=30, days=20)
    batch = latest_batch()
    assert len(batch) == 80
    cached, direct = frames(batch, settings)
    assert_same(cached, direct)
    assert cached[1].sum() == 80
    assert cache_rows() > len(cached[0]["row_id"]) > 80
    # the cache's text comes coded, SQL's spelled out; the engine gives both the same features
    assert isinstance(cached[0]["account_id"], pd.Categorical) and direct[0]["account_id"].dtype == object
    assert np.array_equal(
        build_features(cached[0], target_mask=cached[1]).X[np.argsort(cached[0]["row_id"][cached[1]])],
        build_features(direct[0], target_mask=direct[1]).X[np.argsort(direct[0]["row_id"][direct[1]])],
    )


def test_stored_targets_read_by_scattered_primary_keys_give_the_frame_of_the_model_instances(settings):
    store_history(accounts=30, days=20)
    batch = latest_batch(200)[::7]  # ids far apart: the range read must still find each one and no other
    settings.HISTORY_CACHE = False
    by_pk = adapters.frame_for_stored(StoredRows(pks=[t.pk for t in reversed(batch)]), organisation_id=_org())
    assert_same(by_pk, adapters.frame_for_transactions(batch, organisation_id=_org()))
    assert by_pk[1].sum() == len(batch)
    frame, targets = adapters.frame_for_stored(StoredRows(), organisation_id=_org())
    assert len(frame["row_id"]) == 0 and len(targets) == 0


def test_rows_labels_and_deletes_committed_by_another_connection_reach_the_cache(settings):
    store_history(accounts=30, days=20)
    batch = latest_batch()
    frames(batch, settings)  # fills the cache
    account, merchant = batch[0].account_id, batch[0].merchant_id
    labelled = Transaction.objects.filter(account_id=account).order_by("timestamp")[3]
    deleted = Transaction.objects.filter(merchant_id=merchant).exclude(pk__in=[t.pk for t in batch]).first()

    def write():
        source = Source.objects.get(name="test-history")
        Transaction.objects.bulk_create([row(source, "other-1", account, merchant, days=19.1)])
        transaction_label(transaction=labelled, label=1, source=LabelSource.REPORTED)
        Transaction.objects.filter(pk=deleted.pk).delete()

    in_other_connection(write)
    cached, direct = frames(batch, settings)
    assert_same(cached, direct)
    ids = cached[0]["row_id"]
    assert Transaction.objects.get(transaction_id="other-1").pk in ids
    assert deleted.pk not in ids
    position = np.flatnonzero(ids == labelled.pk)[0]
    assert cached[0]["label"][position] == 1


def test_a_transaction_committed_after_the_cache_looked_is_still_seen(settings):
    store_history(accounts=30, days=20)
    batch = latest_batch()
    frames(batch, settings)
    inserted, release, finished = threading.Event(), threading.Event(), threading.Event()
    account, merchant = batch[0].account_id, batch[0].merchant_id

    def slow_writer():
        with transaction.atomic():
            source = Source.objects.get(name="test-history")
            Transaction.objects.bulk_create([row(source, "slow-1", account, merchant, days=19.2)])
            inserted.set()
            release.wait(10)
        finished.set()

    thread = threading.Thread(target=lambda: (slow_writer(), connection.close()))
    thread.start()
    assert inserted.wait(10)
    in_other_connection(
        lambda: Transaction.objects.bulk_create(
            [row(Source.objects.get(name="test-history"), "fast-1", account, merchant, days=19.3)]
        )
    )
    cached, direct = frames(batch, settings)  # the cache looks while slow-1 is uncommitted
    assert_same(cached, direct)
    assert not Transaction.objects.filter(transaction_id="slow-1").exists()
    release.set()
    assert finished.wait(10)
    thread.join()
    cached, direct = frames(batch, settings)
    assert_same(cached, direct)
    assert Transaction.objects.get(transaction_id="slow-1").pk in cached[0]["row_id"]


def test_the_callers_own_uncommitted_rows_count_but_are_not_cached(settings):
    store_history(accounts=30, days=20)
    batch = latest_batch()
    frames(batch, settings)
    before = cache_rows()
    with transaction.atomic():
        source = Source.objects.get(name="test-history")
        mine = Transaction.objects.bulk_create(
            [row(source, f"mine-{i}", batch[i].account_id, batch[i].merchant_id, days=19.5) for i in range(70)]
        )
        cached, direct = frames(mine, settings)
        assert_same(cached, direct)
        assert cached[1].sum() == 70
        transaction_label(transaction=batch[0], label=1, source=LabelSource.REPORTED)  # a cached row, changed here
        cached, direct = frames(batch, settings)
        assert_same(cached, direct)
        assert cached[0]["label"][cached[0]["row_id"] == batch[0].pk].tolist() == [1.0]
        transaction.set_rollback(True)
    assert cache_rows() == before
    cached, direct = frames(batch, settings)
    assert_same(cached, direct)
    assert not np.isin([t.pk for t in mine], cached[0]["row_id"]).any()


def test_a_truncated_table_empties_the_cache(settings):
    store_history(accounts=30, days=20)
    frames(latest_batch(), settings)
    assert cache_rows() > 0
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE transactions_transaction CASCADE")
    store_history(accounts=30, days=20, seed=1)
    cached, direct = frames(latest_batch(), settings)
    assert_same(cached, direct)
    assert cache_rows() == Transaction.objects.count()


def test_history_older_than_the_cache_and_a_cache_too_large_fall_back_to_sql(settings):
    store_history(accounts=30, days=20)
    frames(latest_batch(), settings)
    oldest = list(Transaction.objects.order_by("timestamp")[:80])
    assert_same(*frames(oldest, settings))  # refilled further back, still the same rows
    cache_module._CACHES.clear()
    settings.HISTORY_CACHE_MAX_ROWS = 100
    assert_same(*frames(latest_batch(), settings, from_cache=False))


def test_an_older_batch_extends_the_cache_downwards_instead_of_refilling_it(settings, monkeypatch):
    store_history(accounts=30, days=20)
    frames(latest_batch(), settings)
    (cache,) = cache_module._CACHES.values()
    floor, kept = cache.floor, cache_rows()
    fills = []
    monkeypatch.setattr(cache, "_fill", lambda *args: fills.append(args) or False)
    oldest = list(Transaction.objects.order_by("timestamp")[:80])
    assert_same(*frames(oldest, settings))
    assert not fills and cache.floor < floor and cache_rows() >= kept  # only the older slice was read
    for batch in (latest_batch(), oldest, latest_batch(40)):  # back and forth: the same rows as SQL each time
        assert_same(*frames(batch, settings))
    assert not fills


def test_an_older_batch_after_the_cache_gave_up_on_its_look_reads_sql(settings):
    store_history(accounts=30, days=20)
    frames(latest_batch(), settings)
    (cache,) = cache_module._CACHES.values()
    cache.max_rows = cache.rows.size  # the next row committed elsewhere is one too many
    account, merchant = latest_batch(1)[0].account_id, latest_batch(1)[0].merchant_id

    def write():
        source = Source.objects.get(name="test-history")
        Transaction.objects.bulk_create([row(source, "late-1", account, merchant, days=19.2)])

    in_other_connection(write)
    oldest = list(Transaction.objects.order_by("timestamp")[:80])
    assert_same(*frames(oldest, settings, from_cache=False))


def test_a_batch_scored_through_the_cache_gets_the_scores_of_the_sql_path(settings):
    store_history(accounts=30, days=20)
    model_version_activate(
        version=model_version_train(organisation=default_organisation(), until=START + timedelta(days=18), seed=0)
    )
    batch = latest_batch()
    settings.HISTORY_CACHE = False
    with transaction.atomic():
        direct = {s.transaction_id: s.score for s in score_transactions(transactions=batch)}
        transaction.set_rollback(True)
    settings.HISTORY_CACHE = True
    cached = {s.transaction_id: s.score for s in score_transactions(transactions=batch)}
    assert cached == direct


def ingested_rows(batch: list[Transaction], *, places: bool = False) -> list[dict]:
    """Raw rows as a partner sends them, with what can round on the way into the database: 3-decimal amounts,
    microseconds and offsets, coordinates, labels, attributes of every JSON type; with `places`, card-not-present
    places on some rows (lower-case countries, padded postal codes, long coordinates)."""
    rows = []
    for i, tx in enumerate(batch):
        moment = tx.timestamp + timedelta(hours=2, microseconds=123457 * (i + 1))
        rows.append(
            {
                "transaction_id": f"sent-{i}",
                "timestamp": moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
                "account_id": tx.account_id,
                "merchant_id": tx.merchant_id if i % 5 else "",
                "amount": f"{12.345 + i * 1.0105:.3f}",
                "channel": ("online", "cp", "atm")[i % 3],
                "latitude": 48.123456789 + i / 7 if i % 4 else None,
                "longitude": 2.987654321 - i / 9 if i % 4 else None,
                "location_distance_km": i * 0.1 if i % 2 else None,
                "country": "fr" if i % 6 else "",
                "label": (None, 0, 1)[i % 3],
                "attributes": {"count": i, "ratio": i / 3, "big": 1e20, "flag": i % 2 == 0, "text": f"{i}.5"},
            }
        )
        if places and i % 3:
            rows[-1] |= {
                "billing_latitude": 48.856613 + i / 11,
                "billing_longitude": 2.352222,
                "billing_postal_code": f" 750{i % 20:02d} ",
                "billing_country": "fr",
                "shipping_latitude": 52.520008 - i / 13 if i % 2 else None,
                "shipping_longitude": 13.404954 if i % 2 else None,
                "shipping_postal_code": "10115" if i % 4 else "",
                "shipping_country": "de" if i % 2 else "",
                "ip_country": ("nl", "fr", "", "se")[i % 4],
            }
    return rows


# Every stored row labelled (a labelled file imported): the cache's fill then reads no missing label, or distance.
@pytest.mark.parametrize("history_labelled", [False, True])
def test_rows_this_transaction_stored_give_the_frame_read_back_from_the_database(
    settings, monkeypatch, history_labelled
):
    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 10)  # a batch this small reads through the cache too
    store_history(accounts=30, days=20)
    if history_labelled:
        Transaction.objects.update(label=0, labelled_at=START, location_distance_km=3)
    batch = latest_batch()
    frames(batch, settings)  # the cache is filled
    source = Source.objects.get(name="test-history")
    with transaction.atomic():
        ingested = transactions_ingest_rows(source=source, rows=ingested_rows(batch[:70]))
        written = {r.pk: r.stored for r in ingested}
        pks = list(written)
        assert all(r.created for r in ingested) and len(pks) == 70
        with CaptureQueriesContext(connection) as queries:
            given = adapters.frame_for_stored(
                StoredRows(pks=pks, written=written, written_source_id=batch[0].source_id), organisation_id=_org()
            )
        sql = [q["sql"] for q in queries]
        assert any("SELECT count(*)" in q for q in sql)  # through the cache, which counts this transaction's rows
        assert not [q for q in sql if "change_txid = txid_current_if_assigned())" in q]  # and does not read them
        settings.HISTORY_CACHE = False  # the rows as SQL reads them
        assert_same(given, adapters.frame_for_stored(StoredRows(pks=pks), organisation_id=_org()))
        assert given[1].sum() == 70 and np.isfinite(given[0]["label_known_ts"]).sum() > 40
        transaction.set_rollback(True)


def test_rows_with_places_this_transaction_stored_give_the_frame_read_back_from_the_database(settings, monkeypatch):
    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 10)
    store_history(accounts=30, days=20)
    batch = latest_batch()
    Transaction.objects.filter(pk__in=[t.pk for t in batch[::2]]).update(ip_country="FR", shipping_latitude=45.5)
    frames(batch, settings)
    source = Source.objects.get(name="test-history")
    with transaction.atomic():
        ingested = transactions_ingest_rows(source=source, rows=ingested_rows(batch[:70], places=True))
        written = {r.pk: r.stored for r in ingested}
        assert all(r.created for r in ingested)
        given = adapters.frame_for_stored(
            StoredRows(pks=list(written), written=written, written_source_id=source.pk), organisation_id=_org()
        )
        settings.HISTORY_CACHE = False
        assert_same(given, adapters.frame_for_stored(StoredRows(pks=list(written)), organisation_id=_org()))
        assert set(PLACE_COLUMNS) <= set(given[0])
        assert "FR" in given[0]["ip_country"].tolist() and "NL" in given[0]["ip_country"].tolist()
        transaction.set_rollback(True)


@pytest.mark.parametrize("all_keys_up_to", [0, cache_module.ALL_KEYS_UP_TO])
def test_a_batch_reads_the_same_places_from_the_cache_as_from_sql(settings, monkeypatch, all_keys_up_to):
    monkeypatch.setattr(cache_module, "ALL_KEYS_UP_TO", all_keys_up_to)
    store_history(accounts=30, days=20)
    some = Transaction.objects.filter(account_id__in=["acct-001", "acct-002"])
    some.update(billing_country="FR", billing_postal_code="75001", billing_latitude=48.85, billing_longitude=2.35)
    some.filter(amount__gt=40).update(shipping_country="DE", shipping_postal_code="10115", ip_country="NL")
    batch = latest_batch()
    cached, direct = frames(batch, settings)
    assert_same(cached, direct)
    assert {"billing_country", "billing_latitude", "ip_country"} <= set(cached[0])
    assert "shipping_latitude" not in cached[0]  # no row has one
    assert cached[0]["ip_country"].dtype == object  # spelled out from the cache's codes, as the engine compares them
    spec = FeatureSpec(card_not_present=True)
    assert np.array_equal(
        build_features(cached[0], target_mask=cached[1], spec=spec).X[np.argsort(cached[0]["row_id"][cached[1]])],
        build_features(direct[0], target_mask=direct[1], spec=spec).X[np.argsort(direct[0]["row_id"][direct[1]])],
    )


def test_rows_stored_beside_other_writes_of_the_transaction_are_read_back(settings, monkeypatch):
    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 10)
    store_history(accounts=30, days=20)
    batch = latest_batch()
    frames(batch, settings)
    source = Source.objects.get(name="test-history")
    with transaction.atomic():
        transaction_label(transaction=batch[0], label=1, source=LabelSource.REPORTED)  # a cached row, changed here
        ingested = transactions_ingest_rows(source=source, rows=ingested_rows(batch[:70]))
        written = {r.pk: r.stored for r in ingested}
        with CaptureQueriesContext(connection) as queries:
            stored = StoredRows(pks=[*written, batch[0].pk], written=written, written_source_id=batch[0].source_id)
            given = adapters.frame_for_stored(stored, organisation_id=_org())
        assert [q for q in queries if "change_txid = txid_current_if_assigned())" in q["sql"]]  # read: not all known
        assert_same(given, adapters.frame_for_stored(StoredRows(pks=[*written, batch[0].pk]), organisation_id=_org()))
        assert given[0]["label"][given[0]["row_id"] == batch[0].pk].tolist() == [1.0]
        transaction.set_rollback(True)


@pytest.fixture
def scored_history(settings, monkeypatch):
    """History in a filled cache, an active model, and the source batches are sent from: (latest rows, source)."""
    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 10)  # a batch this small reads through the cache too
    store_history(accounts=30, days=20)
    model_version_activate(
        version=model_version_train(organisation=default_organisation(), until=START + timedelta(days=18), seed=0)
    )
    batch = latest_batch()
    frames(batch, settings)
    return batch, Source.objects.get(name="test-history")


def test_a_batch_committed_on_its_own_is_taken_into_the_cache_without_being_read_back(settings, scored_history):
    batch, source = scored_history
    (cache,) = cache_module._CACHES.values()
    fetched, fetch = [], cache._fetch

    def recording(*args, **kwargs):
        rows = fetch(*args, **kwargs)
        fetched.append(rows["id"])
        return rows

    cache._fetch = recording
    before = cache_rows()
    answer = transactions_score_batch(source=source, rows=ingested_rows(batch[:70]))
    assert answer["counts"]["created"] == 70
    assert cache_rows() == before + 70  # taken in at commit
    sent = Transaction.objects.filter(transaction_id__startswith="sent-")
    cached, direct = frames(list(sent), settings)
    assert_same(cached, direct)
    assert not any(np.isin(sent.values_list("pk", flat=True), ids).any() for ids in fetched)  # never read back
    assert cache_rows() == before + 70


def test_a_batch_inside_a_callers_transaction_is_read_back_after_it_commits(settings, scored_history):
    batch, source = scored_history
    before = cache_rows()
    with transaction.atomic():  # the caller may still write here: nothing is adopted
        transactions_score_batch(source=source, rows=ingested_rows(batch[:70]))
        transaction_label(transaction=Transaction.objects.get(transaction_id="sent-3"), label=1, source="reported")
    assert cache_rows() == before
    sent = list(Transaction.objects.filter(transaction_id__startswith="sent-"))
    cached, direct = frames(sent, settings)
    assert_same(cached, direct)
    assert cache_rows() == before + 70
    assert cached[0]["label"][cached[0]["row_id"] == next(t.pk for t in sent if t.transaction_id == "sent-3")] == 1


def test_rows_a_look_has_read_are_not_adopted_twice(settings, monkeypatch):
    monkeypatch.setattr(adapters, "COPY_THRESHOLD", 1)
    store_history(accounts=30, days=20)
    frames(latest_batch(), settings)
    (cache,) = cache_module._CACHES.values()
    with transaction.atomic():
        mine = Transaction.objects.bulk_create(
            [
                row(Source.objects.get(name="test-history"), f"mine-{i}", "acct-001", "m-001", days=19.5)
                for i in range(3)
            ]
        )
        frames(mine, settings)  # a look in this transaction: its id is pending
        txid = cache.snapshot.own
        rows = adapters._columns_from_tuples(
            [
                (
                    t.pk,
                    t.timestamp.timestamp(),
                    t.account_id,
                    t.merchant_id,
                    25.0,
                    "online",
                    "FR",
                    "",
                    None,
                    None,
                    None,
                    None,
                    None,
                    t.source_id,
                    *(None, None, None, None),  # the places: coordinates, then codes
                    *("", "", "", "", ""),
                )
                for t in mine
            ]
        )
    before = cache_rows()
    frames(mine, settings)  # a look after the commit reads the rows
    assert cache_rows() == before + 3
    cache._adopt(txid, cache._coded(rows))  # too late: already read
    assert cache_rows() == before + 3


def test_batches_scored_one_after_another_get_the_scores_of_the_sql_path(settings, scored_history):
    batch, source = scored_history
    rows = ingested_rows(batch)
    for start in (0, 40):  # the second batch's history holds the first one, committed (and adopted) by the cache
        answer = transactions_score_batch(source=source, rows=rows[start : start + 40])
    cached = {item["transaction_id"]: item["score"] for item in answer["results"]}
    second = list(Transaction.objects.filter(transaction_id__in=cached))
    settings.HISTORY_CACHE = False
    frame, targets = adapters.frame_for_transactions(second, organisation_id=_org())
    output = registry.active_model(organisation_id=_org()).detector.score_frame(frame, targets)
    by_pk = {t.pk: t.transaction_id for t in second}
    direct = {by_pk[pk]: round(float(v), 6) for pk, v in zip(frame["row_id"][targets], output.score, strict=True)}
    assert len(cached) == 40 and cached == direct


@pytest.mark.parametrize("seed", range(4))
def test_the_cache_finds_ids_among_its_rows_as_isin_does(seed):
    rng = np.random.default_rng(seed)
    values = rng.permutation(5_000)[: rng.integers(1, 3_000)].astype(np.int64)
    ids = rng.choice(6_000, rng.integers(1, 500), replace=False).astype(np.int64)
    ids[0] = 10_000 if seed == 3 else ids[0]  # an id above every value
    np.testing.assert_array_equal(cache_module._isin_ids(values, ids), np.isin(values, ids))
